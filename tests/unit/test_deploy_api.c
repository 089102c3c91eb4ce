/* The bodies of POST /machines/{id}/deploy and /release
 * (region/api/machines_deploy.c) and the deployed_when check
 * (region/machine/deploy.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region/api/deploy_api.h"
#include "region/db/deploy_db.h"
#include "region/machine/machine.h"
#include "region/machine/nocloud.h"

static json_t *load(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j)
		fail_msg("%s: %s", text, je.text);
	return j;
}

static int deploy(const char *text, struct api_deploy_body *b, struct api_fail *fail)
{
	json_t *j = text ? load(text) : NULL;
	memset(fail, 0, sizeof(*fail));
	int rc = api_deploy_body_parse(j, b, fail);
	json_decref(j);
	return rc;
}

static void test_deploy_ok(void **state)
{
	struct api_deploy_body b;
	struct api_fail fail;

	assert_int_equal(deploy("{\"image\": \"debian-12.5+x_y\", \"user_data\": \"#cloud-config\\n\", \"ssh_keys\": "
				"[\"ssh-ed25519 AAA a@b\", \"ssh-rsa B\"], \"comment\": \"web\"}",
				&b, &fail),
			 0);
	assert_string_equal(b.image, "debian-12.5+x_y");
	assert_string_equal(b.user_data, "#cloud-config\n");
	assert_string_equal(b.ssh_keys_json, "[\"ssh-ed25519 AAA a@b\",\"ssh-rsa B\"]");
	assert_string_equal(b.comment, "web");
	api_deploy_body_free(&b);
	assert_null(b.user_data);

	/* Defaults: no user-data, no keys. */
	assert_int_equal(deploy("{\"image\": \"i\"}", &b, &fail), 0);
	assert_string_equal(b.user_data, "");
	assert_string_equal(b.ssh_keys_json, "[]");
	assert_string_equal(b.comment, "");
	api_deploy_body_free(&b);
}

static void test_deploy_refused(void **state)
{
	static const struct {
		const char *body, *field, *msg;
	} bad[] = {
	    {NULL, "image", "image is required"},
	    {"{}", "image", "image is required"},
	    {"[]", "", "the body must be a JSON object"},
	    {"{\"image\": 5}", "image", "image must be an image's name"},
	    {"{\"image\": \"\"}", "image", "image must be an image's name"},
	    {"{\"image\": \"a/b\"}", "image", "image must be an image's name"},
	    {"{\"image\": \"-a\"}", "image", "image must be an image's name"},
	    {"{\"image\": \"0123456789012345678901234567890123456789012345678901234567890123\"}", "image",
	     "image must be an image's name"},
	    {"{\"image\": \"i\", \"user_data\": 1}", "user_data", "user_data must be a string of at most 65536 bytes"},
	    {"{\"image\": \"i\", \"user_data\": \"a\\u0000b\"}", "user_data",
	     "user_data must be a string of at most 65536 bytes"},
	    {"{\"image\": \"i\", \"ssh_keys\": \"k\"}", "ssh_keys", "ssh_keys must be an array of strings"},
	    {"{\"image\": \"i\", \"ssh_keys\": [\"\"]}", "ssh_keys",
	     "ssh_keys[0]: a key is a string of 1 to 16384 characters"},
	    {"{\"image\": \"i\", \"ssh_keys\": [\"a\", 2]}", "ssh_keys",
	     "ssh_keys[1]: a key is a string of 1 to 16384 characters"},
	    {"{\"image\": \"i\", \"ssh_keys\": [\"ssh-rsa A\\nssh-rsa B\"]}", "ssh_keys",
	     "ssh_keys[0]: a key is one line without control characters"},
	    {"{\"image\": \"i\", \"comment\": 1}", "comment", "comment must be a string"},
	    {"{\"image\": \"i\", \"hostname\": \"x\"}", "hostname",
	     "unknown field 'hostname'; deploy takes image, user_data, ssh_keys and comment"},
	};
	struct api_deploy_body b;
	struct api_fail fail;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (deploy(bad[i].body, &b, &fail) != -EINVAL)
			fail_msg("accepted: %s", bad[i].body ? bad[i].body : "(none)");
		if (strcmp(fail.field, bad[i].field) != 0 || strcmp(fail.message, bad[i].msg) != 0)
			fail_msg("%s: %s / %s", bad[i].body ? bad[i].body : "(none)", fail.field, fail.message);
		assert_null(b.user_data);
		assert_null(b.ssh_keys_json);
	}

	/* The limits themselves are taken, one more is not. */
	char *ud = calloc(1, DEPLOY_USER_DATA_MAX + 2);
	memset(ud, 'u', DEPLOY_USER_DATA_MAX);
	json_t *j = json_pack("{s:s, s:s}", "image", "i", "user_data", ud);
	assert_int_equal(api_deploy_body_parse(j, &b, &fail), 0);
	assert_int_equal(strlen(b.user_data), DEPLOY_USER_DATA_MAX);
	api_deploy_body_free(&b);
	ud[DEPLOY_USER_DATA_MAX] = 'u';
	json_object_set_new(j, "user_data", json_string(ud));
	assert_int_equal(api_deploy_body_parse(j, &b, &fail), -EINVAL);
	assert_string_equal(fail.field, "user_data");
	json_object_del(j, "user_data");
	free(ud);
	json_t *keys = json_array();
	for (int i = 0; i < DEPLOY_SSH_KEYS_MAX; i++)
		json_array_append_new(keys, json_string("ssh-rsa K"));
	json_object_set(j, "ssh_keys", keys);
	assert_int_equal(api_deploy_body_parse(j, &b, &fail), 0);
	api_deploy_body_free(&b);
	json_array_append_new(keys, json_string("ssh-rsa K"));
	assert_int_equal(api_deploy_body_parse(j, &b, &fail), -EINVAL);
	assert_string_equal(fail.message, "ssh_keys: at most 32 keys");
	json_decref(keys);
	json_decref(j);
}

static void test_release(void **state)
{
	char erase[8], comment[512];
	struct api_fail fail = {0};
	json_t *j;

	assert_int_equal(api_release_body_parse(NULL, erase, comment, &fail), 0);
	assert_string_equal(erase, "");
	j = load("{\"erase\": \"full\", \"comment\": \"bye\"}");
	assert_int_equal(api_release_body_parse(j, erase, comment, &fail), 0);
	assert_string_equal(erase, "full");
	assert_string_equal(comment, "bye");
	json_decref(j);
	j = load("{\"erase\": \"none\"}");
	assert_int_equal(api_release_body_parse(j, erase, comment, &fail), 0);
	assert_string_equal(erase, "");
	json_decref(j);
	j = load("{\"erase\": \"Quick\"}");
	assert_int_equal(api_release_body_parse(j, erase, comment, &fail), -EINVAL);
	assert_string_equal(fail.field, "erase");
	assert_string_equal(fail.message, "erase must be none, quick or full");
	json_decref(j);
	j = load("{\"erase\": true}");
	assert_int_equal(api_release_body_parse(j, erase, comment, &fail), -EINVAL);
	json_decref(j);
	j = load("{\"wipe\": \"quick\"}");
	assert_int_equal(api_release_body_parse(j, erase, comment, &fail), -EINVAL);
	assert_string_equal(fail.field, "wipe");
	json_decref(j);
}

static void test_deployed_when(void **state)
{
	char msg[128];

	assert_int_equal(region_machine_conf_check("boot", msg, sizeof(msg)), 0);
	assert_int_equal(region_machine_conf_check("dhcp", msg, sizeof(msg)), 0);
	assert_int_equal(region_machine_conf_check("DHCP", msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "deployed_when: must be boot or dhcp, not \"DHCP\"");
	assert_int_equal(region_machine_conf_check("", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(region_machine_conf_check(NULL, msg, sizeof(msg)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deploy_ok),
	    cmocka_unit_test(test_deploy_refused),
	    cmocka_unit_test(test_release),
	    cmocka_unit_test(test_deployed_when),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
