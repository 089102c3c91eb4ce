/* libFuzzer target for the TFTP request and option parser
 * (common/wire/tftp.c), the option negotiation and transfer engine
 * (rack/tftp/engine.c) and the lexical path check (rack/tftp/root.c).
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_tftp tests/fuzz/corpus/tftp
 *
 * Every input is used twice: as a datagram (decode; what decodes must
 * re-encode and decode to the same packet; requests go through
 * negotiation and the path check), and as a script of client events for a
 * transfer, checking the engine's invariants after each step. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/tftp.h"
#include "rack/tftp/engine.h"
#include "rack/tftp/root.h"
#include "tests/fuzz/fuzz.h"

static const struct tftp_limits lim = {
    .max_blksize = 1468,
    .max_windowsize = 64,
    .rto_ms = 1000,
    .rto_max_ms = 8000,
    .max_retries = 5,
};

static void check_request(const struct tftp_packet *p)
{
	struct tftp_options o;
	const char *rel;
	size_t rel_len;

	tftp_negotiate(&p->opts, &lim, 123456, &o);
	CHECK((o.present & ~p->opts.present) == 0);
	if (o.present & TFTP_OPT_BLKSIZE)
		CHECK(o.blksize >= TFTP_BLKSIZE_MIN && o.blksize <= lim.max_blksize);
	if (o.present & TFTP_OPT_WINDOWSIZE)
		CHECK(o.windowsize >= 1 && o.windowsize <= lim.max_windowsize);
	if (o.present & TFTP_OPT_TIMEOUT)
		CHECK(o.timeout >= TFTP_TIMEOUT_MIN && o.timeout <= TFTP_TIMEOUT_MAX);
	if (tftp_root_check_name(p->filename, p->filename_len, &rel, &rel_len) == 0) {
		CHECK(rel >= p->filename && rel + rel_len == p->filename + p->filename_len);
		CHECK(rel_len == 0 || rel[0] != '/');
		for (size_t i = 0; i + 1 < rel_len; i++)
			CHECK(!(rel[i] == '.' && rel[i + 1] == '.' && (i == 0 || rel[i - 1] == '/') &&
				(i + 2 == rel_len || rel[i + 2] == '/')));
		CHECK(!memchr(rel, '\0', rel_len));
	}
}

static void check_codec(const uint8_t *data, size_t size)
{
	struct tftp_packet p, q;

	if (tftp_decode(data, size, &p) < 0)
		return;
	/* Re-encoding drops what the decoder ignored (duplicates, invalid and
	 * unknown options, padding), so compare against that. */
	p.opts.duplicate = p.opts.invalid = p.opts.unknown = 0;
	size_t cap = size + 64;
	uint8_t *buf = malloc(cap);
	CHECK(buf);
	int n = tftp_encode(&p, buf, cap);
	CHECK(n >= 0);
	CHECK(tftp_decode(buf, (size_t)n, &q) == 0);
	CHECK(tftp_packet_equal(&p, &q));
	free(buf);
	if (p.op == TFTP_RRQ || p.op == TFTP_WRQ)
		check_request(&p);
}

static void check_invariants(const struct tftp_session *s, const struct tftp_action *a, int rc)
{
	CHECK(s->acked <= s->sent && s->sent <= s->last_block);
	CHECK(s->blksize >= TFTP_BLKSIZE_MIN && s->blksize <= lim.max_blksize);
	CHECK(s->windowsize >= 1 && s->windowsize <= lim.max_windowsize);
	if (a->count) {
		CHECK(a->count <= s->windowsize);
		CHECK(a->first == s->acked + 1);
		CHECK(a->first + a->count - 1 <= s->last_block);
	}
	if (rc != TFTP_SESSION_CONTINUE)
		CHECK(a->deadline == -1 && a->count == 0);
	if (rc == TFTP_SESSION_FINISHED)
		CHECK(s->acked == s->last_block);
}

/* Bytes 0-3 pick the options and the file size; then each pair of bytes
 * is an event: 0xff = the timer fires, 0xfe = an ERROR, else an ACK whose
 * block number is the pair, taken relative to the last acknowledged one
 * when the high bit of the first byte is clear (so the fuzzer reaches the
 * window) and absolute otherwise. */
static void check_engine(const uint8_t *data, size_t size)
{
	struct tftp_session s;
	struct tftp_action a;
	int64_t now = 0;

	if (size < 4)
		return;
	struct tftp_options req = {
	    .present = data[0] & TFTP_OPT_ALL,
	    .blksize = (uint64_t)data[1] * 8,
	    .windowsize = data[2] & 0x7f,
	    .timeout = data[2] >> 4,
	    .tsize = 0,
	};
	uint64_t fsize = (uint64_t)data[3] * 997 + (data[0] >> 4);
	int rc = tftp_session_start(&s, &lim, &req, fsize, now, &a);
	check_invariants(&s, &a, rc);
	for (size_t i = 4; i + 1 < size && rc == TFTP_SESSION_CONTINUE; i += 2) {
		now += data[i + 1];
		if (data[i] == 0xff) {
			rc = tftp_session_timeout(&s, now + 100000, &a);
		} else if (data[i] == 0xfe) {
			struct tftp_packet e = {.op = TFTP_ERROR};
			rc = tftp_session_input(&s, &e, now, &a);
			CHECK(rc == -ECONNRESET);
		} else {
			uint16_t v = (uint16_t)((data[i] << 8) | data[i + 1]);
			struct tftp_packet p = {.op = TFTP_ACK};
			p.block = (data[i] & 0x80) ? v : (uint16_t)(s.acked + (v & 0x7f));
			rc = tftp_session_input(&s, &p, now, &a);
		}
		check_invariants(&s, &a, rc);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_codec(data, size);
	check_engine(data, size);
	return 0;
}
