/* ironrack-imgwrite's HTTP codec and resume engine
 * (deploy/ephemeral/imgwrite/http.h): the URL, the request, the response
 * head (whole, byte by byte, malformed), and the decision for every kind
 * of answer to a first or a resumed request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "deploy/ephemeral/imgwrite/http.h"

/* ---- the URL ---- */

static void test_url_ok(void **state)
{
	struct imgw_url u;
	char err[200];

	assert_int_equal(imgw_url_parse("http://192.0.2.1:5248/images/debian-12", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "192.0.2.1");
	assert_false(u.ipv6);
	assert_int_equal(u.port, 5248);
	assert_string_equal(u.hostport, "192.0.2.1:5248");
	assert_string_equal(u.path, "/images/debian-12");

	assert_int_equal(imgw_url_parse("HTTP://10.0.0.1", &u, err, sizeof(err)), 0);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/");
	assert_string_equal(u.hostport, "10.0.0.1:80");

	assert_int_equal(imgw_url_parse("http://[2001:db8::1]:8080/a?b=c#frag", &u, err, sizeof(err)), 0);
	assert_true(u.ipv6);
	assert_string_equal(u.host, "2001:db8::1");
	assert_string_equal(u.hostport, "[2001:db8::1]:8080");
	assert_string_equal(u.path, "/a?b=c");

	assert_int_equal(imgw_url_parse("http://10.0.0.1?x", &u, err, sizeof(err)), 0);
	assert_string_equal(u.path, "/?x");
}

static void test_url_refused(void **state)
{
	static const char *const bad[] = {
	    "https://192.0.2.1/x",   /* no TLS here */
	    "ftp://192.0.2.1/x",     /* not http */
	    "http://rack.example/x", /* a name: no resolver */
	    "http://192.0.2.1:0/x",
	    "http://192.0.2.1:65536/x",
	    "http://192.0.2.1:/x",
	    "http://192.0.2.1:8x/x",
	    "http:///x",	     /* no host */
	    "http://[2001:db8::1/x", /* no ']' */
	    "http://[192.0.2.1]/x",  /* not IPv6 in brackets */
	    "http://192.0.2.1/a b",  /* a space in the path */
	    "http://192.0.2.1/\x7f",
	    "http://192.0.2.1@x/",
	};
	struct imgw_url u;
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (imgw_url_parse(bad[i], &u, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_true(strlen(err) > 0);
	}
	imgw_url_parse("https://192.0.2.1/x", &u, err, sizeof(err));
	assert_non_null(strstr(err, "https is not supported"));
	imgw_url_parse("http://rack.example/x", &u, err, sizeof(err));
	assert_non_null(strstr(err, "IP address"));

	char longpath[IMGW_URL_PATH_MAX + 40] = "http://192.0.2.1/";
	memset(longpath + strlen(longpath), 'a', IMGW_URL_PATH_MAX);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(imgw_url_parse(longpath, &u, err, sizeof(err)), -EINVAL);
}

/* ---- the request ---- */

static void test_request(void **state)
{
	struct imgw_url u;
	char buf[4096];

	assert_int_equal(imgw_url_parse("http://192.0.2.1:5248/images/x", &u, NULL, 0), 0);
	int n = imgw_http_request(&u, 0, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_true(strncmp(buf, "GET /images/x HTTP/1.1\r\nHost: 192.0.2.1:5248\r\n", 46) == 0);
	assert_null(strstr(buf, "Range"));
	assert_non_null(strstr(buf, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(buf, "\r\nAccept-Encoding: identity\r\n"));
	assert_string_equal(buf + n - 4, "\r\n\r\n");

	n = imgw_http_request(&u, 1234567890123ULL, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\r\nRange: bytes=1234567890123-\r\n"));
	assert_string_equal(buf + n - 4, "\r\n\r\n");

	assert_int_equal(imgw_http_request(&u, 0, buf, 20), -ENOSPC);
}

/* ---- the response head ---- */

static int parse(const char *s, struct imgw_http_head *h)
{
	return imgw_http_head_parse(s, strlen(s), h);
}

static void test_head_200(void **state)
{
	static const char r[] = "HTTP/1.1 200 OK\r\n"
				"Content-Type: application/octet-stream\r\n"
				"content-length:   1048576  \r\n"
				"Accept-Ranges: bytes\r\n"
				"Connection: keep-alive, Close\r\n"
				"\r\n"
				"BODY";
	struct imgw_http_head h;

	assert_int_equal(parse(r, &h), (int)strlen(r) - 4);
	assert_int_equal(h.version_minor, 1);
	assert_int_equal(h.status, 200);
	assert_string_equal(h.reason, "OK");
	assert_true(h.has_length);
	assert_int_equal(h.content_length, 1048576);
	assert_false(h.has_range);
	assert_false(h.chunked);
	assert_false(h.other_encoding);
	assert_true(h.connection_close);
	assert_int_equal(h.retry_after, -1);
}

/* Every proper prefix is "incomplete"; the whole is the same head. */
static void test_head_incremental(void **state)
{
	static const char r[] = "HTTP/1.0 206 Partial Content\r\n"
				"Content-Range: bytes 100-199/200\r\n"
				"Content-Length: 100\r\n"
				"\r\n";
	struct imgw_http_head h, whole;

	assert_int_equal(parse(r, &whole), (int)strlen(r));
	for (size_t i = 0; i < strlen(r); i++)
		assert_int_equal(imgw_http_head_parse(r, i, &h), 0);
	assert_int_equal(whole.version_minor, 0);
	assert_int_equal(whole.status, 206);
	assert_string_equal(whole.reason, "Partial Content");
	assert_true(whole.has_range);
	assert_false(whole.range_unsatisfied);
	assert_int_equal(whole.range_first, 100);
	assert_int_equal(whole.range_last, 199);
	assert_true(whole.has_range_total);
	assert_int_equal(whole.range_total, 200);
}

static void test_head_forms(void **state)
{
	struct imgw_http_head h;

	/* Bare LF line ends, no reason phrase. */
	assert_int_equal(parse("HTTP/1.1 404\nContent-Length: 0\n\nX", &h), 32);
	assert_int_equal(h.status, 404);
	assert_string_equal(h.reason, "");
	/* 416's unsatisfied range. */
	assert_true(parse("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */4096\r\n\r\n", &h) > 0);
	assert_true(h.has_range && h.range_unsatisfied && h.has_range_total);
	assert_int_equal(h.range_total, 4096);
	/* Unknown total. */
	assert_true(parse("HTTP/1.1 206 x\r\nContent-Range: bytes 0-9/*\r\n\r\n", &h) > 0);
	assert_true(h.has_range && !h.has_range_total);
	/* Codings. */
	assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", &h) > 0);
	assert_true(h.chunked);
	assert_true(h.other_encoding);
	assert_true(parse("HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\n\r\n", &h) > 0);
	assert_false(h.other_encoding);
	assert_true(parse("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n", &h) > 0);
	assert_true(h.other_encoding);
	/* Retry-After: seconds, capped; a date is ignored. */
	assert_true(parse("HTTP/1.1 503 Busy\r\nRetry-After: 7\r\n\r\n", &h) > 0);
	assert_int_equal(h.retry_after, 7);
	assert_true(parse("HTTP/1.1 503 Busy\r\nRetry-After: 999999\r\n\r\n", &h) > 0);
	assert_int_equal(h.retry_after, 86400);
	assert_true(parse("HTTP/1.1 503 Busy\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n", &h) > 0);
	assert_int_equal(h.retry_after, -1);
	/* The same Content-Length twice is one. */
	assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &h) > 0);
	assert_int_equal(h.content_length, 5);
	/* Reason bytes that are not printable ASCII are shown as '?'. */
	assert_true(parse("HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\n\r\n", &h) > 0);
	assert_string_equal(h.reason, "??t??");
}

static void test_head_malformed(void **state)
{
	static const char *const bad[] = {
	    "FOO/1.1 200 OK\r\n\r\n",
	    "HTTP/2 200 OK\r\n\r\n",
	    "HTTP/1.2 200 OK\r\n\r\n",
	    "HTTP/1.1 20 OK\r\n\r\n",
	    "HTTP/1.1 099 OK\r\n\r\n",
	    "HTTP/1.1 600 OK\r\n\r\n",
	    "HTTP/1.1 200OK\r\n\r\n",
	    "HTTP/1.1  200 OK\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nX-A: a\x01\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    "HTTP/1.1 206 x\r\nContent-Range: bytes 10-9/100\r\n\r\n",
	    "HTTP/1.1 206 x\r\nContent-Range: bytes 0-100/100\r\n\r\n",
	    "HTTP/1.1 206 x\r\nContent-Range: bytes */*\r\n\r\n",
	    "HTTP/1.1 206 x\r\nContent-Range: items 0-1/2\r\n\r\n",
	    "HTTP/1.1 206 x\r\nContent-Range: bytes 0-1\r\n\r\n",
	    "HTTP/1.1 206 x\r\nContent-Range: bytes 0-1/2\r\nContent-Range: bytes 0-1/2\r\n\r\n",
	    "\r\nHTTP/1.1 200 OK\r\n\r\n",
	};
	struct imgw_http_head h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &h) != -EBADMSG)
			fail_msg("accepted %s", bad[i]);
	/* A NUL inside a field. */
	static const char nul[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n";
	assert_int_equal(imgw_http_head_parse(nul, sizeof(nul) - 1, &h), -EBADMSG);
	/* Not HTTP: refused at once, not after 16 KiB. */
	assert_int_equal(imgw_http_head_parse("SSH-2", 5, &h), -EBADMSG);
	assert_int_equal(imgw_http_head_parse("HTTP/", 5, &h), 0);
}

static void test_head_limits(void **state)
{
	static char buf[IMGW_HTTP_HEAD_MAX + 64];
	struct imgw_http_head h;

	/* No end within the limit. */
	size_t o = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nX-Long: ");
	memset(buf + o, 'a', sizeof(buf) - o);
	assert_int_equal(imgw_http_head_parse(buf, IMGW_HTTP_HEAD_MAX - 1, &h), 0);
	assert_int_equal(imgw_http_head_parse(buf, IMGW_HTTP_HEAD_MAX, &h), -E2BIG);
	assert_int_equal(imgw_http_head_parse(buf, sizeof(buf), &h), -E2BIG);

	/* Too many fields, though short. */
	o = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= IMGW_HTTP_FIELDS_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "X: %d\r\n", i);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\r\n");
	assert_int_equal(imgw_http_head_parse(buf, o, &h), -E2BIG);
}

/* ---- the resume engine ---- */

static struct imgw_http_head head(int status, int64_t length)
{
	struct imgw_http_head h = {.version_minor = 1, .status = status, .retry_after = -1};

	snprintf(h.reason, sizeof(h.reason), "%s", status == 200 ? "OK" : status == 206 ? "Partial Content" : "X");
	if (length >= 0) {
		h.has_length = true;
		h.content_length = (uint64_t)length;
	}
	return h;
}

static struct imgw_http_head partial(uint64_t first, uint64_t last, uint64_t total)
{
	struct imgw_http_head h = head(206, (int64_t)(last - first + 1));

	h.has_range = h.has_range_total = true;
	h.range_first = first;
	h.range_last = last;
	h.range_total = total;
	return h;
}

static struct imgw_http_decision decide(const struct imgw_http_head *h, uint64_t offset, uint64_t size, bool written)
{
	struct imgw_http_decision d;

	imgw_http_decide(h, offset, size, written, &d);
	return d;
}

static void test_decide_first(void **state)
{
	struct imgw_http_head h = head(200, 1000);
	struct imgw_http_decision d = decide(&h, 0, 1000, false);
	assert_int_equal(d.action, IMGW_HTTP_BODY);
	assert_int_equal(d.body_len, 1000);

	d = decide(&h, 0, 999, false);
	assert_int_equal(d.action, IMGW_HTTP_MISMATCH);
	assert_string_equal(d.err, "size: expected 999 bytes, the server has 1000");

	h.chunked = true;
	d = decide(&h, 0, 1000, false);
	assert_int_equal(d.action, IMGW_HTTP_FAIL);
	assert_non_null(strstr(d.err, "chunked is not supported"));

	h = head(200, -1);
	d = decide(&h, 0, 1000, false);
	assert_int_equal(d.action, IMGW_HTTP_FAIL);
	assert_non_null(strstr(d.err, "no Content-Length"));

	h = head(200, 1000);
	h.other_encoding = true;
	d = decide(&h, 0, 1000, false);
	assert_int_equal(d.action, IMGW_HTTP_FAIL);

	/* A 206 nobody asked for. */
	h = partial(0, 999, 1000);
	d = decide(&h, 0, 1000, false);
	assert_int_equal(d.action, IMGW_HTTP_FAIL);
}

static void test_decide_resume(void **state)
{
	struct imgw_http_head h = partial(400, 999, 1000);
	struct imgw_http_decision d = decide(&h, 400, 1000, true);
	assert_int_equal(d.action, IMGW_HTTP_BODY);
	assert_int_equal(d.body_len, 600);

	/* Not the range asked for. */
	h = partial(300, 999, 1000);
	d = decide(&h, 400, 1000, true);
	assert_int_equal(d.action, IMGW_HTTP_FAIL);
	assert_non_null(strstr(d.err, "does not answer Range: bytes=400-"));
	h = partial(400, 998, 1000);
	assert_int_equal(decide(&h, 400, 1000, true).action, IMGW_HTTP_FAIL);
	/* Another file. */
	h = partial(400, 1099, 1100);
	d = decide(&h, 400, 1000, true);
	assert_int_equal(d.action, IMGW_HTTP_MISMATCH);
	assert_string_equal(d.err, "size: expected 1000 bytes, the server has 1100");
	/* A length that disagrees with the range. */
	h = partial(400, 999, 1000);
	h.content_length = 599;
	d = decide(&h, 400, 1000, true);
	assert_int_equal(d.action, IMGW_HTTP_FAIL);
	assert_non_null(strstr(d.err, "Content-Length 599"));
	/* No Content-Range, or an unknown total. */
	h = head(206, 600);
	assert_int_equal(decide(&h, 400, 1000, true).action, IMGW_HTTP_FAIL);
	h = partial(400, 999, 1000);
	h.has_range_total = false;
	assert_int_equal(decide(&h, 400, 1000, true).action, IMGW_HTTP_FAIL);

	/* Range ignored: start over while nothing is on the disk, else fail. */
	h = head(200, 1000);
	d = decide(&h, 400, 1000, false);
	assert_int_equal(d.action, IMGW_HTTP_RESTART);
	assert_int_equal(d.body_len, 1000);
	d = decide(&h, 400, 1000, true);
	assert_int_equal(d.action, IMGW_HTTP_FAIL);
	assert_non_null(strstr(d.err, "cannot resume"));
	/* ...unless it is not even the right size. */
	h = head(200, 1001);
	assert_int_equal(decide(&h, 400, 1000, false).action, IMGW_HTTP_MISMATCH);
}

static void test_decide_errors(void **state)
{
	struct imgw_http_head h = head(503, 0);
	h.retry_after = 7;
	snprintf(h.reason, sizeof(h.reason), "Service Unavailable");
	struct imgw_http_decision d = decide(&h, 400, 1000, true);
	assert_int_equal(d.action, IMGW_HTTP_RETRY);
	assert_int_equal(d.retry_after, 7);
	assert_string_equal(d.err, "HTTP 503 Service Unavailable");
	h = head(500, -1);
	assert_int_equal(decide(&h, 0, 1000, false).action, IMGW_HTTP_RETRY);
	assert_int_equal(decide(&h, 0, 1000, false).retry_after, -1);
	h = head(429, -1);
	assert_int_equal(decide(&h, 0, 1000, false).action, IMGW_HTTP_RETRY);
	h = head(408, -1);
	assert_int_equal(decide(&h, 0, 1000, false).action, IMGW_HTTP_RETRY);

	h = head(404, 0);
	snprintf(h.reason, sizeof(h.reason), "Not Found");
	d = decide(&h, 0, 1000, false);
	assert_int_equal(d.action, IMGW_HTTP_FAIL);
	assert_string_equal(d.err, "HTTP 404 Not Found");
	h = head(403, 0);
	assert_int_equal(decide(&h, 0, 1000, false).action, IMGW_HTTP_FAIL);
	h = head(301, 0);
	assert_int_equal(decide(&h, 0, 1000, false).action, IMGW_HTTP_FAIL);

	/* 416: the file is shorter than where we were (another file), or
	 * the same size (we asked beyond it: a bug, not retried). */
	h = head(416, 0);
	h.has_range = h.range_unsatisfied = h.has_range_total = true;
	h.range_total = 300;
	assert_int_equal(decide(&h, 400, 1000, true).action, IMGW_HTTP_MISMATCH);
	h.range_total = 1000;
	assert_int_equal(decide(&h, 400, 1000, true).action, IMGW_HTTP_FAIL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_ok),	     cmocka_unit_test(test_url_refused),
	    cmocka_unit_test(test_request),	     cmocka_unit_test(test_head_200),
	    cmocka_unit_test(test_head_incremental), cmocka_unit_test(test_head_forms),
	    cmocka_unit_test(test_head_malformed),   cmocka_unit_test(test_head_limits),
	    cmocka_unit_test(test_decide_first),     cmocka_unit_test(test_decide_resume),
	    cmocka_unit_test(test_decide_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
