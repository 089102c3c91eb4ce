/* libFuzzer target for the strict HTTP/1.1 request framing scanner
 * (common/wire/httpframe.c) that stands in front of every evhttp server.
 *
 *   make fuzz                      every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_httpframe tests/fuzz/corpus/httpframe
 *
 * The input is a connection's byte stream. It is scanned whole, byte by
 * byte, and in pieces whose sizes the input's first byte chooses: the
 * events (head ends, request ends, at which offsets) and the verdict must
 * be the same however the bytes arrive, since TCP decides that. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/httpframe.h"
#include "tests/fuzz/fuzz.h"

#define MAX_EVENTS 64

struct trace {
	size_t at[MAX_EVENTS]; /* offset just past the byte that completed an event */
	int kind[MAX_EVENTS];
	size_t n;
	int rc; /* 0, or -EBADMSG */
	enum httpframe_error error;
	size_t failed_at; /* bytes consumed before the failing piece */
};

static void scan(const uint8_t *data, size_t size, size_t step, struct trace *t)
{
	struct httpframe f;
	size_t off = 0;

	memset(t, 0, sizeof(*t));
	httpframe_init(&f, 512);
	while (off < size) {
		size_t piece = step && size - off > step ? step : size - off;
		enum httpframe_event ev;
		int used = httpframe_feed(&f, data + off, piece, &ev);
		if (used < 0) {
			CHECK(used == -EBADMSG && f.error != HTTPFRAME_OK);
			CHECK(httpframe_strerror(f.error)[0]);
			t->rc = used;
			t->error = f.error;
			/* a failed scanner stays failed */
			CHECK(httpframe_feed(&f, data, size, &ev) == -EBADMSG);
			return;
		}
		CHECK((size_t)used <= piece);
		CHECK(used > 0 || piece == 0);
		off += (size_t)used;
		if (ev != HTTPFRAME_MORE) {
			CHECK(ev == HTTPFRAME_HEAD || ev == HTTPFRAME_DONE);
			if (ev == HTTPFRAME_DONE)
				CHECK(httpframe_at_start(&f));
			if (t->n < MAX_EVENTS) {
				t->at[t->n] = off;
				t->kind[t->n] = ev;
			}
			t->n++;
		} else {
			CHECK((size_t)used == piece);
		}
	}
}

static void same(const struct trace *a, const struct trace *b)
{
	CHECK(a->rc == b->rc && a->error == b->error);
	CHECK(a->n == b->n);
	size_t n = a->n < MAX_EVENTS ? a->n : MAX_EVENTS;
	for (size_t i = 0; i < n; i++)
		CHECK(a->at[i] == b->at[i] && a->kind[i] == b->kind[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace whole, bytes, pieces;

	scan(data, size, 0, &whole);
	scan(data, size, 1, &bytes);
	scan(data, size, size ? (size_t)(data[0] % 13) + 1 : 1, &pieces);
	same(&whole, &bytes);
	same(&whole, &pieces);
	return 0;
}
