/* libFuzzer target for the network model's REST codec
 * (region/api/net_codec.c): request bodies of every kind, create and
 * update, list filters and subnet path segments.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_api_net_codec tests/fuzz/corpus/api_net_codec
 *
 * The input is a request body (json_loadb as the API loads it), and the
 * same bytes as NUL-terminated text for every filter of every kind and as
 * a subnet path segment. What is accepted is canonical: the text a value
 * becomes parses again to the same text. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "region/api/net_codec.h"
#include "tests/fuzz/fuzz.h"

/* The bodies of the subnet actions (net_subnet.c), which use the same
 * parser with tables of their own. */
static const char *const modes[] = {"auto", "static", "dhcp", "discovered", "unconfigured", NULL};
static const struct net_field action_fields[] = {
    {"ip", NET_T_INET, 0, 0, 0, NULL, 0},
    {"mode", NET_T_ENUM, 0, 0, 0, modes, 0},
    {"hostname", NET_T_TEXT, 0, 0, 255, NULL, 0},
    {"comment", NET_T_TEXT, 0, 0, 1024, NULL, 0},
    {"interface", NET_T_REF, 0, 0, 0, NULL, NET_INTERFACE},
    {"rack", NET_T_REF, 0, 0, 0, NULL, NET_KIND_N},
    {"rack_interface", NET_T_TEXT, 0, 1, 15, NULL, 0},
    {"subnet", NET_T_REF, NET_F_REQUIRED, 0, 0, NULL, NET_SUBNET},
};
static const struct net_kind_info action_info = {
    "address request", NULL, NULL, 0, action_fields, sizeof(action_fields) / sizeof(action_fields[0]), NULL, 0, false,
};

/* Types whose accepted text is itself a valid JSON string input. */
static bool is_text_type(enum net_type t)
{
	return t == NET_T_NAME || t == NET_T_HOST || t == NET_T_INET || t == NET_T_CIDR || t == NET_T_MAC ||
	       t == NET_T_TIME || t == NET_T_ENUM || t == NET_T_TEXT;
}

static void check_canonical(const struct net_field *f, const char *text)
{
	struct api_fail fail;
	char *again = NULL;

	if (!text || !is_text_type(f->type))
		return;
	json_t *v = json_string(text);
	if (!v)
		return;
	int r = api_net_value_parse(f, v, &again, &fail);
	CHECK(r == 0 || r == -ENOMEM);
	if (r == 0)
		CHECK(again && strcmp(again, text) == 0);
	free(again);
	json_decref(v);
}

static void check_body(const struct net_kind_info *k, const json_t *body, bool create)
{
	struct api_net_body b;
	struct api_fail fail;

	memset(&fail, 0, sizeof(fail));
	int r = api_net_body_parse(k, body, create, &b, &fail);
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL) {
		CHECK(fail.message[0] != '\0');
		CHECK(memchr(fail.message, '\0', sizeof(fail.message)) != NULL);
		return;
	}
	if (r < 0)
		return;
	CHECK(create || b.in.given != 0);
	for (size_t i = 0; i < k->n_fields; i++) {
		bool given = b.in.given & (1u << i);
		CHECK(given || b.in.val[i] == NULL);
		if (create && (k->fields[i].flags & NET_F_REQUIRED))
			CHECK(b.in.val[i] != NULL);
		if (!create && (k->fields[i].flags & NET_F_CREATE))
			CHECK(!given);
		if (given && !b.in.val[i])
			CHECK(k->fields[i].flags & NET_F_NULLABLE);
		check_canonical(&k->fields[i], b.in.val[i]);
	}
	api_net_body_done(&b);
}

static void check_text(const char *s)
{
	char key[256];

	for (int kind = 0; kind < NET_KIND_N; kind++) {
		const struct net_kind_info *k = net_kind_info((enum net_kind)kind);
		for (size_t i = 0; i < k->n_filters; i++) {
			struct api_fail fail;
			char *out = NULL;
			int r = api_net_filter_parse(&k->filters[i], s, &out, &fail);
			CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
			CHECK(r == 0 || out == NULL);
			free(out);
		}
	}
	api_net_subnet_key(s, key, sizeof(key));
	CHECK(strlen(key) < sizeof(key));
	api_net_subnet_key(s, key, 4);
	CHECK(strlen(key) < 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (body) {
		for (int kind = 0; kind < NET_KIND_N; kind++) {
			check_body(net_kind_info((enum net_kind)kind), body, true);
			check_body(net_kind_info((enum net_kind)kind), body, false);
		}
		check_body(&action_info, body, true);
		json_decref(body);
	}

	char *s = fuzz_text(data, size);
	check_text(s);
	free(s);
	return 0;
}
