/* The pure part of `machines deploy|release`: options into request
 * bodies. See deploy_cli.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/deploy_cli.h"
#include "region/cli/machines_cli.h"

static void set_new(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v) < 0)
		oom_abort(0);
}

/* --comment into body: -EINVAL when too long or not UTF-8. */
static int comment_add(const struct cli_args *a, json_t *body, char *err, size_t errlen)
{
	const char *comment = cli_opt_value(a, CLI_OPT_COMMENT);

	if (!(a->given & CLI_OPT_COMMENT) || !comment)
		return 0;
	if (strlen(comment) > CLI_MACHINES_COMMENT_MAX) {
		snprintf(err, errlen, "--comment is longer than %d bytes", CLI_MACHINES_COMMENT_MAX);
		return -EINVAL;
	}
	json_t *c = json_string(comment);
	if (!c) {
		snprintf(err, errlen, "--comment is not UTF-8 text");
		return -EINVAL;
	}
	set_new(body, "comment", c);
	return 0;
}

static int deploy_fill(const struct cli_args *a, const char *user_data, size_t user_data_len, json_t *body, char *err,
		       size_t errlen)
{
	const char *image = cli_opt_value(a, CLI_OPT_IMAGE);
	const char *keys[CLI_DEPLOY_SSH_KEYS_MAX];

	if (!(a->given & CLI_OPT_IMAGE) || !image || !image[0]) {
		snprintf(err, errlen, "--image NAME is required (ironrack images list shows them)");
		return -EINVAL;
	}
	json_t *v = json_string(image);
	if (!v) {
		snprintf(err, errlen, "--image is not UTF-8 text");
		return -EINVAL;
	}
	set_new(body, "image", v);
	if (user_data) {
		if (user_data_len > CLI_DEPLOY_USER_DATA_MAX) {
			snprintf(err, errlen, "--user-data: the file is larger than %d bytes",
				 CLI_DEPLOY_USER_DATA_MAX);
			return -EINVAL;
		}
		if (memchr(user_data, '\0', user_data_len) || !(v = json_stringn(user_data, user_data_len))) {
			snprintf(err, errlen, "--user-data: the file is not UTF-8 text");
			return -EINVAL;
		}
		set_new(body, "user_data", v);
	}
	size_t n = cli_opt_values(a, CLI_OPT_SSH_KEY, keys, CLI_DEPLOY_SSH_KEYS_MAX);
	if (n > CLI_DEPLOY_SSH_KEYS_MAX) {
		snprintf(err, errlen, "--ssh-key: at most %d keys", CLI_DEPLOY_SSH_KEYS_MAX);
		return -EINVAL;
	}
	if (n) {
		json_t *arr = json_array();
		set_new(body, "ssh_keys", arr);
		for (size_t i = 0; i < n; i++) {
			if (!keys[i][0] || strpbrk(keys[i], "\r\n") || !(v = json_string(keys[i]))) {
				snprintf(err, errlen, "--ssh-key: a key is one line of UTF-8 text (\"%.40s\"...)",
					 keys[i]);
				return -EINVAL;
			}
			if (json_array_append_new(arr, v) < 0)
				oom_abort(0);
		}
	}
	return comment_add(a, body, err, errlen);
}

int cli_deploy_body(const struct cli_args *a, const char *user_data, size_t user_data_len, json_t **ret, char *err,
		    size_t errlen)
{
	json_t *body = json_object();

	if (!body)
		oom_abort(0);
	if (deploy_fill(a, user_data, user_data_len, body, err, errlen) < 0) {
		json_decref(body);
		return -EINVAL;
	}
	*ret = body;
	return 0;
}

int cli_release_body(const struct cli_args *a, json_t **ret, char *err, size_t errlen)
{
	const char *erase = cli_opt_value(a, CLI_OPT_ERASE);
	json_t *body = json_object();

	if (!body)
		oom_abort(0);
	if (a->given & CLI_OPT_ERASE) {
		if (!erase ||
		    (strcmp(erase, "quick") != 0 && strcmp(erase, "full") != 0 && strcmp(erase, "none") != 0)) {
			snprintf(err, errlen, "--erase wants quick, full or none, not \"%.40s\"", erase ? erase : "");
			json_decref(body);
			return -EINVAL;
		}
		set_new(body, "erase", json_string(erase));
	}
	if (comment_add(a, body, err, errlen) < 0) {
		json_decref(body);
		return -EINVAL;
	}
	*ret = body;
	return 0;
}
