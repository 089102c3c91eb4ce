/* ironrack-imgwrite's HTTP codec and resume engine (http.h). Pure. */
#include "deploy/ephemeral/imgwrite/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "common/version.h"

/* ---- small lexical helpers ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return true;
	if (c >= 'A' && c <= 'Z')
		return true;
	if (is_digit((char)c))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value's bytes: VCHAR, SP, HTAB and obs-text; no other control. */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A plain decimal number of n bytes into *ret: 1 to 18 digits (below
 * 10^18, so it fits an off_t with room), nothing else. */
static int parse_u64(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > 18)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -EBADMSG;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* s[0..n) equals the lower-case word w, ignoring case. */
static bool word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* ---- the URL ---- */

int imgw_url_parse(const char *url, struct imgw_url *ret, char *err, size_t errlen)
{
	struct imgw_url u = {.port = 80};
	const char *p, *host, *end;
	size_t hlen;

	if (strncasecmp(url, "https://", 8) == 0) {
		err_set(err, errlen, "%s: https is not supported (the rack serves http)", url);
		return -EINVAL;
	}
	if (strncasecmp(url, "http://", 7) != 0) {
		err_set(err, errlen, "%s: not an http:// URL", url);
		return -EINVAL;
	}
	p = url + 7;
	if (*p == '[') {
		host = p + 1;
		end = strchr(host, ']');
		if (!end) {
			err_set(err, errlen, "%s: no ']' after the IPv6 address", url);
			return -EINVAL;
		}
		p = end + 1;
		u.ipv6 = true;
	} else {
		host = p;
		end = host + strcspn(host, ":/?#");
		p = end;
	}
	hlen = (size_t)(end - host);
	if (hlen == 0 || hlen >= sizeof(u.host)) {
		err_set(err, errlen, "%s: no host, or a host too long", url);
		return -EINVAL;
	}
	memcpy(u.host, host, hlen);
	u.host[hlen] = '\0';
	uint8_t addr[16];
	if (inet_pton(u.ipv6 ? AF_INET6 : AF_INET, u.host, addr) != 1) {
		err_set(err, errlen, "%s: the host must be an IP address (the ephemeral environment has no resolver)",
			url);
		return -EINVAL;
	}
	if (*p == ':') {
		const char *digits = ++p;
		uint64_t port;
		size_t n = strspn(digits, "0123456789");
		if (parse_u64(digits, n, &port) < 0 || port == 0 || port > 65535) {
			err_set(err, errlen, "%s: bad port", url);
			return -EINVAL;
		}
		u.port = (uint16_t)port;
		p += n;
	}
	if (*p && *p != '/' && *p != '?' && *p != '#') {
		err_set(err, errlen, "%s: unexpected '%c' after the host", url, *p);
		return -EINVAL;
	}
	size_t plen = strcspn(p, "#");
	if (plen + 2 > sizeof(u.path)) {
		err_set(err, errlen, "%s: path too long", url);
		return -EINVAL;
	}
	for (size_t i = 0; i < plen; i++) {
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f) {
			err_set(err, errlen, "%s: the path must be printable ASCII without spaces (percent-encode it)",
				url);
			return -EINVAL;
		}
	}
	size_t o = 0;
	if (plen == 0 || p[0] != '/')
		u.path[o++] = '/';
	memcpy(u.path + o, p, plen);
	u.path[o + plen] = '\0';
	snprintf(u.hostport, sizeof(u.hostport), u.ipv6 ? "[%s]:%u" : "%s:%u", u.host, (unsigned)u.port);
	*ret = u;
	return 0;
}

/* ---- the request ---- */

int imgw_http_request(const struct imgw_url *url, uint64_t offset, char *buf, size_t len)
{
	char range[48] = "";

	if (offset)
		snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-\r\n", offset);
	int n = snprintf(buf, len,
			 "GET %s HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "User-Agent: ironrack-imgwrite/" IRONRACK_VERSION "\r\n"
			 "Accept-Encoding: identity\r\n"
			 "Connection: close\r\n"
			 "%s"
			 "\r\n",
			 url->path, url->hostport, range);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* ---- the response head ---- */

/* The offset just past the empty line that ends the head in buf[0..len),
 * 0 when there is none yet. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* "HTTP/1.x NNN[ reason]" */
static int parse_status(const char *s, size_t n, struct imgw_http_head *h)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return -EBADMSG;
	if (!is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]))
		return -EBADMSG;
	h->version_minor = s[7] - '0';
	h->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (h->status < 100 || h->status > 599)
		return -EBADMSG;
	if (n > 12 && s[12] != ' ')
		return -EBADMSG;
	size_t o = 0;
	for (size_t i = 13; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_value_char(c))
			return -EBADMSG;
		if (o + 1 < sizeof(h->reason))
			h->reason[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	h->reason[o] = '\0';
	return 0;
}

/* "bytes FIRST-LAST/TOTAL", "bytes * /TOTAL" (without the space),
 * "bytes FIRST-LAST/ *". */
static int parse_content_range(const char *v, size_t n, struct imgw_http_head *h)
{
	const char *p = v, *e = v + n;
	const char *slash, *dash;

	if (n < 6 || strncasecmp(p, "bytes ", 6) != 0)
		return -EBADMSG;
	p += 6;
	slash = memchr(p, '/', (size_t)(e - p));
	if (!slash)
		return -EBADMSG;
	if (slash == p + 1 && *p == '*') {
		h->range_unsatisfied = true;
	} else {
		dash = memchr(p, '-', (size_t)(slash - p));
		if (!dash || parse_u64(p, (size_t)(dash - p), &h->range_first) < 0 ||
		    parse_u64(dash + 1, (size_t)(slash - dash - 1), &h->range_last) < 0 ||
		    h->range_first > h->range_last)
			return -EBADMSG;
	}
	p = slash + 1;
	if (e - p == 1 && *p == '*') {
		if (h->range_unsatisfied)
			return -EBADMSG;
	} else {
		if (parse_u64(p, (size_t)(e - p), &h->range_total) < 0)
			return -EBADMSG;
		if (!h->range_unsatisfied && h->range_last >= h->range_total)
			return -EBADMSG;
		h->has_range_total = true;
	}
	h->has_range = true;
	return 0;
}

/* Calls fn on each comma-separated element of a list value, trimmed. */
static void list_each(const char *v, size_t n, void (*fn)(const char *, size_t, struct imgw_http_head *),
		      struct imgw_http_head *h)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (b > a)
			fn(v + a, b - a, h);
		i = j + 1;
	}
}

static void transfer_coding(const char *s, size_t n, struct imgw_http_head *h)
{
	if (word_is(s, n, "chunked"))
		h->chunked = true;
	else
		h->other_encoding = true;
}

static void content_coding(const char *s, size_t n, struct imgw_http_head *h)
{
	if (!word_is(s, n, "identity"))
		h->other_encoding = true;
}

static void connection_option(const char *s, size_t n, struct imgw_http_head *h)
{
	if (word_is(s, n, "close"))
		h->connection_close = true;
}

/* One "name: value" line (value already trimmed). */
static int parse_field(const char *name, size_t nlen, const char *v, size_t vlen, struct imgw_http_head *h)
{
	uint64_t x;

	if (word_is(name, nlen, "content-length")) {
		if (parse_u64(v, vlen, &x) < 0)
			return -EBADMSG;
		if (h->has_length && x != h->content_length)
			return -EBADMSG;
		h->has_length = true;
		h->content_length = x;
	} else if (word_is(name, nlen, "content-range")) {
		if (h->has_range)
			return -EBADMSG;
		return parse_content_range(v, vlen, h);
	} else if (word_is(name, nlen, "transfer-encoding")) {
		list_each(v, vlen, transfer_coding, h);
	} else if (word_is(name, nlen, "content-encoding")) {
		list_each(v, vlen, content_coding, h);
	} else if (word_is(name, nlen, "connection")) {
		list_each(v, vlen, connection_option, h);
	} else if (word_is(name, nlen, "retry-after")) {
		/* The delay form only; an HTTP-date is ignored. */
		if (parse_u64(v, vlen, &x) == 0)
			h->retry_after = x > 86400 ? 86400 : (int)x;
	}
	return 0;
}

static int parse_field_line(const char *s, size_t n, struct imgw_http_head *h)
{
	size_t i = 0;

	if (n && (s[0] == ' ' || s[0] == '\t'))
		return -EBADMSG; /* obs-fold */
	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i == n || s[i] != ':')
		return -EBADMSG;
	size_t a = i + 1, b = n;
	for (size_t k = a; k < b; k++)
		if (!is_value_char((unsigned char)s[k]))
			return -EBADMSG;
	while (a < b && (s[a] == ' ' || s[a] == '\t'))
		a++;
	while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
		b--;
	return parse_field(s, i, s + a, b - a, h);
}

int imgw_http_head_parse(const char *buf, size_t len, struct imgw_http_head *ret)
{
	static const char prefix[] = "HTTP/1.";
	size_t cmp = len < sizeof(prefix) - 1 ? len : sizeof(prefix) - 1;

	/* Not HTTP at all: say so now rather than after 16 KiB. */
	if (memcmp(buf, prefix, cmp) != 0)
		return -EBADMSG;
	size_t end = head_end(buf, len < IMGW_HTTP_HEAD_MAX ? len : IMGW_HTTP_HEAD_MAX);
	if (!end)
		return len >= IMGW_HTTP_HEAD_MAX ? -E2BIG : 0;

	struct imgw_http_head h = {.retry_after = -1};
	size_t pos = 0, fields = 0;
	bool first = true;
	for (;;) {
		const char *nl = memchr(buf + pos, '\n', end - pos);
		size_t n = (size_t)(nl - (buf + pos));
		const char *line = buf + pos;
		pos += n + 1;
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0)
			break; /* the empty line: end of head */
		if (memchr(line, '\r', n) || memchr(line, '\0', n))
			return -EBADMSG;
		int err;
		if (first) {
			err = parse_status(line, n, &h);
			first = false;
		} else {
			if (++fields > IMGW_HTTP_FIELDS_MAX)
				return -E2BIG;
			err = parse_field_line(line, n, &h);
		}
		if (err < 0)
			return err;
	}
	if (first)
		return -EBADMSG;
	*ret = h;
	return (int)end;
}

/* ---- the resume engine ---- */

static void decide(struct imgw_http_decision *d, enum imgw_http_action a, uint64_t body_len)
{
	d->action = a;
	d->body_len = body_len;
}

/* The body of a 200 or 206 cannot be framed by us: say why, or "". */
static const char *unframeable(const struct imgw_http_head *h)
{
	if (h->chunked)
		return "Transfer-Encoding: chunked is not supported (the rack sends Content-Length)";
	if (h->other_encoding)
		return "a Transfer-Encoding or Content-Encoding is not supported";
	if (!h->has_length)
		return "no Content-Length (cannot tell a whole body from a cut one)";
	return "";
}

static void size_mismatch(struct imgw_http_decision *d, uint64_t size, uint64_t has)
{
	decide(d, IMGW_HTTP_MISMATCH, 0);
	snprintf(d->err, sizeof(d->err), "size: expected %" PRIu64 " bytes, the server has %" PRIu64, size, has);
}

static void decide_200(const struct imgw_http_head *h, uint64_t offset, uint64_t size, bool written,
		       struct imgw_http_decision *d)
{
	const char *why = unframeable(h);

	if (*why) {
		decide(d, IMGW_HTTP_FAIL, 0);
		snprintf(d->err, sizeof(d->err), "%s", why);
	} else if (h->content_length != size) {
		size_mismatch(d, size, h->content_length);
	} else if (offset == 0) {
		decide(d, IMGW_HTTP_BODY, size);
	} else if (!written) {
		decide(d, IMGW_HTTP_RESTART, size);
		snprintf(d->err, sizeof(d->err), "the server ignored Range: bytes=%" PRIu64 "- (200): starting over",
			 offset);
	} else {
		decide(d, IMGW_HTTP_FAIL, 0);
		snprintf(d->err, sizeof(d->err),
			 "the server ignored Range: bytes=%" PRIu64 "- (200) and the disk has been written to already: "
			 "cannot resume",
			 offset);
	}
}

static void decide_206(const struct imgw_http_head *h, uint64_t offset, uint64_t size, struct imgw_http_decision *d)
{
	const char *why = unframeable(h);

	if (offset == 0) {
		decide(d, IMGW_HTTP_FAIL, 0);
		snprintf(d->err, sizeof(d->err), "206 Partial Content to a request without Range");
	} else if (*why) {
		decide(d, IMGW_HTTP_FAIL, 0);
		snprintf(d->err, sizeof(d->err), "%s", why);
	} else if (!h->has_range || h->range_unsatisfied || !h->has_range_total) {
		decide(d, IMGW_HTTP_FAIL, 0);
		snprintf(d->err, sizeof(d->err), "206 Partial Content without a Content-Range FIRST-LAST/TOTAL");
	} else if (h->range_total != size) {
		size_mismatch(d, size, h->range_total);
	} else if (h->range_first != offset || h->range_last != size - 1) {
		decide(d, IMGW_HTTP_FAIL, 0);
		snprintf(d->err, sizeof(d->err),
			 "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
			 " does not answer Range: bytes=%" PRIu64 "-",
			 h->range_first, h->range_last, h->range_total, offset);
	} else if (h->content_length != size - offset) {
		decide(d, IMGW_HTTP_FAIL, 0);
		snprintf(d->err, sizeof(d->err),
			 "Content-Length %" PRIu64 " does not match Content-Range (%" PRIu64 " bytes)",
			 h->content_length, size - offset);
	} else {
		decide(d, IMGW_HTTP_BODY, size - offset);
	}
}

void imgw_http_decide(const struct imgw_http_head *h, uint64_t offset, uint64_t size, bool written,
		      struct imgw_http_decision *ret)
{
	struct imgw_http_decision d = {.retry_after = -1};

	if (h->status == 200) {
		decide_200(h, offset, size, written, &d);
	} else if (h->status == 206) {
		decide_206(h, offset, size, &d);
	} else if (h->status == 416 && h->has_range_total && h->range_total != size) {
		size_mismatch(&d, size, h->range_total);
	} else if (h->status == 408 || h->status == 429 || (h->status >= 500 && h->status <= 599)) {
		decide(&d, IMGW_HTTP_RETRY, 0);
		d.retry_after = h->retry_after;
		snprintf(d.err, sizeof(d.err), "HTTP %d %s", h->status, h->reason);
	} else {
		decide(&d, IMGW_HTTP_FAIL, 0);
		snprintf(d.err, sizeof(d.err), "HTTP %d %s", h->status, h->reason);
	}
	*ret = d;
}
