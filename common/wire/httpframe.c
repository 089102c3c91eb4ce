/* HTTP/1.1 request framing; see httpframe.h. */
#include "common/wire/httpframe.h"

#include <errno.h>
#include <string.h>

enum {
	S_START, /* between requests */
	S_REQLINE,
	S_REQLINE_CR,
	S_FIELD_START,
	S_NAME,
	S_VALUE,
	S_VALUE_CR,
	S_HEAD_CR,
	S_BODY,
	S_CHUNK_SIZE,
	S_CHUNK_EXT,
	S_CHUNK_SIZE_CR,
	S_CHUNK_DATA,
	S_CHUNK_DATA_CR,
	S_CHUNK_DATA_LF,
	S_TRAILER_START,
	S_TRAILER_LINE,
	S_TRAILER_CR,
	S_TRAILER_END_CR,
	S_FAILED,
};

enum { FIELD_OTHER, FIELD_CL, FIELD_TE };

/* Content-Length value: leading whitespace, digits, trailing whitespace. */
enum { CL_LEAD, CL_DIGITS, CL_TRAIL };

#define CL_MAX	  1000000000000000000ull /* 10^18: far beyond any body we take */
#define CHUNK_MAX (1ull << 56)

static const char te_chunked[] = "chunked";
#define TE_CHUNKED_LEN (sizeof(te_chunked) - 1)

void httpframe_init(struct httpframe *f, size_t head_max)
{
	memset(f, 0, sizeof(*f));
	f->head_max = head_max;
}

/* Ready for the next request on the connection. */
static void frame_next(struct httpframe *f)
{
	httpframe_init(f, f->head_max);
}

static int frame_fail(struct httpframe *f, enum httpframe_error e)
{
	f->state = S_FAILED;
	f->error = e;
	return -EBADMSG;
}

static bool is_ctl(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* The methods libevent reads a body for (evhttp_method_may_have_body). */
static bool method_may_have_body(const struct httpframe *f)
{
	static const char *const with_body[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT"};
	for (size_t i = 0; i < sizeof(with_body) / sizeof(with_body[0]); i++) {
		if (f->method_len == strlen(with_body[i]) && memcmp(f->method, with_body[i], f->method_len) == 0)
			return true;
	}
	return false;
}

/* ---- the head ---- */

static int reqline_byte(struct httpframe *f, uint8_t c)
{
	if (c == '\r') {
		f->state = S_REQLINE_CR;
		return 0;
	}
	if (c == '\n')
		return frame_fail(f, HTTPFRAME_BARE_LF);
	if (is_ctl(c))
		return frame_fail(f, HTTPFRAME_CTL);
	if (!f->method_done) {
		if (c == ' ')
			f->method_done = true;
		else if (f->method_len < HTTPFRAME_METHOD_MAX)
			f->method[f->method_len++] = (char)c;
		else
			f->method_len = HTTPFRAME_METHOD_MAX + 1;
	}
	memmove(f->tail, f->tail + 1, sizeof(f->tail) - 1);
	f->tail[sizeof(f->tail) - 1] = (char)c;
	return 0;
}

static int name_start(struct httpframe *f, uint8_t c)
{
	if (c == '\r') {
		f->state = S_HEAD_CR;
		return 0;
	}
	if (c == '\n')
		return frame_fail(f, HTTPFRAME_BARE_LF);
	if (is_ows(c))
		return frame_fail(f, HTTPFRAME_OBS_FOLD);
	if (!is_tchar(c))
		return frame_fail(f, is_ctl(c) ? HTTPFRAME_CTL : HTTPFRAME_FIELD_NAME);
	f->name_len = 1;
	f->name[0] = (char)lower(c);
	f->state = S_NAME;
	return 0;
}

static bool name_is(const struct httpframe *f, const char *name)
{
	size_t n = strlen(name);
	return f->name_len == n && memcmp(f->name, name, n) == 0;
}

static int name_byte(struct httpframe *f, uint8_t c)
{
	if (is_tchar(c)) {
		if (f->name_len < sizeof(f->name))
			f->name[f->name_len] = (char)lower(c);
		if (f->name_len <= sizeof(f->name))
			f->name_len++;
		return 0;
	}
	if (is_ows(c))
		return frame_fail(f, HTTPFRAME_SPACE_BEFORE_COLON);
	if (c == '\r' || c == '\n')
		return frame_fail(f, HTTPFRAME_NO_COLON);
	if (c != ':')
		return frame_fail(f, is_ctl(c) ? HTTPFRAME_CTL : HTTPFRAME_FIELD_NAME);
	f->field = FIELD_OTHER;
	if (name_is(f, "content-length")) {
		f->field = FIELD_CL;
		f->cl_part = CL_LEAD;
		f->cl_line = 0;
	} else if (name_is(f, "transfer-encoding")) {
		if (f->has_te) /* a list in two fields: evhttp would read the first only */
			return frame_fail(f, HTTPFRAME_TE_UNSUPPORTED);
		f->field = FIELD_TE;
		f->has_te = true;
		f->te_ok = true;
		f->te_len = 0;
		f->te_trail = 0;
	}
	f->state = S_VALUE;
	return 0;
}

static int cl_byte(struct httpframe *f, uint8_t c)
{
	bool digit = c >= '0' && c <= '9';

	switch (f->cl_part) {
	case CL_LEAD:
		if (is_ows(c))
			return 0;
		if (!digit)
			return frame_fail(f, HTTPFRAME_CL_INVALID);
		f->cl_part = CL_DIGITS;
		f->cl_line = (uint64_t)(c - '0');
		return 0;
	case CL_DIGITS:
		if (is_ows(c)) {
			f->cl_part = CL_TRAIL;
			return 0;
		}
		if (!digit || f->cl_line > (CL_MAX - 9) / 10)
			return frame_fail(f, HTTPFRAME_CL_INVALID);
		f->cl_line = f->cl_line * 10 + (uint64_t)(c - '0');
		return 0;
	default:
		return is_ows(c) ? 0 : frame_fail(f, HTTPFRAME_CL_INVALID);
	}
}

/* As evhttp reads it: leading spaces skipped, trailing SP/HTAB dropped,
 * the rest compared with "chunked" ignoring case. */
static void te_byte(struct httpframe *f, uint8_t c)
{
	if (f->te_len == 0 && f->te_trail == 0 && c == ' ')
		return;
	if (is_ows(c)) {
		if (f->te_trail < 255)
			f->te_trail++;
		return;
	}
	if (f->te_trail || f->te_len >= TE_CHUNKED_LEN || lower(c) != (uint8_t)te_chunked[f->te_len])
		f->te_ok = false;
	f->te_trail = 0;
	if (f->te_len < 255)
		f->te_len++;
}

static int value_byte(struct httpframe *f, uint8_t c)
{
	if (c == '\r') {
		f->state = S_VALUE_CR;
		return 0;
	}
	if (c == '\n')
		return frame_fail(f, HTTPFRAME_BARE_LF);
	if (is_ctl(c) && c != '\t')
		return frame_fail(f, HTTPFRAME_CTL);
	if (f->field == FIELD_CL)
		return cl_byte(f, c);
	if (f->field == FIELD_TE)
		te_byte(f, c);
	return 0;
}

static int value_end(struct httpframe *f)
{
	if (f->field == FIELD_CL) {
		if (f->cl_part == CL_LEAD)
			return frame_fail(f, HTTPFRAME_CL_INVALID);
		if (f->has_cl && f->cl != f->cl_line)
			return frame_fail(f, HTTPFRAME_CL_CONFLICT);
		f->has_cl = true;
		f->cl = f->cl_line;
	} else if (f->field == FIELD_TE && !(f->te_ok && f->te_len == TE_CHUNKED_LEN)) {
		return frame_fail(f, HTTPFRAME_TE_UNSUPPORTED);
	}
	f->state = S_FIELD_START;
	return 0;
}

/* The empty line: what follows the head. */
static int head_end(struct httpframe *f, enum httpframe_event *ret_event)
{
	if (f->has_te && f->has_cl)
		return frame_fail(f, HTTPFRAME_TE_AND_CL);
	if (f->has_te && memcmp(f->tail, "HTTP/1.0", sizeof(f->tail)) == 0)
		return frame_fail(f, HTTPFRAME_TE_HTTP10);
	if ((f->has_te || f->cl > 0) && !method_may_have_body(f))
		return frame_fail(f, HTTPFRAME_BODY_NOT_ALLOWED);
	if (f->has_te) {
		f->state = S_CHUNK_SIZE;
		f->head_len = 0; /* from here: the length of a chunk line or the trailers */
		f->left = 0;
		f->name_len = 0; /* digits of the chunk size */
		*ret_event = HTTPFRAME_HEAD;
	} else if (f->cl > 0) {
		f->state = S_BODY;
		f->left = f->cl;
		*ret_event = HTTPFRAME_HEAD;
	} else {
		frame_next(f);
		*ret_event = HTTPFRAME_DONE;
	}
	return 0;
}

static int head_byte(struct httpframe *f, uint8_t c, enum httpframe_event *ret_event)
{
	if (++f->head_len > f->head_max)
		return frame_fail(f, HTTPFRAME_HEAD_TOO_LONG);
	switch (f->state) {
	case S_START:
		f->state = S_REQLINE;
		return reqline_byte(f, c);
	case S_REQLINE:
		return reqline_byte(f, c);
	case S_REQLINE_CR:
		if (c != '\n')
			return frame_fail(f, HTTPFRAME_BAD_CR);
		f->state = S_FIELD_START;
		return 0;
	case S_FIELD_START:
		return name_start(f, c);
	case S_NAME:
		return name_byte(f, c);
	case S_VALUE:
		return value_byte(f, c);
	case S_VALUE_CR:
		return c == '\n' ? value_end(f) : frame_fail(f, HTTPFRAME_BAD_CR);
	default: /* S_HEAD_CR */
		return c == '\n' ? head_end(f, ret_event) : frame_fail(f, HTTPFRAME_BAD_CR);
	}
}

/* ---- a chunked body (RFC 9112 §7.1) ---- */

static int chunk_size_byte(struct httpframe *f, uint8_t c)
{
	int v = hex_value(c);
	if (v >= 0) {
		if (f->left >= CHUNK_MAX)
			return frame_fail(f, HTTPFRAME_CHUNK_INVALID);
		f->left = f->left * 16 + (uint64_t)v;
		f->name_len = 1;
		return 0;
	}
	if (c == '\n')
		return frame_fail(f, HTTPFRAME_BARE_LF);
	if (!f->name_len || (c != '\r' && c != ';' && !is_ows(c)))
		return frame_fail(f, HTTPFRAME_CHUNK_INVALID);
	f->state = c == '\r' ? S_CHUNK_SIZE_CR : S_CHUNK_EXT;
	return 0;
}

/* A line of the chunked framing other than data: size, extension, trailers. */
static int chunk_line_byte(struct httpframe *f, uint8_t c, enum httpframe_event *ret_event)
{
	if (++f->head_len > f->head_max)
		return frame_fail(f, HTTPFRAME_HEAD_TOO_LONG);
	switch (f->state) {
	case S_CHUNK_SIZE:
		return chunk_size_byte(f, c);
	case S_CHUNK_EXT:
	case S_TRAILER_LINE:
		if (c == '\r')
			f->state = f->state == S_CHUNK_EXT ? S_CHUNK_SIZE_CR : S_TRAILER_CR;
		else if (c == '\n')
			return frame_fail(f, HTTPFRAME_BARE_LF);
		else if (is_ctl(c) && c != '\t')
			return frame_fail(f, HTTPFRAME_CTL);
		return 0;
	case S_CHUNK_SIZE_CR:
		if (c != '\n')
			return frame_fail(f, HTTPFRAME_BAD_CR);
		f->state = f->left ? S_CHUNK_DATA : S_TRAILER_START;
		f->head_len = 0;
		return 0;
	case S_CHUNK_DATA_CR:
		if (c != '\r')
			return frame_fail(f, HTTPFRAME_CHUNK_INVALID);
		f->state = S_CHUNK_DATA_LF;
		return 0;
	case S_CHUNK_DATA_LF:
		if (c != '\n')
			return frame_fail(f, HTTPFRAME_BAD_CR);
		f->state = S_CHUNK_SIZE;
		f->head_len = 0;
		f->left = 0;
		f->name_len = 0;
		return 0;
	case S_TRAILER_START:
		if (c == '\r')
			f->state = S_TRAILER_END_CR;
		else if (c == '\n')
			return frame_fail(f, HTTPFRAME_BARE_LF);
		else if (is_ows(c))
			return frame_fail(f, HTTPFRAME_OBS_FOLD);
		else if (is_ctl(c))
			return frame_fail(f, HTTPFRAME_CTL);
		else
			f->state = S_TRAILER_LINE;
		return 0;
	case S_TRAILER_CR:
		if (c != '\n')
			return frame_fail(f, HTTPFRAME_BAD_CR);
		f->state = S_TRAILER_START;
		return 0;
	default: /* S_TRAILER_END_CR */
		if (c != '\n')
			return frame_fail(f, HTTPFRAME_BAD_CR);
		frame_next(f);
		*ret_event = HTTPFRAME_DONE;
		return 0;
	}
}

int httpframe_feed(struct httpframe *f, const uint8_t *p, size_t n, enum httpframe_event *ret_event)
{
	size_t i = 0;

	*ret_event = HTTPFRAME_MORE;
	if (f->state == S_FAILED)
		return -EBADMSG;
	while (i < n && *ret_event == HTTPFRAME_MORE) {
		int r;
		if (f->state == S_BODY || f->state == S_CHUNK_DATA) {
			uint64_t take = n - i < f->left ? n - i : f->left;
			i += (size_t)take;
			f->left -= take;
			if (f->left)
				continue;
			if (f->state == S_CHUNK_DATA) {
				f->state = S_CHUNK_DATA_CR;
			} else {
				frame_next(f);
				*ret_event = HTTPFRAME_DONE;
			}
			continue;
		}
		if (f->state <= S_HEAD_CR)
			r = head_byte(f, p[i], ret_event);
		else
			r = chunk_line_byte(f, p[i], ret_event);
		if (r < 0)
			return r;
		i++;
	}
	return (int)i;
}

bool httpframe_at_start(const struct httpframe *f)
{
	return f->state == S_START;
}

bool httpframe_in_head(const struct httpframe *f)
{
	return f->state <= S_HEAD_CR;
}

const char *httpframe_strerror(enum httpframe_error e)
{
	switch (e) {
	case HTTPFRAME_OK:
		return "no error";
	case HTTPFRAME_BARE_LF:
		return "a line ends in a bare LF";
	case HTTPFRAME_BAD_CR:
		return "CR not followed by LF";
	case HTTPFRAME_CTL:
		return "a control character in the request line or a field";
	case HTTPFRAME_FIELD_NAME:
		return "a field name that is not a token";
	case HTTPFRAME_SPACE_BEFORE_COLON:
		return "whitespace between a field name and its colon";
	case HTTPFRAME_NO_COLON:
		return "a field line without a colon";
	case HTTPFRAME_OBS_FOLD:
		return "a line starting with whitespace (obs-fold)";
	case HTTPFRAME_CL_INVALID:
		return "Content-Length is not a decimal number";
	case HTTPFRAME_CL_CONFLICT:
		return "Content-Length fields with different values";
	case HTTPFRAME_TE_AND_CL:
		return "Transfer-Encoding together with Content-Length";
	case HTTPFRAME_TE_UNSUPPORTED:
		return "Transfer-Encoding other than one \"chunked\"";
	case HTTPFRAME_TE_HTTP10:
		return "Transfer-Encoding in an HTTP/1.0 request";
	case HTTPFRAME_BODY_NOT_ALLOWED:
		return "a body on a method that has none";
	case HTTPFRAME_HEAD_TOO_LONG:
		return "request header too long";
	case HTTPFRAME_CHUNK_INVALID:
		return "malformed chunked body";
	}
	return "?";
}
