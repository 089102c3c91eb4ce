/* libFuzzer target for multicast DNS (common/wire/mdns.c): whole frames
 * (Ethernet, IPv4, UDP) and bare messages.
 *
 *   make fuzz                          every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_mdns tests/fuzz/corpus/mdns
 *
 * Every input is read both as a frame (and its payload as a message) and
 * as a message. What a message yields must be a clean `*.local` name and
 * at most the pairs asked for; those pairs, written again as an
 * uncompressed response of A and AAAA records, must parse back to the
 * same names and addresses. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/wire/bytes.h"
#include "common/wire/mdns.h"
#include "tests/fuzz/fuzz.h"

#define MAX_PAIRS 8

static struct mdns_host hosts[MAX_PAIRS], again[MAX_PAIRS];
static uint8_t msg[MAX_PAIRS * (MDNS_NAME_WIRE_MAX + 10 + 16) + MDNS_HDR_LEN];

static void check_name(const char *name)
{
	size_t len = strnlen(name, MDNS_NAME_TEXT_MAX + 1);
	CHECK(len > 6 && len <= MDNS_NAME_TEXT_MAX);
	CHECK(strcasecmp(name + len - 6, ".local") == 0);
	for (size_t i = 0; i < len; i++)
		CHECK(name[i] > 0x20 && name[i] < 0x7f && name[i] != '\\');
	CHECK(strstr(name, "..") == NULL && name[0] != '.');
}

/* The pairs as a fresh response; they must come back unchanged. */
static void check_rebuild(size_t n)
{
	size_t off = MDNS_HDR_LEN;
	memset(msg, 0, MDNS_HDR_LEN);
	be_put16(msg + 2, 0x8400);
	be_put16(msg + 6, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		int w = mdns_name_encode(hosts[i].name, msg + off, sizeof(msg) - off);
		CHECK(w > 0);
		off += (size_t)w;
		be_put16(msg + off, hosts[i].is_v6 ? 28 : 1);
		be_put16(msg + off + 2, 1);
		be_put32(msg + off + 4, hosts[i].ttl);
		be_put16(msg + off + 8, hosts[i].is_v6 ? 16 : 4);
		off += 10;
		if (hosts[i].is_v6) {
			memcpy(msg + off, hosts[i].v6, 16);
			off += 16;
		} else {
			be_put32(msg + off, hosts[i].v4);
			off += 4;
		}
	}
	struct mdns_result res;
	CHECK(mdns_parse(msg, off, again, MAX_PAIRS, &res, NULL) == 0);
	CHECK(res.n == n && res.found == n && res.skipped == 0);
	for (size_t i = 0; i < n; i++) {
		CHECK(strcmp(again[i].name, hosts[i].name) == 0);
		CHECK(again[i].is_v6 == hosts[i].is_v6 && again[i].ttl == hosts[i].ttl);
		if (hosts[i].is_v6)
			CHECK(memcmp(again[i].v6, hosts[i].v6, 16) == 0);
		else
			CHECK(again[i].v4 == hosts[i].v4);
	}
}

static void check_message(const uint8_t *data, size_t size, size_t max)
{
	struct mdns_result res;
	const char *why = NULL;
	int r = mdns_parse(data, size, hosts, max, &res, &why);

	CHECK(r == 0 || r == -EBADMSG || r == -ENOMSG);
	if (r == -EBADMSG)
		CHECK(why != NULL && why[0] != '\0');
	if (r != 0)
		return;
	CHECK(res.n <= max && res.n <= res.found);
	CHECK(res.found == res.n || res.n == max);
	/* every pair costs at least a record of 11 bytes + 4 of address */
	CHECK((res.found + res.skipped) * 11 <= size);
	for (size_t i = 0; i < res.n; i++)
		check_name(hosts[i].name);
	check_rebuild(res.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mdns_frame f;
	const char *why = NULL;
	int r = mdns_frame_parse(data, size, &f, &why);

	CHECK(r == 0 || r == -EBADMSG || r == -ENOMSG);
	if (r == 0) {
		CHECK(f.payload >= data + ETH_HDR_LEN + 28 && f.payload + f.len <= data + size);
		CHECK(f.sport == MDNS_PORT || f.dport == MDNS_PORT);
		check_message(f.payload, f.len, MAX_PAIRS);
	}
	check_message(data, size, size % 2 ? MAX_PAIRS : 2);
	return 0;
}
