/* libFuzzer target for ironrack-imgwrite's HTTP codec and resume engine
 * (deploy/ephemeral/imgwrite/http.c).
 *
 *   make fuzz                                 every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_imgwrite_http tests/fuzz/corpus/imgwrite_http
 *
 * Every input is used twice: as a response head (parsed whole and as its
 * prefixes; what parses is checked for consistency and then decided on
 * for several download positions), and as a URL (what parses must make a
 * request line without spaces or control bytes). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/ephemeral/imgwrite/http.h"
#include "tests/fuzz/fuzz.h"

static void check_string(const char *s, size_t cap)
{
	CHECK(memchr(s, '\0', cap) != NULL);
}

static void check_decision(const struct imgw_http_head *h, uint64_t offset, uint64_t size, bool written)
{
	struct imgw_http_decision d;

	imgw_http_decide(h, offset, size, written, &d);
	check_string(d.err, sizeof(d.err));
	switch (d.action) {
	case IMGW_HTTP_BODY:
		CHECK(h->status == 200 || h->status == 206);
		CHECK(d.body_len == size - offset);
		CHECK(h->has_length && !h->chunked && !h->other_encoding);
		if (h->status == 206)
			CHECK(offset > 0 && h->range_first == offset && h->range_last == size - 1 &&
			      h->range_total == size);
		else
			CHECK(offset == 0);
		break;
	case IMGW_HTTP_RESTART:
		CHECK(h->status == 200 && offset > 0 && !written && d.body_len == size);
		break;
	case IMGW_HTTP_RETRY:
		CHECK(h->status == 408 || h->status == 429 || h->status >= 500);
		CHECK(d.err[0]);
		break;
	case IMGW_HTTP_FAIL:
	case IMGW_HTTP_MISMATCH:
		CHECK(d.err[0]);
		break;
	}
}

static void check_head(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct imgw_http_head h, again;
	int n = imgw_http_head_parse(buf, size, &h);

	CHECK(n == 0 || n == -EBADMSG || n == -E2BIG || (n > 0 && (size_t)n <= size));
	if (n <= 0)
		return;
	CHECK(n <= IMGW_HTTP_HEAD_MAX && buf[n - 1] == '\n');
	CHECK(h.status >= 100 && h.status <= 599);
	CHECK(h.version_minor == 0 || h.version_minor == 1);
	check_string(h.reason, sizeof(h.reason));
	for (const char *r = h.reason; *r; r++)
		CHECK(*r >= 0x20 && *r < 0x7f);
	if (h.has_range && !h.range_unsatisfied)
		CHECK(h.range_first <= h.range_last);
	if (h.has_range && !h.range_unsatisfied && h.has_range_total)
		CHECK(h.range_last < h.range_total);
	if (h.range_unsatisfied)
		CHECK(h.has_range && h.has_range_total);
	CHECK(h.retry_after >= -1 && h.retry_after <= 86400);
	/* The head ends where it ends, whatever follows, and no sooner. */
	CHECK(imgw_http_head_parse(buf, (size_t)n, &again) == n);
	CHECK(again.status == h.status && again.content_length == h.content_length &&
	      again.range_first == h.range_first && again.range_total == h.range_total);
	CHECK(imgw_http_head_parse(buf, (size_t)n - 1, &again) == 0);
	CHECK(imgw_http_head_parse(buf, (size_t)n / 2, &again) == 0);

	/* Decide for download positions the head itself suggests. */
	uint64_t sizes[] = {h.content_length, h.range_total, h.range_last + 1, 1000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t sz = sizes[i];
		if (sz == 0)
			continue;
		uint64_t offsets[] = {0, h.range_first, sz - 1, sz / 2};
		for (size_t j = 0; j < sizeof(offsets) / sizeof(offsets[0]); j++) {
			if (offsets[j] >= sz)
				continue;
			check_decision(&h, offsets[j], sz, false);
			check_decision(&h, offsets[j], sz, true);
		}
	}
}

static void check_url(const uint8_t *data, size_t size)
{
	char *s = fuzz_text(data, size);
	struct imgw_url u;
	char err[200], req[IMGW_URL_PATH_MAX + 1024];

	if (imgw_url_parse(s, &u, err, sizeof(err)) == 0) {
		check_string(u.host, sizeof(u.host));
		check_string(u.path, sizeof(u.path));
		CHECK(u.path[0] == '/' && u.port != 0);
		for (const char *p = u.path; *p; p++)
			CHECK(*p > 0x20 && *p < 0x7f);
		int n = imgw_http_request(&u, size, req, sizeof(req));
		CHECK(n > 0 && (size_t)n == strlen(req));
		CHECK(strncmp(req, "GET /", 5) == 0);
		/* One request line: no line break before " HTTP/1.1". */
		char *line_end = strstr(req, "\r\n");
		CHECK(line_end && memchr(req, '\n', (size_t)(line_end - req)) == NULL);
		CHECK(strcmp(req + n - 4, "\r\n\r\n") == 0);
	} else {
		check_string(err, sizeof(err));
		CHECK(err[0]);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_head(data, size);
	check_url(data, size);
	return 0;
}
