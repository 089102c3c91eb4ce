/* TFTP's codec (common/wire/tftp): packets to bytes and back, what it
 * refuses. The engine and option negotiation are in test_tftp.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/wire/tftp.h"

static int decode_bytes(const void *buf, size_t len, struct tftp_packet *p)
{
	return tftp_decode(buf, len, p);
}

/* Request bytes from a list of strings, each written with its NUL. */
static size_t request(uint8_t *buf, uint16_t op, const char *const *parts, size_t n)
{
	size_t o = 0;
	buf[o++] = (uint8_t)(op >> 8);
	buf[o++] = (uint8_t)op;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(parts[i]) + 1;
		memcpy(buf + o, parts[i], l);
		o += l;
	}
	return o;
}

#define REQ(buf, op, ...)                                                                                              \
	request(buf, op, (const char *const[]){__VA_ARGS__},                                                           \
		sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void roundtrip(const struct tftp_packet *p)
{
	uint8_t buf[70000];
	struct tftp_packet q;
	int n = tftp_encode(p, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(tftp_decode(buf, (size_t)n, &q), 0);
	assert_true(tftp_packet_equal(p, &q));
	/* And the bytes are stable: encode(decode(bytes)) == bytes. */
	uint8_t again[70000];
	assert_int_equal(tftp_encode(&q, again, sizeof(again)), n);
	assert_memory_equal(buf, again, (size_t)n);
}

static void test_codec_roundtrip(void **state)
{
	static uint8_t data[TFTP_BLKSIZE_MAX];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	const enum tftp_mode modes[] = {TFTP_MODE_NETASCII, TFTP_MODE_OCTET, TFTP_MODE_MAIL};
	for (size_t m = 0; m < 3; m++) {
		struct tftp_packet p = {.op = TFTP_RRQ, .filename = "pxelinux.0", .filename_len = 10, .mode = modes[m]};
		roundtrip(&p);
		p.op = TFTP_WRQ;
		roundtrip(&p);
	}
	struct tftp_packet rrq = {
	    .op = TFTP_RRQ,
	    .filename = "/boot/x86_64/linux",
	    .filename_len = 18,
	    .mode = TFTP_MODE_OCTET,
	    .opts = {.present = TFTP_OPT_ALL, .blksize = 1468, .tsize = 0, .timeout = 255, .windowsize = 65535},
	};
	roundtrip(&rrq);
	rrq.opts.present = TFTP_OPT_TSIZE | TFTP_OPT_WINDOWSIZE;
	rrq.opts.tsize = UINT64_MAX;
	roundtrip(&rrq);
	struct tftp_packet oack = {.op = TFTP_OACK, .opts = {.present = TFTP_OPT_BLKSIZE, .blksize = 8}};
	roundtrip(&oack);
	oack.opts.present = 0;
	roundtrip(&oack);
	const size_t lens[] = {0, 1, 512, 1468, TFTP_BLKSIZE_MAX};
	for (size_t i = 0; i < 5; i++) {
		struct tftp_packet d = {
		    .op = TFTP_DATA, .block = (uint16_t)(65535 - i), .data = data, .data_len = lens[i]};
		roundtrip(&d);
	}
	struct tftp_packet ack = {.op = TFTP_ACK, .block = 0};
	roundtrip(&ack);
	ack.block = 65535;
	roundtrip(&ack);
	struct tftp_packet err = {.op = TFTP_ERROR, .error_code = 8, .error_msg = "no", .error_msg_len = 2};
	roundtrip(&err);
	err.error_msg = "";
	err.error_msg_len = 0;
	roundtrip(&err);
}

static void test_codec_rrq_wire(void **state)
{
	uint8_t buf[256];
	struct tftp_packet p;
	size_t n = REQ(buf, TFTP_RRQ, "pxelinux.0", "OcTeT", "BLKSIZE", "1468", "tsize", "0", "windowsize", "016");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.op, TFTP_RRQ);
	assert_string_equal(p.filename, "pxelinux.0");
	assert_int_equal(p.filename_len, 10);
	assert_int_equal(p.mode, TFTP_MODE_OCTET);
	assert_int_equal(p.opts.present, TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE | TFTP_OPT_WINDOWSIZE);
	assert_int_equal(p.opts.blksize, 1468);
	assert_int_equal(p.opts.tsize, 0);
	assert_int_equal(p.opts.windowsize, 16);
	assert_int_equal(p.opts.duplicate | p.opts.invalid | p.opts.unknown, 0);

	n = REQ(buf, TFTP_RRQ, "f", "NetAscii");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.mode, TFTP_MODE_NETASCII);
	n = REQ(buf, TFTP_WRQ, "f", "mail");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.op, TFTP_WRQ);
	assert_int_equal(p.mode, TFTP_MODE_MAIL);
	n = REQ(buf, TFTP_RRQ, "f", "binary");
	assert_int_equal(decode_bytes(buf, n, &p), -EBADMSG);
}

static void test_codec_missing_nul(void **state)
{
	uint8_t buf[256];
	struct tftp_packet p;
	size_t n = REQ(buf, TFTP_RRQ, "file", "octet", "blksize", "1468");
	/* Cut the last NUL, then more: every prefix short of the whole is
	 * malformed, except the ones ending exactly after the mode. */
	for (size_t len = 0; len < n; len++) {
		int r = decode_bytes(buf, len, &p);
		if (len == 2 + 5 + 6)
			assert_int_equal(r, 0); /* "file\0octet\0": a request without options */
		else
			assert_int_equal(r, -EBADMSG);
	}
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	/* A filename that runs to the end of the packet. */
	memcpy(buf, "\0\1abc", 5);
	assert_int_equal(decode_bytes(buf, 5, &p), -EBADMSG);
}

static void test_codec_odd_option_count(void **state)
{
	uint8_t buf[256];
	struct tftp_packet p;
	size_t n = REQ(buf, TFTP_RRQ, "file", "octet", "blksize", "1468", "tsize");
	assert_int_equal(decode_bytes(buf, n, &p), -EBADMSG);
	n = REQ(buf, TFTP_OACK, "blksize");
	assert_int_equal(decode_bytes(buf, n, &p), -EBADMSG);
}

static void test_codec_duplicate_options(void **state)
{
	uint8_t buf[256];
	struct tftp_packet p;
	size_t n = REQ(buf, TFTP_RRQ, "file", "octet", "blksize", "1024", "BLKSIZE", "512", "windowsize", "4",
		       "windowsize", "8");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.opts.blksize, 1024); /* first wins */
	assert_int_equal(p.opts.windowsize, 4);
	assert_int_equal(p.opts.duplicate, TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE);
	/* A first value that is not a number is ignored, and so is the second. */
	n = REQ(buf, TFTP_RRQ, "file", "octet", "blksize", "x", "blksize", "512");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.opts.present, 0);
	assert_int_equal(p.opts.invalid, TFTP_OPT_BLKSIZE);
	assert_int_equal(p.opts.duplicate, TFTP_OPT_BLKSIZE);
}

static void test_codec_unknown_and_invalid_options(void **state)
{
	uint8_t buf[256];
	struct tftp_packet p;
	size_t n = REQ(buf, TFTP_RRQ, "file", "octet", "multicast", "", "utimeout", "5000", "timeout", "3", "tsize", "",
		       "blksize", "-5", "windowsize", "1e3");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.opts.unknown, 2);
	assert_int_equal(p.opts.present, TFTP_OPT_TIMEOUT);
	assert_int_equal(p.opts.timeout, 3);
	assert_int_equal(p.opts.invalid, TFTP_OPT_TSIZE | TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE);
	/* Numbers beyond 64 bits saturate instead of wrapping. */
	n = REQ(buf, TFTP_RRQ, "file", "octet", "blksize", "99999999999999999999999", "tsize", "18446744073709551615");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_true(p.opts.blksize == UINT64_MAX);
	assert_true(p.opts.tsize == UINT64_MAX);
	n = REQ(buf, TFTP_RRQ, "file", "octet", "blksize", " 512");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.opts.invalid, TFTP_OPT_BLKSIZE);
}

static void test_codec_padding(void **state)
{
	uint8_t buf[256];
	struct tftp_packet p;
	size_t n = REQ(buf, TFTP_RRQ, "file", "octet", "blksize", "1432");
	memset(buf + n, 0, 20);
	assert_int_equal(decode_bytes(buf, n + 20, &p), 0);
	assert_int_equal(p.opts.blksize, 1432);
	/* After the empty name only zeros may follow. */
	buf[n + 5] = 'x';
	assert_int_equal(decode_bytes(buf, n + 20, &p), -EBADMSG);
	/* ACKs padded by ROMs. */
	const uint8_t ack[] = {0, 4, 0x12, 0x34, 0, 0, 0, 0};
	assert_int_equal(decode_bytes(ack, sizeof(ack), &p), 0);
	assert_int_equal(p.block, 0x1234);
}

static void test_codec_filename_limit(void **state)
{
	static uint8_t buf[4096];
	static char name[TFTP_FILENAME_MAX + 2];
	struct tftp_packet p;
	memset(name, 'a', TFTP_FILENAME_MAX);
	name[TFTP_FILENAME_MAX] = '\0';
	size_t n = REQ(buf, TFTP_RRQ, name, "octet");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.filename_len, TFTP_FILENAME_MAX);
	name[TFTP_FILENAME_MAX] = 'a';
	name[TFTP_FILENAME_MAX + 1] = '\0';
	n = REQ(buf, TFTP_RRQ, name, "octet");
	assert_int_equal(decode_bytes(buf, n, &p), -ENAMETOOLONG);
	/* Encoding refuses it too. */
	struct tftp_packet q = {.op = TFTP_RRQ, .filename = name, .filename_len = TFTP_FILENAME_MAX + 1};
	assert_int_equal(tftp_encode(&q, buf, sizeof(buf)), -EINVAL);
	/* Empty file name: syntactically fine; the root refuses it. */
	n = REQ(buf, TFTP_RRQ, "", "octet");
	assert_int_equal(decode_bytes(buf, n, &p), 0);
	assert_int_equal(p.filename_len, 0);
}

static void test_codec_short_and_unknown(void **state)
{
	struct tftp_packet p;
	const uint8_t ack3[] = {0, 4, 0}, data3[] = {0, 3, 0}, err3[] = {0, 5, 0};
	assert_int_equal(decode_bytes("", 0, &p), -EBADMSG);
	assert_int_equal(decode_bytes("\0", 1, &p), -EBADMSG);
	assert_int_equal(decode_bytes(ack3, 3, &p), -EBADMSG);
	assert_int_equal(decode_bytes(data3, 3, &p), -EBADMSG);
	assert_int_equal(decode_bytes(err3, 3, &p), -EBADMSG);
	assert_int_equal(decode_bytes("\0\0\0\0", 4, &p), -EBADMSG);
	assert_int_equal(decode_bytes("\0\7\0\0", 4, &p), -EBADMSG);
	assert_int_equal(decode_bytes("\1\1\0\0", 4, &p), -EBADMSG);
	/* An empty DATA block is the end of a file that fills its blocks. */
	assert_int_equal(decode_bytes("\0\3\0\7", 4, &p), 0);
	assert_int_equal(p.block, 7);
	assert_int_equal(p.data_len, 0);
	/* ERROR without its NUL is accepted (it ends the transfer anyway). */
	assert_int_equal(decode_bytes("\0\5\0\1gone", 8, &p), 0);
	assert_int_equal(p.error_code, 1);
	assert_int_equal(p.error_msg_len, 4);
	assert_memory_equal(p.error_msg, "gone", 4);
}

static void test_codec_encode_limits(void **state)
{
	uint8_t buf[64];
	struct tftp_packet p = {.op = TFTP_RRQ, .filename = "a\0b", .filename_len = 3};
	assert_int_equal(tftp_encode(&p, buf, sizeof(buf)), -EINVAL);
	p = (struct tftp_packet){.op = TFTP_RRQ, .filename = "file", .filename_len = 4, .mode = TFTP_MODE_OCTET};
	assert_int_equal(tftp_encode(&p, buf, 11), -ENOSPC);
	assert_int_equal(tftp_encode(&p, buf, 13), 13);
	p = (struct tftp_packet){.op = 9};
	assert_int_equal(tftp_encode(&p, buf, sizeof(buf)), -EINVAL);
	uint8_t hdr[4];
	tftp_encode_data_header(hdr, 0xfffe);
	assert_memory_equal(hdr, "\0\3\xff\xfe", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codec_roundtrip),	    cmocka_unit_test(test_codec_rrq_wire),
	    cmocka_unit_test(test_codec_missing_nul),	    cmocka_unit_test(test_codec_odd_option_count),
	    cmocka_unit_test(test_codec_duplicate_options), cmocka_unit_test(test_codec_unknown_and_invalid_options),
	    cmocka_unit_test(test_codec_padding),	    cmocka_unit_test(test_codec_filename_limit),
	    cmocka_unit_test(test_codec_short_and_unknown), cmocka_unit_test(test_codec_encode_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
