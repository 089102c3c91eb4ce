/* Multicast DNS responses (common/wire/mdns.c): frames captured from
 * avahi-daemon 0.8 in a network namespace, messages built here for each
 * rule (sections, classes, `.local`, reverse PTRs, the limit on pairs),
 * and every refusal: truncation, counts, compression loops and forward
 * pointers, reserved label types, long names, record data lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/wire/bytes.h"
#include "common/wire/mdns.h"
#include "common/wire/rawpkt.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define PAYLOAD_OFF    42 /* Ethernet 14 + IPv4 20 + UDP 8 */

/* avahi-daemon 0.8 announcing seedhost.local (192.0.2.2, fe80::ff:fe00:b02): A, AAAA and both reverse PTRs, cache-flush
 * set; the whole frame as captured */
static const uint8_t cap_mdns_announce[230] = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x08, 0x00, 0x45, 0x00, 0x00, 0xd8,
    0x1c, 0xaf, 0x40, 0x00, 0xff, 0x11, 0xbb, 0x67, 0xc0, 0x00, 0x02, 0x02, 0xe0, 0x00, 0x00, 0xfb, 0x14, 0xe9,
    0x14, 0xe9, 0x00, 0xc4, 0xa3, 0xd3, 0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x32, 0x01, 0x30, 0x01, 0x62, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x65, 0x01, 0x66, 0x01, 0x66,
    0x01, 0x66, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30,
    0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30,
    0x01, 0x30, 0x01, 0x30, 0x01, 0x38, 0x01, 0x65, 0x01, 0x66, 0x03, 0x69, 0x70, 0x36, 0x04, 0x61, 0x72, 0x70,
    0x61, 0x00, 0x00, 0x0c, 0x80, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x10, 0x08, 0x73, 0x65, 0x65, 0x64, 0x68,
    0x6f, 0x73, 0x74, 0x05, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0x00, 0xc0, 0x60, 0x00, 0x01, 0x80, 0x01, 0x00, 0x00,
    0x00, 0x78, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x02, 0x01, 0x32, 0x01, 0x32, 0x01, 0x30, 0x03, 0x31, 0x39, 0x32,
    0x07, 0x69, 0x6e, 0x2d, 0x61, 0x64, 0x64, 0x72, 0xc0, 0x50, 0x00, 0x0c, 0x80, 0x01, 0x00, 0x00, 0x00, 0x78,
    0x00, 0x02, 0xc0, 0x60, 0xc0, 0x60, 0x00, 0x1c, 0x80, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x10, 0xfe, 0x80,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x0b, 0x02,
};

/* the same avahi at SIGTERM: the same records with TTL 0 (goodbye) */
static const uint8_t cap_mdns_goodbye[230] = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x08, 0x00, 0x45, 0x00, 0x00, 0xd8,
    0x1d, 0xb6, 0x40, 0x00, 0xff, 0x11, 0xba, 0x60, 0xc0, 0x00, 0x02, 0x02, 0xe0, 0x00, 0x00, 0xfb, 0x14, 0xe9,
    0x14, 0xe9, 0x00, 0xc4, 0xa3, 0xd3, 0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x73, 0x65, 0x65, 0x64, 0x68, 0x6f, 0x73, 0x74, 0x05, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0x00, 0x00, 0x1c,
    0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xfe, 0x00, 0x0b, 0x02, 0x01, 0x32, 0x01, 0x30, 0x01, 0x62, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30,
    0x01, 0x65, 0x01, 0x66, 0x01, 0x66, 0x01, 0x66, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30,
    0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30,
    0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x38, 0x01, 0x65, 0x01, 0x66, 0x03, 0x69,
    0x70, 0x36, 0x04, 0x61, 0x72, 0x70, 0x61, 0x00, 0x00, 0x0c, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xc0, 0x0c, 0xc0, 0x0c, 0x00, 0x01, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x02,
    0x01, 0x32, 0x01, 0x32, 0x01, 0x30, 0x03, 0x31, 0x39, 0x32, 0x07, 0x69, 0x6e, 0x2d, 0x61, 0x64, 0x64, 0x72,
    0xc0, 0x7a, 0x00, 0x0c, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, 0x0c,
};

/* avahi probing for its names: a query (ANY seedhost.local, ...) with its tentative records in the authority section */
static const uint8_t cap_mdns_probe[248] = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb, 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x08, 0x00, 0x45, 0x00, 0x00, 0xea,
    0x1c, 0x20, 0x40, 0x00, 0xff, 0x11, 0xbb, 0xe4, 0xc0, 0x00, 0x02, 0x02, 0xe0, 0x00, 0x00, 0xfb, 0x14, 0xe9,
    0x14, 0xe9, 0x00, 0xd6, 0xa3, 0xe5, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,
    0x01, 0x32, 0x01, 0x30, 0x01, 0x62, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x65, 0x01, 0x66, 0x01, 0x66,
    0x01, 0x66, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30,
    0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30, 0x01, 0x30,
    0x01, 0x30, 0x01, 0x30, 0x01, 0x38, 0x01, 0x65, 0x01, 0x66, 0x03, 0x69, 0x70, 0x36, 0x04, 0x61, 0x72, 0x70,
    0x61, 0x00, 0x00, 0xff, 0x00, 0x01, 0x08, 0x73, 0x65, 0x65, 0x64, 0x68, 0x6f, 0x73, 0x74, 0x05, 0x6c, 0x6f,
    0x63, 0x61, 0x6c, 0x00, 0x00, 0xff, 0x00, 0x01, 0x01, 0x32, 0x01, 0x32, 0x01, 0x30, 0x03, 0x31, 0x39, 0x32,
    0x07, 0x69, 0x6e, 0x2d, 0x61, 0x64, 0x64, 0x72, 0xc0, 0x50, 0x00, 0xff, 0x00, 0x01, 0xc0, 0x5a, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x02, 0xc0, 0x6e, 0x00, 0x0c, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x78, 0x00, 0x02, 0xc0, 0x5a, 0xc0, 0x5a, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x78,
    0x00, 0x10, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x0b, 0x02,
    0xc0, 0x0c, 0x00, 0x0c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x02, 0xc0, 0x5a,
};

static const uint8_t fe80_b02[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0x00, 0x0b, 0x02};

/* ---- a small message builder ---- */

struct msg {
	uint8_t b[2048];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t len)
{
	assert_true(m->n + len <= sizeof(m->b));
	memcpy(m->b + m->n, p, len);
	m->n += len;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2];
	be_put16(b, v);
	put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
	uint8_t b[4];
	be_put32(b, v);
	put(m, b, 4);
}

static void hdr(struct msg *m, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	m->n = 0;
	put16(m, 0);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

static void name(struct msg *m, const char *text)
{
	int n = mdns_name_encode(text, m->b + m->n, sizeof(m->b) - m->n);
	assert_true(n > 0);
	m->n += (size_t)n;
}

static void rr_fixed(struct msg *m, uint16_t type, uint16_t class, uint32_t ttl, const void *rd, size_t rdlen)
{
	put16(m, type);
	put16(m, class);
	put32(m, ttl);
	put16(m, (uint16_t)rdlen);
	put(m, rd, rdlen);
}

static void rr(struct msg *m, const char *owner, uint16_t type, uint16_t class, uint32_t ttl, const void *rd,
	       size_t rdlen)
{
	name(m, owner);
	rr_fixed(m, type, class, ttl, rd, rdlen);
}

static void rr_a(struct msg *m, const char *owner, uint32_t addr)
{
	uint8_t rd[4];
	be_put32(rd, addr);
	rr(m, owner, 1, 0x8001, 120, rd, 4);
}

static void rr_ptr(struct msg *m, const char *owner, const char *target)
{
	uint8_t rd[256];
	int n = mdns_name_encode(target, rd, sizeof(rd));
	assert_true(n > 0);
	rr(m, owner, 12, 1, 120, rd, (size_t)n);
}

#define RESPONSE 0x8400 /* QR, AA */

static struct mdns_host out[16];

static int parse(const struct msg *m, struct mdns_result *res, const char **why)
{
	*why = NULL;
	return mdns_parse(m->b, m->n, out, 16, res, why);
}

/* ---- captured ---- */

static void test_mdns_captured_announce(void **state)
{
	struct mdns_frame f;
	struct mdns_result res;
	const char *why = NULL;

	assert_int_equal(mdns_frame_parse(cap_mdns_announce, sizeof(cap_mdns_announce), &f, &why), 0);
	assert_int_equal(f.src, IP(192, 0, 2, 2));
	assert_int_equal(f.dst, IP(224, 0, 0, 251));
	assert_int_equal(f.sport, 5353);
	assert_int_equal(f.dport, 5353);
	assert_ptr_equal(f.payload, cap_mdns_announce + PAYLOAD_OFF);
	assert_int_equal(f.len, sizeof(cap_mdns_announce) - PAYLOAD_OFF);
	assert_int_equal(f.eth.vlan, ETH_VLAN_NONE);
	assert_int_equal(f.eth.src[5], 0x02);

	assert_int_equal(mdns_parse(f.payload, f.len, out, 16, &res, &why), 0);
	assert_int_equal(res.n, 4);
	assert_int_equal(res.found, 4);
	assert_int_equal(res.skipped, 0);
	/* message order: reverse PTR (v6), A, reverse PTR (v4), AAAA */
	assert_int_equal(out[0].rr, MDNS_RR_PTR);
	assert_true(out[0].is_v6);
	assert_memory_equal(out[0].v6, fe80_b02, 16);
	assert_string_equal(out[0].name, "seedhost.local");
	assert_int_equal(out[1].rr, MDNS_RR_A);
	assert_false(out[1].is_v6);
	assert_int_equal(out[1].v4, IP(192, 0, 2, 2));
	assert_string_equal(out[1].name, "seedhost.local");
	assert_int_equal(out[1].ttl, 120);
	assert_int_equal(out[2].rr, MDNS_RR_PTR);
	assert_false(out[2].is_v6);
	assert_int_equal(out[2].v4, IP(192, 0, 2, 2));
	assert_int_equal(out[3].rr, MDNS_RR_AAAA);
	assert_memory_equal(out[3].v6, fe80_b02, 16);
	for (int i = 0; i < 4; i++)
		assert_true(out[i].ttl > 0);

	/* a limit of 2 keeps the first two and counts the rest */
	assert_int_equal(mdns_parse(f.payload, f.len, out, 2, &res, &why), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.found, 4);
	assert_int_equal(mdns_parse(f.payload, f.len, NULL, 0, &res, &why), 0);
	assert_int_equal(res.n, 0);
	assert_int_equal(res.found, 4);
}

static void test_mdns_captured_goodbye_and_probe(void **state)
{
	struct mdns_frame f;
	struct mdns_result res;
	const char *why = NULL;

	assert_int_equal(mdns_frame_parse(cap_mdns_goodbye, sizeof(cap_mdns_goodbye), &f, &why), 0);
	assert_int_equal(mdns_parse(f.payload, f.len, out, 16, &res, &why), 0);
	assert_int_equal(res.n, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(out[i].ttl, 0);
		assert_string_equal(out[i].name, "seedhost.local");
	}
	/* order AAAA, PTR, A, PTR: the A record's name is a compression
	 * pointer to the AAAA's */
	assert_int_equal(out[0].rr, MDNS_RR_AAAA);
	assert_int_equal(out[2].rr, MDNS_RR_A);
	assert_int_equal(out[2].v4, IP(192, 0, 2, 2));

	assert_int_equal(mdns_frame_parse(cap_mdns_probe, sizeof(cap_mdns_probe), &f, &why), 0);
	assert_int_equal(mdns_parse(f.payload, f.len, out, 16, &res, &why), -ENOMSG);
	assert_int_equal(res.found, 0);
}

/* Every cut of a captured message is refused, never read past. */
static void test_mdns_truncated(void **state)
{
	const uint8_t *msgs[] = {cap_mdns_announce + PAYLOAD_OFF, cap_mdns_goodbye + PAYLOAD_OFF};
	size_t lens[] = {sizeof(cap_mdns_announce) - PAYLOAD_OFF, sizeof(cap_mdns_goodbye) - PAYLOAD_OFF};
	struct mdns_result res;

	for (int k = 0; k < 2; k++) {
		for (size_t len = 0; len < lens[k]; len++) {
			/* a copy of exactly len bytes, so the sanitizer sees any overread */
			uint8_t *copy = test_malloc(len ? len : 1);
			memcpy(copy, msgs[k], len);
			const char *why = NULL;
			assert_int_equal(mdns_parse(copy, len, out, 16, &res, &why), -EBADMSG);
			assert_non_null(why);
			test_free(copy);
		}
	}
}

/* ---- frames ---- */

static void test_mdns_frame(void **state)
{
	uint8_t f[512];
	struct mdns_frame mf;
	const char *why;
	size_t n = sizeof(cap_mdns_announce);

	/* IPv4 options (IHL 6): the payload moves by 4 bytes */
	memcpy(f, cap_mdns_announce, 34);
	memset(f + 34, 0x01, 4); /* four NOP options */
	memcpy(f + 38, cap_mdns_announce + 34, n - 34);
	f[14] = 0x46;
	be_put16(f + 16, (uint16_t)(be_get16(cap_mdns_announce + 16) + 4));
	be_put16(f + 24, 0);
	be_put16(f + 24, rawpkt_csum(f + 14, 24, 0));
	assert_int_equal(mdns_frame_parse(f, n + 4, &mf, &why), 0);
	assert_ptr_equal(mf.payload, f + PAYLOAD_OFF + 4);
	assert_int_equal(mf.len, n - PAYLOAD_OFF);
	/* a bad IPv4 header checksum */
	f[24] ^= 0xff;
	assert_int_equal(mdns_frame_parse(f, n + 4, &mf, &why), -EBADMSG);

	/* other ports, protocols and EtherTypes are not ours */
	memcpy(f, cap_mdns_announce, n);
	be_put16(f + 34, 1234);
	be_put16(f + 36, 53);
	assert_int_equal(mdns_frame_parse(f, n, &mf, &why), -ENOMSG);
	memcpy(f, cap_mdns_announce, n);
	be_put16(f + 34, 1234); /* a legacy unicast reply goes to the querier's port */
	assert_int_equal(mdns_frame_parse(f, n, &mf, &why), 0);
	be_put16(f + 12, 0x86dd);
	assert_int_equal(mdns_frame_parse(f, n, &mf, &why), -ENOMSG);
	/* cuts of the frame: header cut is malformed */
	for (size_t len = 0; len < PAYLOAD_OFF; len++)
		assert_int_equal(mdns_frame_parse(cap_mdns_announce, len, &mf, &why), -EBADMSG);
}

/* ---- rules ---- */

static void test_mdns_sections_and_names(void **state)
{
	struct msg m;
	struct mdns_result res;
	const char *why;
	uint8_t a4[4] = {10, 0, 0, 9};

	/* a question, 3 answers, 1 authority, 2 additional */
	hdr(&m, RESPONSE, 1, 3, 1, 2);
	name(&m, "ask.local");
	put16(&m, 255);
	put16(&m, 1);
	rr_a(&m, "Box.LOCAL", IP(10, 0, 0, 1));			/* case kept, suffix without case */
	rr_a(&m, "box.example.com", IP(10, 0, 0, 2));		/* not .local: skipped */
	rr(&m, "odd.local", 1, 3, 120, a4, 4);			/* class CH: skipped */
	rr_a(&m, "tentative.local", IP(10, 0, 0, 3));		/* authority: not a claim */
	rr_ptr(&m, "_http._tcp.local", "web._http._tcp.local"); /* service PTR: skipped */
	rr_ptr(&m, "5.0.0.10.in-addr.arpa", "rev.local");
	assert_int_equal(parse(&m, &res, &why), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.skipped, 3);
	assert_string_equal(out[0].name, "Box.LOCAL");
	assert_int_equal(out[0].v4, IP(10, 0, 0, 1));
	assert_int_equal(out[1].rr, MDNS_RR_PTR);
	assert_string_equal(out[1].name, "rev.local");
	assert_int_equal(out[1].v4, IP(10, 0, 0, 5));

	/* names that cannot be shown are skipped, not refused */
	hdr(&m, RESPONSE, 0, 4, 0, 0);
	rr_a(&m, "with space.local", 1);
	rr_a(&m, "back\\slash.local", 2);
	rr_a(&m, "local", 3);
	/* a label holding a dot (only the wire form can say it) */
	put(&m,
	    "\x05"
	    "a.b.c"
	    "\x05"
	    "local",
	    12);
	put(&m, "", 1);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	assert_int_equal(parse(&m, &res, &why), 0);
	assert_int_equal(res.n, 0);
	assert_int_equal(res.skipped, 4);

	/* a message with no records, and a non-zero opcode */
	hdr(&m, RESPONSE, 0, 0, 0, 0);
	assert_int_equal(parse(&m, &res, &why), 0);
	assert_int_equal(res.found, 0);
	hdr(&m, RESPONSE | (2 << 11), 0, 0, 0, 0);
	assert_int_equal(parse(&m, &res, &why), -ENOMSG);
}

static void test_mdns_reverse_names(void **state)
{
	struct msg m;
	struct mdns_result res;
	const char *why;

	hdr(&m, RESPONSE, 0, 7, 0, 0);
	rr_ptr(&m, "255.0.168.192.in-addr.arpa", "a.local");
	rr_ptr(&m, "256.0.168.192.in-addr.arpa", "b.local"); /* octet over 255 */
	rr_ptr(&m, "01.0.168.192.in-addr.arpa", "c.local");  /* leading zero */
	rr_ptr(&m, "0.168.192.in-addr.arpa", "d.local");     /* three octets */
	rr_ptr(&m, "1.2.0.168.192.in-addr.arpa", "e.local"); /* five */
	rr_ptr(&m, "2.0.b.0.0.0.e.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.E.F.ip6.arpa", "f.local");
	rr_ptr(&m, "2.0.b.0.0.0.e.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa", "g.local"); /* 31 */
	assert_int_equal(parse(&m, &res, &why), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.skipped, 5);
	assert_string_equal(out[0].name, "a.local");
	assert_int_equal(out[0].v4, IP(192, 168, 0, 255));
	assert_string_equal(out[1].name, "f.local");
	assert_true(out[1].is_v6);
	assert_memory_equal(out[1].v6, fe80_b02, 16);
}

static void test_mdns_limit(void **state)
{
	struct msg m;
	struct mdns_result res;
	const char *why;

	hdr(&m, RESPONSE, 0, 40, 0, 0);
	for (int i = 0; i < 40; i++)
		rr_a(&m, "many.local", IP(10, 1, 0, i));
	assert_int_equal(parse(&m, &res, &why), 0);
	assert_int_equal(res.n, 16);
	assert_int_equal(res.found, 40);
	assert_int_equal(out[15].v4, IP(10, 1, 0, 15));
}

static void expect_bad(const struct msg *m, const char *reason)
{
	struct mdns_result res;
	const char *why;
	assert_int_equal(parse(m, &res, &why), -EBADMSG);
	assert_non_null(why);
	if (reason)
		assert_string_equal(why, reason);
}

static void test_mdns_compression_refused(void **state)
{
	struct msg m;
	uint8_t a4[4] = {10, 0, 0, 1};

	/* a pointer to itself */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	put(&m, "\xc0\x0c", 2);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	expect_bad(&m, "compression pointer loops or points forward");
	/* a label, then a pointer back to that label */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	put(&m, "\x01x\xc0\x0c", 4);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	expect_bad(&m, "compression pointer loops or points forward");
	/* two names pointing at each other: refused at the first one's
	 * pointer, which has to point forward */
	hdr(&m, RESPONSE, 0, 2, 0, 0);
	put(&m, "\x01x\xc0\x1f", 4); /* name at 12, pointer to 31 */
	rr_fixed(&m, 1, 1, 120, a4, 4);
	assert_int_equal(m.n, 30);
	put(&m, "\x00\x01y\xc0\x0c", 5); /* pad; name at 31: "y" then pointer to 12 */
	rr_fixed(&m, 1, 1, 120, a4, 4);
	expect_bad(&m, "compression pointer loops or points forward");
	/* a forward pointer to a well formed name further on */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	put(&m, "\xc0\x1c", 2);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	name(&m, "later.local");
	expect_bad(&m, "compression pointer loops or points forward");
	/* into the header */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	put(&m, "\xc0\x02", 2);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	expect_bad(&m, "compression pointer into the header");
	/* a pointer cut by the end */
	hdr(&m, RESPONSE, 1, 0, 0, 0);
	put(&m, "\x01x\x01y\xc0", 5);
	expect_bad(&m, "compression pointer cut by the end of the message");
	/* a legal chain: a name pointing to a name that points further back */
	hdr(&m, RESPONSE, 0, 3, 0, 0);
	rr_a(&m, "a.local", IP(10, 0, 0, 1)); /* "local" at 14 */
	put(&m,
	    "\x01"
	    "b\xc0\x0e",
	    4); /* b + ptr to "local" (14) */
	rr_fixed(&m, 1, 1, 120, a4, 4);
	size_t b_at = 12 + 9 + 14;
	uint8_t ptr[4] = {0x01, 'c', 0xc0, (uint8_t)b_at}; /* c + ptr to "b.local" */
	put(&m, ptr, 4);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	struct mdns_result res;
	const char *why;
	assert_int_equal(parse(&m, &res, &why), 0);
	assert_int_equal(res.n, 3);
	assert_string_equal(out[1].name, "b.local");
	assert_string_equal(out[2].name, "c.b.local");
}

static void test_mdns_lengths_refused(void **state)
{
	struct msg m;
	uint8_t a4[4] = {10, 0, 0, 1}, a16[16] = {0};

	/* reserved label types 01 and 10 */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	put(&m,
	    "\x40"
	    "abc",
	    4);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	expect_bad(&m, "reserved label type");
	m.b[12] = 0x80;
	expect_bad(&m, "reserved label type");
	/* a name over 255 bytes: five labels of 63, the last four through
	 * pointers would not matter, so spell them out */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	char big[4 * 64 + 6]; /* four labels of 63 and "local": 262 on the wire */
	memset(big, 'a', sizeof(big));
	for (int i = 1; i <= 4; i++)
		big[i * 64 - 1] = '.';
	memcpy(big + 4 * 64, "local", 6);
	for (int i = 0; i < 4; i++) {
		m.b[m.n] = 63;
		memset(m.b + m.n + 1, 'a', 63);
		m.n += 64;
	}
	put(&m, "\x05local", 6);
	put(&m, "", 1);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	expect_bad(&m, "name longer than 255 bytes");
	/* 255 exactly: 3 x 64 + 62 + root = 255, accepted (and skipped: not .local) */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	for (int i = 0; i < 3; i++) {
		m.b[m.n] = 63;
		memset(m.b + m.n + 1, 'a', 63);
		m.n += 64;
	}
	m.b[m.n] = 61;
	memset(m.b + m.n + 1, 'a', 61);
	m.n += 62;
	put(&m, "", 1);
	rr_fixed(&m, 1, 1, 120, a4, 4);
	struct mdns_result res;
	const char *why;
	assert_int_equal(parse(&m, &res, &why), 0);
	assert_int_equal(res.skipped, 1);
	/* the encoder keeps the same limits */
	uint8_t buf[300];
	assert_int_equal(mdns_name_encode(big, buf, sizeof(buf)), -EINVAL);
	big[3 * 64 - 1] = '\0'; /* three labels of 63: 193 */
	assert_int_equal(mdns_name_encode(big, buf, sizeof(buf)), 193);
	assert_int_equal(
	    mdns_name_encode("x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", buf, sizeof(buf)),
	    -EINVAL); /* a label of 64 */
	assert_int_equal(mdns_name_encode("a..local", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mdns_name_encode("x.local.", buf, sizeof(buf)), 9);
	assert_int_equal(mdns_name_encode("x.local", buf, 5), -ENOSPC);

	/* record data lengths */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	rr(&m, "h.local", 1, 1, 120, a16, 5);
	expect_bad(&m, "A record data is not 4 bytes");
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	rr(&m, "h.local", 28, 1, 120, a16, 4);
	expect_bad(&m, "AAAA record data is not 16 bytes");
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	rr(&m, "h.local", 16, 1, 120, a16, 16); /* TXT of any length is fine */
	assert_int_equal(parse(&m, &res, &why), 0);
	/* A PTR whose name is shorter than its rdata, or runs past it */
	uint8_t rd[16];
	int n = mdns_name_encode("t.local", rd, sizeof(rd));
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	rr(&m, "1.0.0.10.in-addr.arpa", 12, 1, 120, rd, (size_t)n + 1);
	expect_bad(&m, "PTR name does not fill its record data");
	hdr(&m, RESPONSE, 0, 2, 0, 0);
	rr(&m, "1.0.0.10.in-addr.arpa", 12, 1, 120, rd, (size_t)n - 2);
	rr_a(&m, "h.local", 1);
	expect_bad(&m, NULL);
	/* rdlength past the end */
	hdr(&m, RESPONSE, 0, 1, 0, 0);
	rr(&m, "h.local", 1, 1, 120, a4, 4);
	m.b[m.n - 5] = 9;
	expect_bad(&m, "record data runs past the end of the message");
}

static void test_mdns_counts_refused(void **state)
{
	struct msg m;

	hdr(&m, RESPONSE, 0, 0xffff, 0, 0);
	rr_a(&m, "h.local", 1);
	expect_bad(&m, "record counts promise more than the message holds");
	/* counts that fit the minimum sizes but not the real records */
	hdr(&m, RESPONSE, 0, 3, 0, 0);
	rr_a(&m, "longer-name.local", 1);
	rr_a(&m, "x.local", 2);
	expect_bad(&m, NULL);
	/* short header */
	m.n = 11;
	expect_bad(&m, "message shorter than the DNS header");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mdns_captured_announce),
	    cmocka_unit_test(test_mdns_captured_goodbye_and_probe),
	    cmocka_unit_test(test_mdns_truncated),
	    cmocka_unit_test(test_mdns_frame),
	    cmocka_unit_test(test_mdns_sections_and_names),
	    cmocka_unit_test(test_mdns_reverse_names),
	    cmocka_unit_test(test_mdns_limit),
	    cmocka_unit_test(test_mdns_compression_refused),
	    cmocka_unit_test(test_mdns_lengths_refused),
	    cmocka_unit_test(test_mdns_counts_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
