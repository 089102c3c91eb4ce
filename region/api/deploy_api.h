/* REST handlers for deploy and release (region/api/machines_deploy.c,
 * docs/deploy.md): POST /machines/{id}/deploy and /release. The bodies'
 * parsers are pure (unit-tested by tests/unit/test_deploy_api.c). */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "region/api/codec.h"

struct api_call;

void api_machine_deploy(struct api_call *call);
void api_machine_release(struct api_call *call);

/* {"image": NAME, "user_data"?: TEXT, "ssh_keys"?: [KEY...], "comment"?: TEXT} */
struct api_deploy_body {
	char image[64];
	char *user_data;     /* malloc'd, "" when absent */
	char *ssh_keys_json; /* malloc'd JSON array of the keys */
	char comment[512];
};
/* body may be NULL (no body: image is then missing). -EINVAL with fail. */
int api_deploy_body_parse(const json_t *body, struct api_deploy_body *ret, struct api_fail *fail);
void api_deploy_body_free(struct api_deploy_body *b);

/* {"erase"?: "none" | "quick" | "full", "comment"?: TEXT}; erase "" for
 * none. body may be NULL. -EINVAL with fail. */
int api_release_body_parse(const json_t *body, char erase[8], char comment[512], struct api_fail *fail);
