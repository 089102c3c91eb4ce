/* DHCPv4 codec (common/wire/dhcp4), decoding: real-world-like client
 * messages built byte by byte from the RFC 2131 layout, overload, long
 * options, relay agent information and malformed input. Encoding is in
 * test_dhcp4_encode.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/net.h"
#include "common/wire/dhcp4.h"
#include "tests/unit/dhcp4_util.h"

/* ---- building raw packets --------------------------------------------- */

struct pkt {
	uint8_t b[2048];
	size_t len;
};

/* A BOOTREQUEST header and the magic cookie: 240 bytes. */
static void pkt_header(struct pkt *p, uint8_t op, uint32_t xid, const uint8_t mac[6])
{
	memset(p, 0, sizeof(*p));
	p->b[0] = op;
	p->b[1] = 1; /* htype ethernet */
	p->b[2] = 6; /* hlen */
	p->b[4] = (uint8_t)(xid >> 24);
	p->b[5] = (uint8_t)(xid >> 16);
	p->b[6] = (uint8_t)(xid >> 8);
	p->b[7] = (uint8_t)xid;
	memcpy(p->b + 28, mac, 6);
	p->b[236] = 99;
	p->b[237] = 130;
	p->b[238] = 83;
	p->b[239] = 99;
	p->len = 240;
}

static void pkt_bytes(struct pkt *p, const uint8_t *o, size_t n)
{
	memcpy(p->b + p->len, o, n);
	p->len += n;
}

#define OPTS(p, ...) pkt_bytes(p, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static void pkt_str(struct pkt *p, uint8_t code, const char *s)
{
	size_t n = strlen(s);
	p->b[p->len++] = code;
	p->b[p->len++] = (uint8_t)n;
	pkt_bytes(p, (const uint8_t *)s, n);
}

static void pkt_pad_to(struct pkt *p, size_t len)
{
	if (p->len < len)
		p->len = len;
}

static int decode(const struct pkt *p, struct dhcp4_msg *m)
{
	const char *why = NULL;
	int r = dhcp4_msg_decode(p->b, p->len, m, &why);
	if (r < 0)
		assert_non_null(why);
	else
		assert_null(why);
	return r;
}

static const char *decode_why(const struct pkt *p)
{
	static struct dhcp4_msg m;
	const char *why = NULL;
	assert_int_equal(dhcp4_msg_decode(p->b, p->len, &m, &why), -EBADMSG);
	assert_non_null(why);
	return why;
}

/* ---- real-world-like client messages ------------------------------------ */

/* ISC dhclient 4.4 DISCOVER, after a previous lease: requested address,
 * hostname, its usual parameter request list; padded to 300 bytes. */
static void test_dhclient_discover(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;
	uint32_t a;
	size_t len;

	pkt_header(&p, 1, 0x3903f326, mac1);
	OPTS(&p, 53, 1, 1);
	OPTS(&p, 50, 4, 192, 168, 1, 100);
	pkt_str(&p, 12, "node01");
	OPTS(&p, 55, 13, 1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42);
	OPTS(&p, 255);
	pkt_pad_to(&p, 300);

	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.op, DHCP4_BOOTREQUEST);
	assert_int_equal(m.htype, 1);
	assert_int_equal(m.hlen, 6);
	assert_int_equal(m.xid, 0x3903f326);
	assert_memory_equal(m.chaddr, mac1, 6);
	assert_int_equal(m.ciaddr, 0);
	assert_string_equal(m.sname, "");
	assert_string_equal(m.file, "");
	assert_int_equal(m.overload, 0);
	assert_int_equal(dhcp4_msg_type(&m), DHCP4_DISCOVER);
	assert_string_equal(dhcp4_msg_type_name(DHCP4_DISCOVER), "DISCOVER");
	assert_int_equal(dhcp4_msg_requested_ip(&m, &a), 0);
	assert_int_equal(a, ip4("192.168.1.100"));
	const char *h = dhcp4_msg_hostname(&m, &len);
	assert_non_null(h);
	assert_int_equal(len, 6);
	assert_memory_equal(h, "node01", 6);
	assert_true(dhcp4_msg_requests(&m, DHCP4_OPT_CLASSLESS_ROUTES));
	assert_true(dhcp4_msg_requests(&m, DHCP4_OPT_DOMAIN_SEARCH));
	assert_false(dhcp4_msg_requests(&m, DHCP4_OPT_NTP + 1));
	assert_int_equal(dhcp4_msg_server_id(&m, &a), -ENOENT);
	assert_int_equal(dhcp4_msg_client_arch(&m, NULL, 0), -ENOENT);
	assert_null(dhcp4_msg_client_id(&m, &len));
	assert_int_equal(dhcp4_msg_reply_max_size(&m), 576);
	assert_int_equal(m.n_options, 4);
	assert_int_equal(m.options[0].code, 53);
	assert_int_equal(m.options[3].code, 55);
	roundtrip(&m, 576);
}

/* busybox udhcpc 1.30 DISCOVER: client id (type 1 + MAC), max message
 * size 576, vendor class "udhcp 1.30.1", hostname, parameter list. */
static void test_udhcpc_discover(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;
	size_t len;
	uint16_t mms;

	pkt_header(&p, 1, 0x5e1f0a01, mac1);
	p.b[8] = 0;
	p.b[9] = 3; /* secs */
	OPTS(&p, 53, 1, 1);
	OPTS(&p, 61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
	OPTS(&p, 57, 2, 0x02, 0x40);
	pkt_str(&p, 60, "udhcp 1.30.1");
	pkt_str(&p, 12, "busybox");
	OPTS(&p, 55, 7, 1, 3, 6, 12, 15, 28, 42);
	OPTS(&p, 255);

	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.secs, 3);
	assert_int_equal(dhcp4_msg_type(&m), DHCP4_DISCOVER);
	const uint8_t *cid = dhcp4_msg_client_id(&m, &len);
	assert_non_null(cid);
	assert_int_equal(len, 7);
	assert_int_equal(cid[0], 1);
	assert_memory_equal(cid + 1, mac1, 6);
	assert_int_equal(dhcp4_msg_max_size(&m, &mms), 0);
	assert_int_equal(mms, 576);
	assert_true(dhcp4_msg_vendor_class_has_prefix(&m, "udhcp"));
	assert_false(dhcp4_msg_vendor_class_has_prefix(&m, "PXEClient"));
	const uint8_t *prl = dhcp4_msg_param_list(&m, &len);
	assert_non_null(prl);
	assert_int_equal(len, 7);
	assert_false(dhcp4_msg_has_user_class(&m, "iPXE"));
	roundtrip(&m, 576);
}

/* An Intel PXE 2.1 ROM DISCOVER (BIOS, UNDI 2.1) with its GUID. */
static void test_pxe_rom_discover(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;
	uint16_t arch[4], mms;
	struct dhcp4_ndi ndi;
	uint8_t guid[16];
	static const uint8_t want_guid[16] = {0x4c, 0x4c, 0x45, 0x44, 0x00, 0x31, 0x4a, 0x10,
					      0x80, 0x4b, 0xb3, 0xc0, 0x4f, 0x37, 0x56, 0x31};

	pkt_header(&p, 1, 0x0a2b3c4d, mac1);
	p.b[10] = 0x80; /* broadcast flag */
	OPTS(&p, 53, 1, 1);
	OPTS(&p, 57, 2, 0x04, 0xec);
	OPTS(&p, 55, 36, 1, 2, 3, 4, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59,
	     60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135);
	OPTS(&p, 97, 17, 0x00, 0x4c, 0x4c, 0x45, 0x44, 0x00, 0x31, 0x4a, 0x10, 0x80, 0x4b, 0xb3, 0xc0, 0x4f, 0x37, 0x56,
	     0x31);
	OPTS(&p, 94, 3, 1, 2, 1);
	OPTS(&p, 93, 2, 0, 0);
	pkt_str(&p, 60, "PXEClient:Arch:00000:UNDI:002001");
	OPTS(&p, 255);
	pkt_pad_to(&p, 548);

	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.flags, DHCP4_FLAG_BROADCAST);
	assert_int_equal(dhcp4_msg_type(&m), DHCP4_DISCOVER);
	assert_int_equal(dhcp4_msg_client_arch(&m, arch, 4), 1);
	assert_int_equal(arch[0], DHCP4_ARCH_BIOS);
	assert_int_equal(dhcp4_msg_client_ndi(&m, &ndi), 0);
	assert_int_equal(ndi.type, 1);
	assert_int_equal(ndi.major, 2);
	assert_int_equal(ndi.minor, 1);
	assert_int_equal(dhcp4_msg_uuid(&m, guid), 0);
	assert_memory_equal(guid, want_guid, 16);
	assert_true(dhcp4_msg_vendor_class_has_prefix(&m, "PXEClient"));
	size_t len;
	const char *vc = dhcp4_msg_vendor_class(&m, &len);
	assert_int_equal(len, 32);
	assert_memory_equal(vc, "PXEClient:Arch:00000:UNDI:002001", 32);
	assert_int_equal(dhcp4_msg_max_size(&m, &mms), 0);
	assert_int_equal(mms, 1260);
	assert_int_equal(dhcp4_msg_reply_max_size(&m), 1260);
	assert_true(dhcp4_msg_requests(&m, 67));
	roundtrip(&m, 1260);
}

/* UEFI x64 HTTP boot and several architectures; bad lengths of the PXE
 * options are reported by the accessors, not by decode. */
static void test_pxe_options_lengths(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;
	uint16_t arch[1];
	struct dhcp4_ndi ndi;
	uint8_t guid[16];

	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 53, 1, 1);
	OPTS(&p, 93, 4, 0, 16, 0, 7);
	pkt_str(&p, 60, "HTTPClient:Arch:00016:UNDI:003001");
	OPTS(&p, 94, 2, 1, 3);
	OPTS(&p, 97, 17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	OPTS(&p, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(dhcp4_msg_client_arch(&m, arch, 1), 2); /* two held, one stored */
	assert_int_equal(arch[0], DHCP4_ARCH_EFI_X64_HTTP);
	assert_true(dhcp4_msg_vendor_class_has_prefix(&m, "HTTPClient"));
	assert_int_equal(dhcp4_msg_client_ndi(&m, &ndi), -EBADMSG);
	assert_int_equal(dhcp4_msg_uuid(&m, guid), -EBADMSG); /* type 1 */

	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 93, 3, 0, 7, 0);
	OPTS(&p, 97, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	OPTS(&p, 53, 2, 1, 1);
	OPTS(&p, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(dhcp4_msg_client_arch(&m, arch, 1), -EBADMSG);
	assert_int_equal(dhcp4_msg_uuid(&m, guid), -EBADMSG);
	assert_int_equal(dhcp4_msg_type(&m), -EBADMSG);

	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 93, 0, 53, 1, 0);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(dhcp4_msg_client_arch(&m, arch, 1), -EBADMSG);
	assert_int_equal(dhcp4_msg_type(&m), -EBADMSG); /* type 0 */
}

/* iPXE sends option 77 as plain text; RFC 3004 clients as instances. */
static void test_user_class(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;
	const uint8_t *inst;
	size_t len, pos = 0;

	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 53, 1, 1);
	pkt_str(&p, 77, "iPXE");
	OPTS(&p, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_true(dhcp4_msg_has_user_class(&m, "iPXE"));
	assert_false(dhcp4_msg_has_user_class(&m, "PXE"));

	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 77, 12, 4, 'i', 'P', 'X', 'E', 6, 'g', 'p', 'x', 'e', '-', '1');
	OPTS(&p, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_true(dhcp4_msg_has_user_class(&m, "iPXE"));
	assert_true(dhcp4_msg_has_user_class(&m, "gpxe-1"));
	assert_false(dhcp4_msg_has_user_class(&m, "gpxe"));
	const uint8_t *v = dhcp4_msg_option(&m, 77, &len);
	assert_int_equal(dhcp4_user_class_next(v, len, &pos, &inst, &len), 1);
	assert_int_equal(len, 4);
	assert_memory_equal(inst, "iPXE", 4);

	static const uint8_t bad[] = {4, 'a', 'b'};
	static const uint8_t zero[] = {0};
	pos = 0;
	assert_int_equal(dhcp4_user_class_next(bad, sizeof(bad), &pos, &inst, &len), -EBADMSG);
	pos = 0;
	assert_int_equal(dhcp4_user_class_next(zero, sizeof(zero), &pos, &inst, &len), -EBADMSG);
}

/* ---- overload ------------------------------------------------------------- */

static void test_overload_file(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;
	uint32_t lt;
	size_t len;

	pkt_header(&p, 2, 7, mac1);
	memcpy(p.b + 44, "tftp.example", 12); /* sname keeps its text */
	uint8_t *file = p.b + 108;
	memcpy(file, (const uint8_t[]){51, 4, 0, 0, 0x0e, 0x10, 12, 3, 'a', 'b', 'c', 255}, 12);
	OPTS(&p, 53, 1, 2, 52, 1, 1, 12, 2, 'x', 'y', 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.overload, DHCP4_OVERLOAD_FILE);
	assert_string_equal(m.file, "");
	assert_string_equal(m.sname, "tftp.example");
	assert_int_equal(dhcp4_msg_lease_time(&m, &lt), 0);
	assert_int_equal(lt, 3600);
	/* Hostname in the options field and in file: concatenated, options first. */
	const char *h = dhcp4_msg_hostname(&m, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(h, "xyabc", 5);
	assert_false(dhcp4_msg_has_option(&m, DHCP4_OPT_OVERLOAD));
	assert_int_equal(m.n_options, 3); /* 53, 12, 51 */
	assert_int_equal(m.options[1].code, 12);
	assert_int_equal(m.options[2].code, 51);
}

static void test_overload_sname_and_both(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;
	size_t len;

	pkt_header(&p, 2, 7, mac1);
	memcpy(p.b + 108, "pxelinux.0", 10);
	memcpy(p.b + 44, (const uint8_t[]){15, 3, 'l', 'a', 'b', 255}, 6);
	OPTS(&p, 53, 1, 2, 52, 1, 2, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.overload, DHCP4_OVERLOAD_SNAME);
	assert_string_equal(m.sname, "");
	assert_string_equal(m.file, "pxelinux.0");
	const uint8_t *d = dhcp4_msg_option(&m, 15, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(d, "lab", 3);

	/* Both: an option split over all three, concatenated as options,
	 * file, sname (RFC 3396 section 7) whatever the order on the wire. */
	pkt_header(&p, 2, 7, mac1);
	memcpy(p.b + 44, (const uint8_t[]){43, 2, 'E', 'F'}, 4); /* no END: field full of PAD after */
	memcpy(p.b + 108, (const uint8_t[]){43, 2, 'C', 'D', 255}, 5);
	OPTS(&p, 43, 2, 'A', 'B', 52, 1, 3, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.overload, 3);
	assert_string_equal(m.sname, "");
	assert_string_equal(m.file, "");
	d = dhcp4_msg_option(&m, 43, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(d, "ABCDEF", 6);
	roundtrip(&m, 576);
}

/* Option 52 inside file or sname is ignored: no loop, no re-trigger. */
static void test_overload_loop(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;

	pkt_header(&p, 2, 7, mac1);
	memcpy(p.b + 44, "srv", 3);
	memcpy(p.b + 108, (const uint8_t[]){52, 1, 3, 52, 1, 1, 15, 1, 'z', 255}, 10);
	OPTS(&p, 52, 1, 1, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.overload, DHCP4_OVERLOAD_FILE);
	assert_string_equal(m.sname, "srv"); /* not read as options */
	assert_int_equal(m.n_options, 1);
	assert_int_equal(m.options[0].code, 15);

	/* Option 52 in sname pointing back at sname. */
	pkt_header(&p, 2, 7, mac1);
	memcpy(p.b + 44, (const uint8_t[]){52, 1, 2, 255}, 4);
	OPTS(&p, 52, 1, 2, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.n_options, 0);
}

static void test_overload_invalid(void **state)
{
	struct pkt p;

	for (uint8_t v = 0; v < 8; v++) {
		if (v >= 1 && v <= 3)
			continue;
		pkt_header(&p, 2, 7, mac1);
		OPTS(&p, 52, 1, v, 255);
		assert_string_equal(decode_why(&p), "option 52 value is not 1, 2 or 3");
	}
	pkt_header(&p, 2, 7, mac1);
	OPTS(&p, 52, 1, 1, 52, 1, 1, 255); /* concatenated: length 2 */
	assert_string_equal(decode_why(&p), "option 52 length is not 1");
	pkt_header(&p, 2, 7, mac1);
	OPTS(&p, 52, 0, 255);
	decode_why(&p);
	/* Overloaded file with an option running past its 128 bytes. */
	pkt_header(&p, 2, 7, mac1);
	p.b[108 + 126] = 15;
	p.b[108 + 127] = 5;
	OPTS(&p, 52, 1, 1, 255);
	assert_string_equal(decode_why(&p), "option length past end");
}

/* ---- long options (RFC 3396) ------------------------------------------- */

static void test_long_options(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m, q;
	static uint8_t val[600], buf[2048];
	size_t len;

	/* Decode: three instances of 43, with another option between. */
	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 43, 3, 1, 2, 3, 53, 1, 3, 43, 0, 43, 2, 4, 5, 255);
	assert_int_equal(decode(&p, &m), 0);
	const uint8_t *v = dhcp4_msg_option(&m, 43, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(v, ((const uint8_t[]){1, 2, 3, 4, 5}), 5);
	assert_int_equal(m.options[0].code, 43);
	assert_int_equal(m.options[1].code, 53);

	/* Encode: 600 bytes become 255 + 255 + 90, consecutive. */
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i * 13 + 1);
	dhcp4_msg_init(&m);
	m.op = DHCP4_BOOTREPLY;
	m.htype = 1;
	m.hlen = 6;
	assert_int_equal(dhcp4_msg_set_u8(&m, 53, DHCP4_ACK), 0);
	assert_int_equal(dhcp4_msg_option_set(&m, 43, val, sizeof(val)), 0);
	int n = dhcp4_msg_encode(&m, 1500, buf, sizeof(buf));
	assert_int_equal(n, 240 + 3 + (2 + 255) * 2 + 2 + 90 + 1);
	const uint8_t *o = buf + 243;
	assert_int_equal(o[0], 43);
	assert_int_equal(o[1], 255);
	assert_memory_equal(o + 2, val, 255);
	assert_int_equal(o[257], 43);
	assert_int_equal(o[258], 255);
	assert_int_equal(o[514], 43);
	assert_int_equal(o[515], 90);
	assert_memory_equal(o + 516, val + 510, 90);
	assert_int_equal(o[606], 255);
	assert_int_equal(dhcp4_msg_decode(buf, (size_t)n, &q, NULL), 0);
	assert_true(dhcp4_msg_equal(&m, &q));
	roundtrip(&m, 1500);

	/* Exactly 255 stays one instance; 256 becomes 255 + 1. */
	assert_int_equal(dhcp4_msg_option_set(&m, 43, val, 255), 0);
	assert_int_equal(dhcp4_msg_encode(&m, 1500, buf, sizeof(buf)), 240 + 3 + 257 + 1);
	assert_int_equal(dhcp4_msg_option_set(&m, 43, val, 256), 0);
	assert_int_equal(dhcp4_msg_encode(&m, 1500, buf, sizeof(buf)), 240 + 3 + 257 + 3 + 1);
	roundtrip(&m, 1500);
	/* Zero-length options survive. */
	assert_int_equal(dhcp4_msg_option_set(&m, DHCP4_OPT_RAPID_COMMIT, NULL, 0), 0);
	roundtrip(&m, 1500);
	assert_non_null(dhcp4_msg_option(&m, DHCP4_OPT_RAPID_COMMIT, &len));
	assert_int_equal(len, 0);
}

/* ---- relay agent information ---------------------------------------- */

static void test_relay_info(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;
	struct dhcp4_relay_info ri;

	pkt_header(&p, 1, 9, mac1);
	p.b[3] = 1; /* hops */
	memcpy(p.b + 24, (const uint8_t[]){10, 1, 2, 1}, 4);
	OPTS(&p, 53, 1, 1);
	OPTS(&p, 82, 37, 1, 6, 'e', 't', 'h', '0', '/', '1', 2, 6, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 5, 4, 10, 20, 30, 0,
	     11, 4, 10, 1, 2, 1, 9, 4, 0, 0, 0, 9, 1, 1, 'x');
	OPTS(&p, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.hops, 1);
	assert_int_equal(m.giaddr, ip4("10.1.2.1"));
	assert_int_equal(dhcp4_msg_relay_info(&m, &ri), 0);
	assert_int_equal(ri.circuit_id_len, 6);
	assert_memory_equal(ri.circuit_id, "eth0/1", 6);
	assert_int_equal(ri.remote_id_len, 6);
	assert_int_equal(ri.remote_id[5], 0x55);
	assert_true(ri.has_link_selection);
	assert_int_equal(ri.link_selection, ip4("10.20.30.0"));
	assert_true(ri.has_server_id_override);
	assert_int_equal(ri.server_id_override, ip4("10.1.2.1"));
	roundtrip(&m, 576);

	/* Absent; sub-options only partly there; link selection not 4 bytes. */
	pkt_header(&p, 1, 9, mac1);
	OPTS(&p, 53, 1, 1, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(dhcp4_msg_relay_info(&m, &ri), -ENOENT);
	assert_null(ri.circuit_id);
	static const uint8_t trunc[] = {1, 5, 'a', 'b'};
	static const uint8_t half[] = {1, 1, 'a', 2};
	static const uint8_t ls3[] = {5, 3, 10, 0, 0};
	static const uint8_t ok_dup[] = {1, 1, 'a', 1, 1, 'b', 2, 0};
	assert_int_equal(dhcp4_relay_info_parse(trunc, sizeof(trunc), &ri), -EBADMSG);
	assert_int_equal(dhcp4_relay_info_parse(half, sizeof(half), &ri), -EBADMSG);
	assert_int_equal(dhcp4_relay_info_parse(ls3, sizeof(ls3), &ri), -EBADMSG);
	assert_int_equal(dhcp4_relay_info_parse(ok_dup, sizeof(ok_dup), &ri), 0);
	assert_int_equal(ri.circuit_id[0], 'a'); /* first wins */
	assert_non_null(ri.remote_id);
	assert_int_equal(ri.remote_id_len, 0);
	assert_false(ri.has_link_selection);
}

/* ---- malformed input -------------------------------------------------- */

static void test_malformed(void **state)
{
	struct pkt p;
	static struct dhcp4_msg m;

	pkt_header(&p, 1, 1, mac1);
	assert_int_equal(dhcp4_msg_decode(p.b, 0, &m, NULL), -EBADMSG);
	p.len = 239;
	assert_string_equal(decode_why(&p), "message shorter than 240 bytes");
	p.len = 236;
	decode_why(&p);

	pkt_header(&p, 1, 1, mac1);
	p.b[239] = 98;
	OPTS(&p, 255);
	assert_string_equal(decode_why(&p), "bad magic cookie");

	pkt_header(&p, 3, 1, mac1);
	OPTS(&p, 255);
	decode_why(&p);
	pkt_header(&p, 0, 1, mac1);
	decode_why(&p);

	pkt_header(&p, 1, 1, mac1);
	p.b[2] = 17;
	OPTS(&p, 255);
	assert_string_equal(decode_why(&p), "hlen over 16");
	p.b[2] = 16;
	assert_int_equal(decode(&p, &m), 0);

	/* Option length past the end of the packet. */
	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 53, 1, 1, 12, 10, 'a', 'b');
	assert_string_equal(decode_why(&p), "option length past end");
	/* A code byte with no length byte. */
	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 53, 1, 1, 12);
	assert_string_equal(decode_why(&p), "option length past end");

	/* No END, but the packet ends right after an option or PAD: accepted. */
	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 53, 1, 1);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(dhcp4_msg_type(&m), DHCP4_DISCOVER);
	OPTS(&p, 0, 0);
	assert_int_equal(decode(&p, &m), 0);
	/* No options at all (exactly 240 bytes). */
	pkt_header(&p, 1, 1, mac1);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.n_options, 0);
	assert_int_equal(dhcp4_msg_type(&m), -ENOENT);
	/* Garbage after END is ignored. */
	pkt_header(&p, 1, 1, mac1);
	OPTS(&p, 53, 1, 3, 255, 12, 200, 1);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(m.n_options, 1);

	/* A full sname/file without NUL decodes to all 64/128 bytes. */
	pkt_header(&p, 1, 1, mac1);
	memset(p.b + 44, 'S', 64);
	memset(p.b + 108, 'F', 128);
	OPTS(&p, 255);
	assert_int_equal(decode(&p, &m), 0);
	assert_int_equal(strlen(m.sname), 64);
	assert_int_equal(strlen(m.file), 128);
	roundtrip(&m, 576);
	/* Bytes after the NUL of a text field are dropped. */
	memcpy(p.b + 44, "ab\0cd", 5);
	assert_int_equal(decode(&p, &m), 0);
	assert_string_equal(m.sname, "ab");
	assert_int_equal(m.sname[3], 0);
}

/* Sizes at the edges: a huge packet whose options exceed the arena. */
static void test_too_many_options(void **state)
{
	static uint8_t big[20000];
	static struct dhcp4_msg m;
	const char *why;

	memset(big, 0, sizeof(big));
	big[0] = 1;
	big[2] = 6;
	memcpy(big + 236, (const uint8_t[]){99, 130, 83, 99}, 4);
	size_t o = 240;
	while (o + 257 <= sizeof(big)) {
		big[o] = 43;
		big[o + 1] = 255;
		o += 257;
	}
	assert_int_equal(dhcp4_msg_decode(big, o, &m, &why), -EBADMSG);
	assert_string_equal(why, "options longer than 16384 bytes");
	/* Just under the limit decodes. */
	assert_int_equal(dhcp4_msg_decode(big, 240 + 63 * 257, &m, NULL), 0);
	assert_int_equal(m.options[0].len, 63 * 255);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dhclient_discover),
	    cmocka_unit_test(test_udhcpc_discover),
	    cmocka_unit_test(test_pxe_rom_discover),
	    cmocka_unit_test(test_pxe_options_lengths),
	    cmocka_unit_test(test_user_class),
	    cmocka_unit_test(test_overload_file),
	    cmocka_unit_test(test_overload_sname_and_both),
	    cmocka_unit_test(test_overload_loop),
	    cmocka_unit_test(test_overload_invalid),
	    cmocka_unit_test(test_long_options),
	    cmocka_unit_test(test_relay_info),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_too_many_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
