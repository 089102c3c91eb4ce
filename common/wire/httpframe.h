/* HTTP/1.1 request framing, strictly (RFC 9112 §2-§7): where each request
 * of a connection's byte stream ends, and whether its framing is one a
 * reader in front of us could take differently (request smuggling).
 *
 * Pure and incremental, nginx-style: feed bytes as they arrive, in pieces of
 * any size; the scanner keeps a few dozen bytes of state, never the bytes
 * themselves. It does not parse what the server parses (target, field
 * values); it checks the syntax that decides framing and refuses, with a
 * reason:
 *
 *   - a line ending in a bare LF, or a CR not followed by LF (§2.2);
 *   - control characters other than HTAB in the request line or a field
 *     line, and a field name that is not a token, including whitespace
 *     between the field name and the colon (§5.1) and a line without one;
 *   - a line starting with whitespace: obs-fold, or whitespace between the
 *     request line and the first field (§5.2, §2.2);
 *   - Content-Length that is not 1*DIGIT after optional whitespace (a sign,
 *     a list, hex), or several Content-Length fields with different values
 *     (§6.3; equal ones are one value);
 *   - Transfer-Encoding together with Content-Length, given twice, naming
 *     anything but exactly "chunked", or in an HTTP/1.0 request (§6.1);
 *   - a body (Content-Length > 0 or Transfer-Encoding) on a method libevent
 *     reads none for (HEAD, TRACE, anything unknown): the body would run as
 *     the next request;
 *   - a head (request line, fields, final CRLF) longer than head_max, and a
 *     malformed chunk size line or chunk end.
 *
 * Transfer-Encoding's value is compared as libevent's evhttp reads it
 * (leading spaces and trailing whitespace dropped, nothing else), so that
 * both always agree on whether a body is chunked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum httpframe_error {
	HTTPFRAME_OK,
	HTTPFRAME_BARE_LF,
	HTTPFRAME_BAD_CR,
	HTTPFRAME_CTL,
	HTTPFRAME_FIELD_NAME,
	HTTPFRAME_SPACE_BEFORE_COLON,
	HTTPFRAME_NO_COLON,
	HTTPFRAME_OBS_FOLD,
	HTTPFRAME_CL_INVALID,
	HTTPFRAME_CL_CONFLICT,
	HTTPFRAME_TE_AND_CL,
	HTTPFRAME_TE_UNSUPPORTED,
	HTTPFRAME_TE_HTTP10,
	HTTPFRAME_BODY_NOT_ALLOWED,
	HTTPFRAME_HEAD_TOO_LONG,
	HTTPFRAME_CHUNK_INVALID,
};

/* What the last byte consumed by httpframe_feed completed. */
enum httpframe_event {
	HTTPFRAME_MORE, /* nothing: every byte given was consumed */
	HTTPFRAME_HEAD, /* the head of a request with a body */
	HTTPFRAME_DONE, /* a whole request (a head without body, or the body's last byte) */
};

#define HTTPFRAME_METHOD_MAX 8

/* Scanner state; fields are private to httpframe.c. */
struct httpframe {
	uint8_t state;
	uint8_t field;	 /* which field the current line is */
	uint8_t cl_part; /* where in a Content-Length value we are */
	bool has_cl, has_te;
	bool te_ok;	    /* the Transfer-Encoding value is exactly "chunked" so far */
	bool method_done;   /* the method ended (first SP) */
	uint8_t method_len; /* bytes of the method, HTTPFRAME_METHOD_MAX + 1 = longer */
	uint8_t name_len;   /* bytes of the current field name (saturates) */
	uint8_t te_len;	    /* bytes of the Transfer-Encoding value seen so far */
	uint8_t te_trail;   /* trailing whitespace after it, pending */
	char method[HTTPFRAME_METHOD_MAX];
	char name[20];	      /* lowercased start of the current field name */
	char tail[8];	      /* last bytes of the request line (the version) */
	uint64_t cl, cl_line; /* Content-Length so far; the current field's value */
	uint64_t left;	      /* body or chunk bytes still to come */
	size_t head_len, head_max;
	enum httpframe_error error;
};

/* Ready for a connection's first request; heads may be head_max bytes. */
void httpframe_init(struct httpframe *f, size_t head_max);

/* Scan up to n bytes of the stream. Stops after the byte that completes a
 * head or a request, so that the caller can act at that point: returns
 * the number of bytes consumed (0..n) and sets *ret_event. On a framing
 * error returns -EBADMSG, f->error says why, and the scanner stays failed. */
int httpframe_feed(struct httpframe *f, const uint8_t *p, size_t n, enum httpframe_event *ret_event);

/* Between requests: no byte of the next one seen yet. */
bool httpframe_at_start(const struct httpframe *f);
/* Inside a request's head (its bytes are to be checked before anyone acts on them). */
bool httpframe_in_head(const struct httpframe *f);
/* Why the scanner failed, for a log line. */
const char *httpframe_strerror(enum httpframe_error e);
