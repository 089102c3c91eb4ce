/* TFTP: option negotiation and the transfer engine (rack/tftp/engine),
 * without sockets or a clock. The codec is in test_tftp_codec.c, path
 * confinement and the file cache in test_tftp_root.c, the per-client
 * limits in test_tftp_clients.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/wire/tftp.h"
#include "rack/tftp/engine.h"

/* ---- negotiation ---------------------------------------------------------- */

static const struct tftp_limits lim_default = {
    .max_blksize = 1468,
    .max_windowsize = 64,
    .rto_ms = 1000,
    .rto_max_ms = 8000,
    .max_retries = 5,
};

/* What the rack's server uses (rack/tftp/internal.h). */
static const struct tftp_limits lim_server = {
    .max_blksize = 1468,
    .max_windowsize = 64,
    .rto_ms = 1000,
    .rto_max_ms = 8000,
    .max_retries = 5,
    .max_timeout_s = 10,
    .max_stall_ms = 30000,
};

static struct tftp_options nego(const struct tftp_limits *lim, unsigned present, uint64_t blksize, uint64_t timeout,
				uint64_t windowsize)
{
	struct tftp_options req = {
	    .present = present, .blksize = blksize, .timeout = timeout, .windowsize = windowsize};
	struct tftp_options o;
	tftp_negotiate(&req, lim, 12345, &o);
	return o;
}

static void test_negotiate_blksize(void **state)
{
	struct tftp_limits big = lim_default;
	big.max_blksize = TFTP_BLKSIZE_MAX;
	assert_int_equal(nego(&lim_default, TFTP_OPT_BLKSIZE, 7, 0, 0).present, 0);
	assert_int_equal(nego(&lim_default, TFTP_OPT_BLKSIZE, 0, 0, 0).present, 0);
	assert_int_equal(nego(&lim_default, TFTP_OPT_BLKSIZE, 8, 0, 0).blksize, 8);
	assert_int_equal(nego(&lim_default, TFTP_OPT_BLKSIZE, 1432, 0, 0).blksize, 1432);
	assert_int_equal(nego(&lim_default, TFTP_OPT_BLKSIZE, 1469, 0, 0).blksize, 1468);
	assert_int_equal(nego(&lim_default, TFTP_OPT_BLKSIZE, 65464, 0, 0).blksize, 1468);
	assert_int_equal(nego(&big, TFTP_OPT_BLKSIZE, 65464, 0, 0).blksize, 65464);
	assert_int_equal(nego(&big, TFTP_OPT_BLKSIZE, 65465, 0, 0).blksize, 65464);
	assert_int_equal(nego(&big, TFTP_OPT_BLKSIZE, UINT64_MAX, 0, 0).blksize, 65464);
	/* A limit above the protocol's is the protocol's. */
	big.max_blksize = 100000;
	assert_int_equal(nego(&big, TFTP_OPT_BLKSIZE, 70000, 0, 0).blksize, 65464);
}

static void test_negotiate_windowsize_timeout_tsize(void **state)
{
	assert_int_equal(nego(&lim_default, TFTP_OPT_WINDOWSIZE, 0, 0, 0).present, 0);
	assert_int_equal(nego(&lim_default, TFTP_OPT_WINDOWSIZE, 0, 0, 1).windowsize, 1);
	assert_int_equal(nego(&lim_default, TFTP_OPT_WINDOWSIZE, 0, 0, 16).windowsize, 16);
	assert_int_equal(nego(&lim_default, TFTP_OPT_WINDOWSIZE, 0, 0, 65535).windowsize, 64);
	assert_int_equal(nego(&lim_default, TFTP_OPT_WINDOWSIZE, 0, 0, 65536).windowsize, 64);
	assert_int_equal(nego(&lim_default, TFTP_OPT_TIMEOUT, 0, 0, 0).present, 0);
	assert_int_equal(nego(&lim_default, TFTP_OPT_TIMEOUT, 0, 256, 0).present, 0);
	assert_int_equal(nego(&lim_default, TFTP_OPT_TIMEOUT, 0, 1, 0).timeout, 1);
	assert_int_equal(nego(&lim_default, TFTP_OPT_TIMEOUT, 0, 255, 0).timeout, 255);
	struct tftp_options o = nego(&lim_default, TFTP_OPT_TSIZE, 0, 0, 0);
	assert_int_equal(o.present, TFTP_OPT_TSIZE);
	assert_int_equal(o.tsize, 12345);
	/* Invalid and unknown options are never acknowledged. */
	struct tftp_options req = {.invalid = TFTP_OPT_BLKSIZE, .unknown = 3, .duplicate = TFTP_OPT_TSIZE};
	tftp_negotiate(&req, &lim_default, 1, &o);
	assert_int_equal(o.present, 0);
}

/* ---- engine --------------------------------------------------------------- */

static struct tftp_packet ack(uint16_t block)
{
	return (struct tftp_packet){.op = TFTP_ACK, .block = block};
}

static int input_ack(struct tftp_session *s, uint16_t block, int64_t now, struct tftp_action *a)
{
	struct tftp_packet p = ack(block);
	return tftp_session_input(s, &p, now, a);
}

static void test_session_lockstep(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	struct tftp_options none = {0};
	/* 1100 bytes at 512: blocks of 512, 512, 76. */
	assert_int_equal(tftp_session_start(&s, &lim_default, &none, 1100, 0, &a), TFTP_SESSION_CONTINUE);
	assert_false(a.send_oack);
	assert_int_equal(a.first, 1);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.deadline, 1000);
	assert_int_equal(s.blksize, 512);
	assert_int_equal(s.windowsize, 1);
	assert_int_equal(s.last_block, 3);
	uint16_t wire;
	uint64_t off;
	uint32_t len;
	tftp_session_block(&s, 3, &wire, &off, &len);
	assert_int_equal(wire, 3);
	assert_int_equal(off, 1024);
	assert_int_equal(len, 76);
	assert_int_equal(input_ack(&s, 1, 10, &a), TFTP_SESSION_CONTINUE);
	assert_int_equal(a.first, 2);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.deadline, 1010);
	assert_int_equal(input_ack(&s, 2, 20, &a), TFTP_SESSION_CONTINUE);
	assert_int_equal(a.first, 3);
	assert_int_equal(input_ack(&s, 3, 30, &a), TFTP_SESSION_FINISHED);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.deadline, -1);
	assert_int_equal(s.state, TFTP_SESSION_DONE);
	assert_int_equal(tftp_session_bytes_acked(&s), 1100);
	/* Late packets after the end change nothing. */
	assert_int_equal(input_ack(&s, 3, 40, &a), TFTP_SESSION_FINISHED);
	assert_int_equal(a.count, 0);
	assert_int_equal(tftp_session_timeout(&s, 5000, &a), TFTP_SESSION_FINISHED);
	assert_int_equal(a.count, 0);
}

static void test_session_final_block_sizes(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	struct tftp_options none = {0};
	uint16_t wire;
	uint64_t off;
	uint32_t len;
	/* Empty file: one empty block. */
	tftp_session_start(&s, &lim_default, &none, 0, 0, &a);
	assert_int_equal(s.last_block, 1);
	tftp_session_block(&s, 1, &wire, &off, &len);
	assert_int_equal(len, 0);
	assert_int_equal(input_ack(&s, 1, 1, &a), TFTP_SESSION_FINISHED);
	/* An exact multiple of the block size ends with an empty block. */
	tftp_session_start(&s, &lim_default, &none, 1024, 0, &a);
	assert_int_equal(s.last_block, 3);
	tftp_session_block(&s, 2, &wire, &off, &len);
	assert_int_equal(len, 512);
	tftp_session_block(&s, 3, &wire, &off, &len);
	assert_int_equal(off, 1024);
	assert_int_equal(len, 0);
}

static void test_session_oack_handshake(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	struct tftp_options req = {
	    .present = TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE | TFTP_OPT_TSIZE, .blksize = 1468, .windowsize = 4};
	assert_int_equal(tftp_session_start(&s, &lim_default, &req, 100000, 0, &a), 0);
	assert_true(a.send_oack);
	assert_int_equal(a.count, 0);
	assert_int_equal(s.state, TFTP_SESSION_OACK);
	assert_int_equal(s.oack.tsize, 100000);
	assert_int_equal(s.oack.blksize, 1468);
	assert_int_equal(s.oack.windowsize, 4);
	/* Not ACK 0: ignored, the OACK stays outstanding. */
	assert_int_equal(input_ack(&s, 1, 5, &a), 0);
	assert_false(a.send_oack);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.deadline, 1000);
	assert_int_equal(s.stray_acks, 1);
	/* ACK 0 starts the data with a full window. */
	assert_int_equal(input_ack(&s, 0, 10, &a), 0);
	assert_int_equal(s.state, TFTP_SESSION_DATA);
	assert_int_equal(a.first, 1);
	assert_int_equal(a.count, 4);
	assert_int_equal(a.deadline, 1010);
	/* A second ACK 0 is a duplicate. */
	assert_int_equal(input_ack(&s, 0, 11, &a), 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(s.dup_acks, 1);

	/* A client that only wanted the size answers the OACK with ERROR 8. */
	tftp_session_start(&s, &lim_default, &req, 100000, 0, &a);
	struct tftp_packet err = {.op = TFTP_ERROR, .error_code = TFTP_ERR_OPTIONS};
	assert_int_equal(tftp_session_input(&s, &err, 3, &a), -ECONNRESET);
	assert_false(a.send_error);
	assert_int_equal(a.deadline, -1);
	assert_int_equal(s.state, TFTP_SESSION_FAILED);
}

static void test_session_only_ignored_options(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	/* Everything refused: no OACK, plain RFC 1350 transfer. */
	struct tftp_options req = {
	    .present = TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, .blksize = 4, .windowsize = 0, .unknown = 2};
	tftp_session_start(&s, &lim_default, &req, 600, 0, &a);
	assert_false(a.send_oack);
	assert_int_equal(a.first, 1);
	assert_int_equal(a.count, 1);
	assert_int_equal(s.blksize, 512);
	assert_int_equal(s.windowsize, 1);
}

static struct tftp_action start_windowed(struct tftp_session *s, uint64_t size, uint32_t blksize, uint32_t window)
{
	struct tftp_action a;
	struct tftp_limits lim = lim_default;
	lim.max_blksize = TFTP_BLKSIZE_MAX;
	lim.max_windowsize = TFTP_WINDOWSIZE_MAX;
	struct tftp_options req = {
	    .present = TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, .blksize = blksize, .windowsize = window};
	tftp_session_start(s, &lim, &req, size, 0, &a);
	assert_true(a.send_oack);
	assert_int_equal(input_ack(s, 0, 0, &a), 0);
	assert_int_equal(a.first, 1);
	assert_int_equal(a.count, window < s->last_block ? window : s->last_block);
	return a;
}

static void test_session_window(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	start_windowed(&s, 10 * 100 + 50, 100, 4); /* 11 blocks, the last of 50 bytes */
	assert_int_equal(s.last_block, 11);
	assert_int_equal(s.sent, 4);
	/* Whole window acknowledged: the next one. */
	assert_int_equal(input_ack(&s, 4, 1, &a), 0);
	assert_int_equal(a.first, 5);
	assert_int_equal(a.count, 4);
	assert_int_equal(s.sent, 8);
	/* The client got 5 and 6 only: restart the window at 7; 7 and 8
	 * go out again. */
	assert_int_equal(input_ack(&s, 6, 2, &a), 0);
	assert_int_equal(a.first, 7);
	assert_int_equal(a.count, 4);
	assert_int_equal(s.blocks_resent, 2);
	assert_int_equal(s.sent, 10);
	/* Last window is short: only block 11 is left. */
	assert_int_equal(input_ack(&s, 10, 3, &a), 0);
	assert_int_equal(a.first, 11);
	assert_int_equal(a.count, 1);
	assert_int_equal(input_ack(&s, 11, 4, &a), TFTP_SESSION_FINISHED);
	assert_int_equal(s.blocks_sent, 4 + 4 + 4 + 1);
}

static void test_session_dup_and_stray_acks(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	start_windowed(&s, 100 * 512, 512, 8);
	assert_int_equal(input_ack(&s, 8, 1, &a), 0); /* window 9..16 out */
	int64_t deadline = a.deadline;
	/* Duplicate of the ACK just acted on: nothing is sent. */
	assert_int_equal(input_ack(&s, 8, 2, &a), 0);
	assert_int_equal(a.count, 0);
	assert_false(a.send_oack);
	assert_int_equal(a.deadline, deadline); /* the timer is not pushed back */
	/* Older ACKs and ACKs for blocks never sent: ignored. */
	assert_int_equal(input_ack(&s, 3, 3, &a), 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(input_ack(&s, 17, 4, &a), 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(input_ack(&s, 60000, 5, &a), 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(s.dup_acks, 1);
	assert_int_equal(s.stray_acks, 3);
	assert_int_equal(s.acked, 8);
	assert_int_equal(s.blocks_resent, 0);
}

/* Every ACK arrives twice (a duplicating network, or a client that
 * re-ACKs). Each window must still go out exactly once. */
static void test_session_sorcerers_apprentice(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	start_windowed(&s, 1000 * 512 + 3, 512, 16);
	uint64_t sent = s.blocks_sent;
	int64_t now = 0;
	int rc = 0;
	while (rc == 0) {
		uint16_t last = (uint16_t)s.sent;
		rc = input_ack(&s, last, ++now, &a);
		sent += a.count;
		if (rc == 0) {
			int rc2 = input_ack(&s, last, ++now, &a);
			assert_int_equal(rc2, 0);
			assert_int_equal(a.count, 0);
		}
	}
	assert_int_equal(rc, TFTP_SESSION_FINISHED);
	assert_int_equal(sent, s.last_block);
	assert_int_equal(s.blocks_sent, s.last_block);
	assert_int_equal(s.blocks_resent, 0);
	assert_true(s.dup_acks > 60);
}

/* Drive a whole transfer with a perfect client that ACKs the end of each
 * window by its 16-bit wire number; check offsets and wire numbers of
 * every block on the way. */
static void run_rollover(uint64_t size, uint32_t blksize, uint32_t window)
{
	struct tftp_session s;
	struct tftp_action a = start_windowed(&s, size, blksize, window);
	uint64_t expect = 1, wraps = 0;
	uint64_t first = a.first;
	uint32_t count = a.count;
	int rc = 0;
	int64_t now = 0;
	while (rc == 0) {
		assert_int_equal(first, expect);
		uint16_t wire = 0;
		for (uint32_t i = 0; i < count; i++) {
			uint64_t off;
			uint32_t len;
			tftp_session_block(&s, first + i, &wire, &off, &len);
			assert_int_equal(wire, (uint16_t)(first + i));
			assert_true(off == (first + i - 1) * blksize);
			if (first + i < s.last_block)
				assert_int_equal(len, blksize);
			else
				assert_true(len == size - off);
			if (wire == 0)
				wraps++;
		}
		expect = first + count;
		rc = input_ack(&s, wire, ++now, &a);
		first = a.first;
		count = a.count;
	}
	assert_int_equal(rc, TFTP_SESSION_FINISHED);
	assert_true(expect == s.last_block + 1);
	assert_true(wraps == s.last_block / 65536);
	assert_true(wraps >= 1);
	assert_true(tftp_session_bytes_acked(&s) == size);
	assert_int_equal(s.blocks_resent, 0);
}

static void test_session_rollover(void **state)
{
	/* > 32 MiB at 512-byte blocks: wraps once (65535 -> 0). */
	run_rollover((40u << 20) + 17, 512, 1);
	/* Beyond 65535 * blksize with windows that straddle the wrap. */
	run_rollover(65536ull * 1468 * 2 + 1, 1468, 16);
	/* The smallest blocks: several wraps. */
	run_rollover(65536ull * 8 * 3 + 5, 8, 7);
	/* Windows as large as the protocol allows. */
	run_rollover(65536ull * 512 * 2 + 512, 512, 65535);
}

/* An ACK that arrives after a rollover for a block before it: the 16-bit
 * distance from the last ACK tells them apart. */
static void test_session_rollover_partial_ack(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	start_windowed(&s, 70000ull * 512, 512, 16);
	while (s.acked < 65520)
		input_ack(&s, (uint16_t)s.sent, 1, &a);
	assert_int_equal(s.acked, 65520);
	assert_int_equal(s.sent, 65536); /* wire 0 */
	/* A partial ACK just before the wrap: the window restarts at 65531
	 * and now straddles it. */
	assert_int_equal(input_ack(&s, 65530, 2, &a), 0);
	assert_int_equal(a.first, 65531);
	assert_int_equal(s.sent, 65546);
	/* Wire 3 is block 65536 + 3, inside the window. */
	assert_int_equal(input_ack(&s, 3, 3, &a), 0);
	assert_int_equal(s.acked, 65539);
	assert_int_equal(a.first, 65540);
	/* Wire 65530 is now behind us: ignored. */
	assert_int_equal(input_ack(&s, 65530, 4, &a), 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(s.acked, 65539);
}

static void test_session_retransmit_backoff(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	struct tftp_options none = {0};
	tftp_session_start(&s, &lim_default, &none, 5000, 100, &a);
	assert_int_equal(a.deadline, 1100);
	/* Early wake-up: nothing. */
	assert_int_equal(tftp_session_timeout(&s, 1099, &a), 0);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.deadline, 1100);
	/* Timeouts resend block 1 with 2, 4, 8, 8 s waits. */
	const int64_t at[] = {1100, 3100, 7100, 15100, 23100};
	const int64_t next[] = {3100, 7100, 15100, 23100, 31100};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tftp_session_timeout(&s, at[i], &a), 0);
		assert_int_equal(a.first, 1);
		assert_int_equal(a.count, 1);
		assert_int_equal(a.deadline, next[i]);
	}
	assert_int_equal(s.blocks_resent, 5);
	/* The sixth timeout in a row gives up. */
	assert_int_equal(tftp_session_timeout(&s, 31100, &a), -ETIMEDOUT);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.deadline, -1);
	assert_int_equal(s.state, TFTP_SESSION_FAILED);
	assert_int_equal(s.timeouts, 6);

	/* Progress resets the backoff and the retry count. */
	tftp_session_start(&s, &lim_default, &none, 5000, 0, &a);
	tftp_session_timeout(&s, 1000, &a);
	tftp_session_timeout(&s, 3000, &a);
	assert_int_equal(a.deadline, 7000);
	assert_int_equal(input_ack(&s, 1, 3500, &a), 0);
	assert_int_equal(a.first, 2);
	assert_int_equal(a.deadline, 4500);
	assert_int_equal(s.retries, 0);
}

static void test_session_retransmit_window_and_oack(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	struct tftp_options req = {.present = TFTP_OPT_WINDOWSIZE | TFTP_OPT_TIMEOUT, .windowsize = 8, .timeout = 3};
	tftp_session_start(&s, &lim_default, &req, 512 * 20, 0, &a);
	assert_true(a.send_oack);
	assert_int_equal(a.deadline, 3000); /* the client's timeout */
	/* The OACK is what gets retransmitted before ACK 0. */
	assert_int_equal(tftp_session_timeout(&s, 3000, &a), 0);
	assert_true(a.send_oack);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.deadline, 9000);
	assert_int_equal(input_ack(&s, 0, 9100, &a), 0);
	assert_int_equal(a.deadline, 12100);
	assert_int_equal(input_ack(&s, 5, 9200, &a), 0); /* partial: window 6..13 */
	/* A timeout resends the whole outstanding window from the first
	 * unacknowledged block. */
	assert_int_equal(tftp_session_timeout(&s, 12200, &a), 0);
	assert_false(a.send_oack);
	assert_int_equal(a.first, 6);
	assert_int_equal(a.count, 8);
}

static void test_negotiate_timeout_cap(void **state)
{
	/* Up to the cap the client's value is echoed; above it the option is
	 * not acknowledged at all (RFC 2349: the OACK must carry the client's
	 * own value, so clamping is not an option). */
	assert_int_equal(nego(&lim_server, TFTP_OPT_TIMEOUT, 0, 1, 0).timeout, 1);
	assert_int_equal(nego(&lim_server, TFTP_OPT_TIMEOUT, 0, 10, 0).timeout, 10);
	assert_int_equal(nego(&lim_server, TFTP_OPT_TIMEOUT, 0, 11, 0).present, 0);
	assert_int_equal(nego(&lim_server, TFTP_OPT_TIMEOUT, 0, 255, 0).present, 0);
	/* The other options of the request are still acknowledged. */
	struct tftp_options o = nego(&lim_server, TFTP_OPT_TIMEOUT | TFTP_OPT_BLKSIZE, 1468, 255, 0);
	assert_int_equal(o.present, TFTP_OPT_BLKSIZE);
	assert_int_equal(o.blksize, 1468);
	/* A cap above the protocol's maximum is the protocol's. */
	struct tftp_limits wide = lim_server;
	wide.max_timeout_s = 1000;
	assert_int_equal(nego(&wide, TFTP_OPT_TIMEOUT, 0, 255, 0).timeout, 255);
	assert_int_equal(nego(&wide, TFTP_OPT_TIMEOUT, 0, 256, 0).present, 0);

	/* The session then runs on the server's own timer, not 255 s. */
	struct tftp_session s;
	struct tftp_action a;
	struct tftp_options req = {.present = TFTP_OPT_TIMEOUT | TFTP_OPT_BLKSIZE, .timeout = 255, .blksize = 1468};
	tftp_session_start(&s, &lim_server, &req, 100000, 0, &a);
	assert_true(a.send_oack);
	assert_int_equal(s.oack.present, TFTP_OPT_BLKSIZE);
	assert_int_equal(a.deadline, 1000);
}

/* Run timeouts at each deadline until the session gives up; the time it
 * did and how many retransmissions it made. */
static int64_t run_until_failed(struct tftp_session *s, struct tftp_action *a, int64_t now, unsigned *ret_resends)
{
	unsigned resends = 0;
	for (int i = 0; i < 1000; i++) {
		int rc = tftp_session_timeout(s, now, a);
		if (rc < 0) {
			assert_int_equal(rc, -ETIMEDOUT);
			*ret_resends = resends;
			return now;
		}
		assert_int_equal(rc, 0);
		resends++;
		assert_true(a->deadline > now);
		now = a->deadline;
	}
	fail_msg("the session never gave up");
	return -1;
}

static void test_session_stall_bound(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	struct tftp_options none = {0};
	unsigned resends;

	/* The default backoff (1, 2, 4, 8, 8 s) would wait 31 s in all; the
	 * last wait is cut at 30 s without progress. */
	tftp_session_start(&s, &lim_server, &none, 5000, 0, &a);
	const int64_t next[] = {3000, 7000, 15000, 23000, 30000};
	int64_t now = 1000;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tftp_session_timeout(&s, now, &a), 0);
		assert_int_equal(a.deadline, next[i]);
		now = a.deadline;
	}
	assert_int_equal(tftp_session_timeout(&s, 30000, &a), -ETIMEDOUT);
	assert_true(s.stalled);
	assert_int_equal(s.state, TFTP_SESSION_FAILED);

	/* The largest timeout a client may have acknowledged (10 s) with
	 * many retries allowed: still over at 30 s, after two resends. */
	struct tftp_limits many = lim_server;
	many.max_retries = 100;
	struct tftp_options req = {.present = TFTP_OPT_TIMEOUT, .timeout = 10};
	tftp_session_start(&s, &many, &req, 5000, 500, &a);
	assert_true(a.send_oack);
	assert_int_equal(a.deadline, 10500);
	assert_int_equal(run_until_failed(&s, &a, a.deadline, &resends), 30500);
	assert_int_equal(resends, 2);
	assert_true(s.stalled);

	/* Without the stall bound, a 255 s timeout would have held the slot
	 * for 6 x 255 s: the bound is what ends it. */
	struct tftp_limits unbounded = lim_default;
	req.timeout = 255;
	tftp_session_start(&s, &unbounded, &req, 5000, 0, &a);
	assert_int_equal(run_until_failed(&s, &a, a.deadline, &resends), 6 * 255000);
	assert_false(s.stalled);
	many.max_timeout_s = 255;
	tftp_session_start(&s, &many, &req, 5000, 0, &a);
	assert_int_equal(a.deadline, 30000);
	assert_int_equal(run_until_failed(&s, &a, a.deadline, &resends), 30000);
	assert_int_equal(resends, 0);
}

static void test_session_stall_clock_restarts_on_progress(void **state)
{
	struct tftp_session s;
	struct tftp_action a;
	struct tftp_options none = {0};
	unsigned resends;

	/* A slow client that acknowledges just before the bound keeps its
	 * transfer; each ACK that moves it on starts a new 30 s. */
	tftp_session_start(&s, &lim_server, &none, 512 * 10, 0, &a);
	tftp_session_timeout(&s, 1000, &a);
	tftp_session_timeout(&s, 3000, &a);
	tftp_session_timeout(&s, 7000, &a);
	tftp_session_timeout(&s, 15000, &a);
	tftp_session_timeout(&s, 23000, &a);
	assert_int_equal(a.deadline, 30000);
	assert_int_equal(input_ack(&s, 1, 29000, &a), 0);
	assert_int_equal(a.first, 2);
	assert_int_equal(a.deadline, 30000);
	assert_int_equal(s.progress_at, 29000);
	/* A duplicate ACK is not progress. */
	assert_int_equal(input_ack(&s, 1, 29500, &a), 0);
	assert_int_equal(s.progress_at, 29000);
	assert_int_equal(run_until_failed(&s, &a, 30000, &resends), 59000);
	assert_true(s.stalled);
	assert_int_equal(s.acked, 1);
}

static void test_session_illegal_packets(void **state)
{
	const enum tftp_opcode ops[] = {TFTP_DATA, TFTP_RRQ, TFTP_WRQ, TFTP_OACK};
	for (size_t i = 0; i < 4; i++) {
		struct tftp_session s;
		struct tftp_action a;
		struct tftp_options none = {0};
		tftp_session_start(&s, &lim_default, &none, 5000, 0, &a);
		struct tftp_packet p = {.op = ops[i]};
		assert_int_equal(tftp_session_input(&s, &p, 1, &a), -EPROTO);
		assert_true(a.send_error);
		assert_int_equal(a.error_code, TFTP_ERR_ILLEGAL_OP);
		assert_int_equal(a.deadline, -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_negotiate_blksize),
	    cmocka_unit_test(test_negotiate_windowsize_timeout_tsize),
	    cmocka_unit_test(test_session_lockstep),
	    cmocka_unit_test(test_session_final_block_sizes),
	    cmocka_unit_test(test_session_oack_handshake),
	    cmocka_unit_test(test_session_only_ignored_options),
	    cmocka_unit_test(test_session_window),
	    cmocka_unit_test(test_session_dup_and_stray_acks),
	    cmocka_unit_test(test_session_sorcerers_apprentice),
	    cmocka_unit_test(test_session_rollover),
	    cmocka_unit_test(test_session_rollover_partial_ack),
	    cmocka_unit_test(test_session_retransmit_backoff),
	    cmocka_unit_test(test_session_retransmit_window_and_oack),
	    cmocka_unit_test(test_negotiate_timeout_cap),
	    cmocka_unit_test(test_session_stall_bound),
	    cmocka_unit_test(test_session_stall_clock_restarts_on_progress),
	    cmocka_unit_test(test_session_illegal_packets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
