/* libFuzzer target for the region's HTTP request handling up to the
 * handler: routing and the UTF-8 checks of path parameters and query
 * (api_request_route, region/api/route.c), the 400/404/405 answers built
 * from them, the Authorization header (api_bearer_parse) and a JSON body
 * (jansson, then the error text quoted in the 400).
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_api_http tests/fuzz/corpus/api_http
 *
 * Input: one byte of method bits, then the request URI up to a '\n', then
 * header lines "Name: value\n" up to an empty line, then the body. What
 * must hold: every answer the dispatcher would build is encodable JSON
 * (bytes that are not UTF-8 used to make it a 500), and nothing a handler
 * would be given — path parameters, query names and values, body strings —
 * is anything but UTF-8. api_utf8_valid is checked against jansson's own
 * UTF-8 check. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "region/api/codec.h"
#include "region/api/route.h"
#include "tests/fuzz/fuzz.h"

/* A subset of api_routes in region/api/http.c: every shape of pattern. */
static const struct api_route routes[] = {
    {.pattern = "/api/v1/version", .methods = API_GET, .public = true},
    {.pattern = "/api/v1/racks/{id}", .methods = API_GET},
    {.pattern = "/api/v1/racks/{id}/ping", .methods = API_POST},
    {.pattern = "/api/v1/zones", .methods = API_GET | API_POST},
    {.pattern = "/api/v1/zones/{id}", .methods = API_GET | API_PATCH | API_DELETE},
    {.pattern = "/api/v1/subnets/{id}/allocate-ip", .methods = API_POST},
    {.pattern = "/api/v1/machines", .methods = API_GET | API_POST},
    {.pattern = "/api/v1/machines/{id}/power/actions/{action}", .methods = API_GET},
    {.pattern = "/api/v1/interfaces/{id}/links/{link}", .methods = API_DELETE},
    {.pattern = "/api/v1/infrastructures/{name}/connections/{array}/{port}/{net}", .methods = API_DELETE},
    {.pattern = "/api/v1/images/{name}/data", .methods = API_PUT},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* api_utf8_valid agrees with jansson, which refuses invalid UTF-8 too. */
static bool utf8_ok(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	bool valid = j != NULL;
	json_decref(j);
	CHECK(api_utf8_valid(s, len) == valid);
	return valid;
}

/* The error answer as the dispatcher records it: sanitised, then JSON. */
static void check_answer(const char *code, const char *field, const char *message)
{
	char clean[512], clean_field[API_PARAM_MAX + 1];

	api_utf8_sanitize(message, clean, sizeof(clean));
	CHECK(utf8_ok(clean, strlen(clean)));
	if (strlen(message) < sizeof(clean) / 4)
		CHECK(!api_utf8_valid(message, strlen(message)) || strcmp(clean, message) == 0);
	if (field) {
		api_utf8_sanitize(field, clean_field, sizeof(clean_field));
		CHECK(utf8_ok(clean_field, strlen(clean_field)));
	}
	json_t *err = api_error_new(code, clean, field ? clean_field : NULL);
	CHECK(err != NULL);
	char *text = json_dumps(err, JSON_COMPACT);
	CHECK(text != NULL);
	free(text);
	json_decref(err);
}

static void check_route(unsigned method, const char *path, const char *query)
{
	struct api_match m;
	struct api_input_error bad;
	char msg[512];

	int rc = api_request_route(routes, N_ROUTES, method, path, query, &m, &bad);
	switch (rc) {
	case -EILSEQ:
		CHECK(bad.field[0] != '\0');
		CHECK(utf8_ok(bad.field, strlen(bad.field)) && utf8_ok(bad.message, strlen(bad.message)));
		check_answer("invalid_argument", bad.field, bad.message);
		return;
	case 0:
		for (size_t i = 0; i < m.n_params; i++)
			CHECK(utf8_ok(m.params[i], strlen(m.params[i])));
		break;
	case -ENOENT:
		snprintf(msg, sizeof(msg), "no such endpoint: %.200s", path);
		check_answer("not_found", NULL, msg);
		break;
	case -EOPNOTSUPP:
		snprintf(msg, sizeof(msg), "%s is not allowed on %.200s", api_method_name(method), path);
		check_answer("method_not_allowed", NULL, msg);
		break;
	default:
		CHECK(0);
	}
	/* What a handler would parse out of the query is UTF-8 throughout. */
	if (!query)
		return;
	struct evkeyvalq kv;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(query, &kv) == 0) {
		struct evkeyval *e;
		TAILQ_FOREACH(e, &kv, next)
		{
			CHECK(utf8_ok(e->key, strlen(e->key)));
			CHECK(utf8_ok(e->value, strlen(e->value)));
		}
	}
	evhttp_clear_headers(&kv);
}

static void check_strings(const json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (depth > 64)
		return;
	if (json_is_string(j))
		CHECK(api_utf8_valid(json_string_value(j), json_string_length(j)));
	json_object_foreach((json_t *)j, k, v)
	{
		CHECK(api_utf8_valid(k, strlen(k)));
		check_strings(v, depth + 1);
	}
	json_array_foreach(j, i, v) check_strings(v, depth + 1);
}

static void check_body(const char *body, size_t len)
{
	json_error_t jerr;
	char msg[300];

	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		api_json_error_format(&jerr, msg, sizeof(msg));
		check_answer("invalid_json", NULL, msg);
		return;
	}
	check_strings(j, 0);
	json_decref(j);
}

static void check_headers(char *h, char *end)
{
	char key[API_KEY_MAX + 1];

	while (h < end) {
		char *nl = memchr(h, '\n', (size_t)(end - h));
		char *line_end = nl ? nl : end;
		*line_end = '\0';
		char *colon = strchr(h, ':');
		if (colon && strncasecmp(h, "Authorization", (size_t)(colon - h)) == 0 && colon - h == 13) {
			if (api_bearer_parse(colon + 1, key, sizeof(key)) == 0) {
				CHECK(key[0] && strlen(key) <= API_KEY_MAX);
				for (const char *p = key; *p; p++)
					CHECK(*p > ' ' && *p < 0x7f);
			}
		}
		h = line_end + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned method = data[0] & 0x7f;
	char *text = fuzz_text(data + 1, size - 1), *end = text + size - 1;

	/* The request line's URI: path, then '?' query, then '#' fragment. */
	char *nl = memchr(text, '\n', (size_t)(end - text));
	char *uri_end = nl ? nl : end;
	*uri_end = '\0';
	char *frag = strchr(text, '#');
	if (frag)
		*frag = '\0';
	char *query = strchr(text, '?');
	if (query)
		*query++ = '\0';
	const char *path = *text ? text : "/";
	check_route(method, path, query);
	check_route(API_GET, path, query);

	/* Headers up to an empty line, then the body. */
	char *h = nl ? nl + 1 : end, *body = end;
	for (char *p = h; p < end;) {
		char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			break;
		if (e == p) {
			body = e + 1;
			break;
		}
		p = e + 1;
	}
	size_t body_len = (size_t)(end - body);
	char *body_copy = fuzz_text((const uint8_t *)body, body_len);
	check_headers(h, body == end ? end : body - 1);
	check_body(body_copy, body_len);
	free(body_copy);
	free(text);
	return 0;
}
