/* libFuzzer target for the Redfish JSON codec (rack/power/redfish_codec.c):
 * everything a BMC sends the power driver.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_redfish_json tests/fuzz/corpus/redfish_json
 *
 * The first byte picks the decoder (its value modulo 6, so the seeds'
 * '0'..'5': service root, collection, ComputerSystem, ActionInfo, error
 * body, or all of them);
 * the rest is the document, passed with its length and no NUL at its end
 * (a copy of exactly that size, so ASan sees a read past it). What a
 * decoder hands back is then used the way the driver uses it: links are
 * paths on the service, strings are terminated, the ResetType choice and
 * the request bodies are built from a decoded system. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rack/power/redfish_codec.h"
#include "tests/fuzz/fuzz.h"

static void check_link(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	CHECK(n < size);
	CHECK(n == 0 || (s[0] == '/' && s[1] != '/'));
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] > 0x20 && s[i] != 0x7f && s[i] != '\\');
}

static void check_msg(int r, const char *msg)
{
	CHECK(r == 0 || r == -EINVAL || r == -EBADMSG);
	if (r < 0)
		CHECK(msg[0] != '\0');
}

static void fuzz_root(const char *doc, size_t len)
{
	struct redfish_root root;
	char msg[256] = "";
	int r = redfish_root_decode(doc, len, &root, msg, sizeof(msg));

	check_msg(r, msg);
	if (r == 0) {
		check_link(root.systems, sizeof(root.systems));
		check_link(root.sessions, sizeof(root.sessions));
	}
}

static void fuzz_collection(const char *doc, size_t len)
{
	struct redfish_collection c;
	char msg[256] = "";
	int r = redfish_collection_decode(doc, len, &c, msg, sizeof(msg));

	check_msg(r, msg);
	if (r == 0) {
		CHECK(c.kept <= REDFISH_MEMBERS_MAX && c.kept <= c.n);
		for (size_t i = 0; i < c.kept; i++) {
			check_link(c.members[i], sizeof(c.members[i]));
			CHECK(c.members[i][0] == '/');
		}
	}
}

static void check_json(char *body)
{
	if (!body)
		return;
	json_t *j = json_loads(body, 0, NULL);
	CHECK(json_is_object(j));
	json_decref(j);
	free(body);
}

static void use_system(struct redfish_system *s)
{
	static const enum power_action actions[] = {POWER_ON, POWER_OFF, POWER_CYCLE};
	static const struct power_boot boots[] = {
	    {POWER_BOOT_PXE, false, true}, {POWER_BOOT_DISK, true, false}, {POWER_BOOT_PXE, true, false}};
	char msg[256];
	bool guessed, unchanged, skipped;

	check_link(s->reset_target, sizeof(s->reset_target));
	check_link(s->action_info, sizeof(s->action_info));
	CHECK(strnlen(s->etag, sizeof(s->etag)) < sizeof(s->etag) && !strpbrk(s->etag, "\r\n"));
	CHECK(strnlen(s->power_raw, sizeof(s->power_raw)) < sizeof(s->power_raw));
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		msg[0] = '\0';
		const char *t = redfish_reset_choose(actions[i], s, &guessed, msg, sizeof(msg));
		CHECK(t || msg[0] != '\0');
		CHECK(!guessed || !s->reset_advertised);
		if (t)
			check_json(redfish_reset_body(t));
	}
	for (size_t i = 0; i < sizeof(boots) / sizeof(boots[0]); i++) {
		msg[0] = '\0';
		char *b = redfish_boot_body(&boots[i], s, &unchanged, &skipped, msg, sizeof(msg));
		CHECK(b || msg[0] != '\0');
		check_json(b);
	}
}

static void fuzz_system(const char *doc, size_t len)
{
	struct redfish_system s;
	char msg[256] = "";
	int r = redfish_system_decode(doc, len, &s, msg, sizeof(msg));

	check_msg(r, msg);
	if (r == 0)
		use_system(&s);
}

static void fuzz_action_info(const char *doc, size_t len)
{
	struct redfish_system s;
	char msg[256] = "";

	memset(&s, 0, sizeof(s));
	int r = redfish_action_info_decode(doc, len, &s, msg, sizeof(msg));
	check_msg(r, msg);
	if (r == 0)
		use_system(&s);
}

static void fuzz_error(const char *doc, size_t len)
{
	char out[512];
	int r = redfish_error_decode(doc, len, out, sizeof(out));

	CHECK(r == 0 || r == -EINVAL || r == -EBADMSG);
	size_t n = strnlen(out, sizeof(out));
	CHECK(n < sizeof(out));
	CHECK(r == 0 ? n > 0 : n == 0);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
	/* Still UTF-8 after truncation: jansson takes it back as a string. */
	json_t *j = json_string(out);
	CHECK(j != NULL);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const decoders[])(const char *, size_t) = {fuzz_root, fuzz_collection, fuzz_system,
								 fuzz_action_info, fuzz_error};
	const size_t n = sizeof(decoders) / sizeof(decoders[0]);

	if (size < 1)
		return 0;
	unsigned which = data[0] % (n + 1);
	size_t len = size - 1;
	char *doc = xmalloc(len ? len : 1); /* exactly the document: no NUL after it */
	memcpy(doc, data + 1, len);
	for (size_t i = 0; i < n; i++)
		if (which == n || which == i)
			decoders[i](doc, len);
	free(doc);
	return 0;
}
