/* ironrack-imgwrite's HTTP/1.1 client codec and resume engine: the image
 * URL, the GET request, the response head, and what to do with a response
 * given how far the download has come.
 *
 * Pure: no sockets, no clock, no logging, no globals; every function only
 * reads its arguments and writes its ret_ outputs, so it is re-entrant and
 * the fuzz target (tests/fuzz/fuzz_imgwrite_http.c) and the unit tests
 * (tests/unit/test_imgwrite_http.c) drive it directly.
 *
 * What is supported is what the rack serves (rack/boot/http.h): HTTP/1.0 or
 * 1.1, a body framed by Content-Length, one byte range (206 with
 * Content-Range) for a resumed download. Everything else is refused with a
 * message saying so: Transfer-Encoding (chunked or any other), a
 * Content-Encoding other than identity, a 200 or 206 without
 * Content-Length. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the URL ---- */

#define IMGW_URL_HOST_MAX 64 /* an IPv6 literal with brackets fits */
#define IMGW_URL_PATH_MAX 2048

/* http://HOST[:PORT]/PATH where HOST is an IPv4 literal or a bracketed
 * IPv6 literal (the rack's URL is always an address: the initramfs has no
 * resolver). The port defaults to 80. PATH keeps its query, loses a
 * fragment, and must be printable ASCII without spaces. */
struct imgw_url {
	char host[IMGW_URL_HOST_MAX]; /* without brackets: "192.0.2.1", "2001:db8::1" */
	bool ipv6;
	uint16_t port;
	char hostport[IMGW_URL_HOST_MAX + 8]; /* the Host header: "192.0.2.1:5248", "[2001:db8::1]:80" */
	char path[IMGW_URL_PATH_MAX];	      /* "/images/debian-12" */
};
/* 0, or -EINVAL with the reason in err. */
int imgw_url_parse(const char *url, struct imgw_url *ret, char *err, size_t errlen);

/* ---- the request ---- */

/* The GET request for url, asking for bytes from offset on when offset is
 * not 0 ("Range: bytes=OFFSET-"). Returns its length, or -ENOSPC when buf
 * is too small (1 KiB more than the path always suffices). */
int imgw_http_request(const struct imgw_url *url, uint64_t offset, char *buf, size_t len);

/* ---- the response head ---- */

#define IMGW_HTTP_HEAD_MAX   16384 /* a longer head is refused */
#define IMGW_HTTP_FIELDS_MAX 100
#define IMGW_HTTP_REASON_MAX 64

/* What the head says. Unset numbers are 0 with their has_ flag false. */
struct imgw_http_head {
	int version_minor;		   /* HTTP/1.0 or HTTP/1.1 */
	int status;			   /* 100..599 */
	char reason[IMGW_HTTP_REASON_MAX]; /* printable ASCII, truncated */

	bool has_length;
	uint64_t content_length;

	/* Content-Range: "bytes FIRST-LAST/TOTAL"; a 416's has "*" for
	 * FIRST-LAST (range_unsatisfied); TOTAL may be "*" (unknown). */
	bool has_range;
	bool range_unsatisfied;
	uint64_t range_first, range_last;
	bool has_range_total;
	uint64_t range_total;

	bool chunked;	       /* Transfer-Encoding names chunked */
	bool other_encoding;   /* Transfer-Encoding other than chunked, or Content-Encoding other than identity */
	bool connection_close; /* Connection: close */
	int retry_after;       /* Retry-After in seconds (delay form), -1 when absent */
};

/* Parse the response head at the start of buf[0..len). Re-entrant and
 * incremental in the nginx way: call it again with more bytes until it
 * answers.
 *   > 0        the head's length, its empty line included; the body
 *              starts there.
 *   0          incomplete: read more (the head ends at an empty line).
 *   -E2BIG     no end of head within IMGW_HTTP_HEAD_MAX bytes, or more
 *              than IMGW_HTTP_FIELDS_MAX fields.
 *   -EBADMSG   malformed: not "HTTP/1.x NNN ...", a field without a colon
 *              or with a space before it, an obsolete folded line, a NUL
 *              or other control byte, a Content-Length or Content-Range
 *              that is not a well-formed number or range (or two that
 *              disagree), a range whose FIRST is past its LAST or TOTAL.
 * Lines may end in CRLF or a bare LF (RFC 9112 2.2). Unknown fields are
 * ignored. *ret is written only on > 0. */
int imgw_http_head_parse(const char *buf, size_t len, struct imgw_http_head *ret);

/* ---- the resume engine ---- */

enum imgw_http_action {
	IMGW_HTTP_BODY,	    /* read body_len bytes: the file from offset on */
	IMGW_HTTP_RESTART,  /* read body_len bytes: the whole file again, from 0 */
	IMGW_HTTP_RETRY,    /* a transient failure: close, wait, ask again */
	IMGW_HTTP_FAIL,	    /* the download cannot succeed: stop (stage download) */
	IMGW_HTTP_MISMATCH, /* the server's file is not the expected size (stage verify) */
};

struct imgw_http_decision {
	enum imgw_http_action action;
	uint64_t body_len;
	int retry_after; /* seconds the server asked for, -1 = none (RETRY) */
	char err[200];	 /* why, for RETRY, FAIL and MISMATCH */
};

/* What to do with the response head h to "GET, Range: bytes=offset-" (no
 * Range when offset is 0) for a file of size bytes, where written says
 * whether anything has reached the disk yet. The rules:
 *   - 200 with Content-Length == size: BODY from 0 if offset is 0; else
 *     the server ignored the Range: RESTART when nothing was written yet,
 *     FAIL otherwise (the bytes already on the disk cannot be taken back
 *     into the hash).
 *   - 206 only to a Range request, with a Content-Range "bytes
 *     OFFSET-(size-1)/size" and a Content-Length to match: BODY.
 *   - a Content-Length (200) or Content-Range total (206, 416) other than
 *     size: MISMATCH.
 *   - 408, 429, 5xx: RETRY (Retry-After passed on).
 *   - anything else, and whatever the codec refuses to frame
 *     (Transfer-Encoding, Content-Encoding, no Content-Length): FAIL.
 * offset must be < size (a complete download asks for nothing). */
void imgw_http_decide(const struct imgw_http_head *h, uint64_t offset, uint64_t size, bool written,
		      struct imgw_http_decision *ret);
