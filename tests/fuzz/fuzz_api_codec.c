/* libFuzzer target for the REST API codec (region/api/codec.c): what a
 * client sends that the codec reads — request bodies (bytes -> json_loadb
 * as the API loads them -> the config push and boot config checks) and
 * header or query text (Authorization: Bearer, integers).
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_api_codec tests/fuzz/corpus/api_codec
 *
 * The input is a request body, and the same bytes as NUL-terminated text
 * for the text parsers. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "region/api/codec.h"
#include "tests/fuzz/fuzz.h"

/* A refusal always says why, within its buffers. */
static void check_fail(int r, const struct api_fail *fail)
{
	if (r == -EINVAL) {
		CHECK(memchr(fail->field, '\0', sizeof(fail->field)) != NULL);
		CHECK(memchr(fail->message, '\0', sizeof(fail->message)) != NULL);
		CHECK(fail->message[0] != '\0');
	}
}

static void check_body(const json_t *body)
{
	struct api_fail fail;
	json_t *settings = NULL;

	memset(&fail, 0, sizeof(fail));
	int r = api_config_body_check(body, &settings, &fail);
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	check_fail(r, &fail);
	if (r == 0) {
		/* What was accepted is what the region pushes: an object of
		 * strings, at most API_SETTINGS_MAX of them. */
		const char *key;
		json_t *v;
		CHECK(json_is_object(settings) && json_object_size(settings) <= API_SETTINGS_MAX);
		json_object_foreach(settings, key, v)
		{
			CHECK(json_is_string(v));
			CHECK(strlen(key) <= API_SETTING_KEY_MAX);
		}
	}
	/* The boot configs check also on its own (an array anywhere). */
	if (json_is_array(body)) {
		memset(&fail, 0, sizeof(fail));
		r = api_boot_configs_check(body, &fail);
		CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
		check_fail(r, &fail);
	}
}

static void check_text(const char *s)
{
	char key[API_KEY_MAX];
	long v;

	int r = api_bearer_parse(s, key, sizeof(key));
	CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
	if (r == 0)
		CHECK(key[0] != '\0' && strlen(key) < sizeof(key) && strchr(key, ' ') == NULL);
	r = api_long_parse(s, 0, 1000, &v);
	CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0)
		CHECK(v >= 0 && v <= 1000);
	r = api_long_parse(s, LONG_MIN, LONG_MAX, &v);
	CHECK(r == 0 || r == -EINVAL || r == -ERANGE);

	/* An error reply carries any text the client sent, and is JSON. */
	json_t *e = api_error_new("invalid_argument", s, s);
	if (e) {
		char *text = json_dumps(e, JSON_COMPACT);
		CHECK(text != NULL);
		json_t *back = json_loads(text, 0, NULL);
		CHECK(back != NULL && json_equal(back, e));
		json_decref(back);
		free(text);
		json_decref(e);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	char msg[300];

	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (body) {
		check_body(body);
		json_decref(body);
	} else {
		api_json_error_format(&jerr, msg, sizeof(msg));
		CHECK(memchr(msg, '\0', sizeof(msg)) != NULL);
	}

	char *s = fuzz_text(data, size);
	check_text(s);
	free(s);
	return 0;
}
