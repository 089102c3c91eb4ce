#include "region/api/route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char *const method_names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
#define N_METHODS (sizeof(method_names) / sizeof(method_names[0]))

const char *api_method_name(unsigned method)
{
	for (size_t i = 0; i < N_METHODS; i++)
		if (method == 1u << i)
			return method_names[i];
	return "?";
}

int api_allow_format(unsigned mask, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (size_t i = 0; i < N_METHODS; i++) {
		if (!(mask & (1u << i)))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", method_names[i]);
		if (n < 0 || (size_t)n >= len - used)
			return -ENOSPC;
		used += (size_t)n;
	}
	return 0;
}

/* Decode one path segment. A decoded '/' or NUL would let a parameter
 * smuggle structure past the router, so both are refused. */
static bool segment_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			int hi = hex_digit_value(s[i + 1]), lo = hex_digit_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi << 4 | lo);
			if (c == '\0' || c == '/')
				return false;
			i += 2;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

bool api_path_match(const char *pattern, const char *path, char params[][API_PARAM_MAX + 1], size_t max, size_t *ret_n)
{
	size_t plen = strlen(path);
	size_t n = 0;

	if (plen > API_PATH_MAX || path[0] != '/' || pattern[0] != '/')
		return false;
	if (plen > 1 && path[plen - 1] == '/')
		plen--;
	const char *pp = pattern + 1, *sp = path + 1, *send = path + plen;
	for (;;) {
		const char *pe = strchrnul(pp, '/');
		const char *se = memchr(sp, '/', (size_t)(send - sp));
		if (!se)
			se = send;
		size_t pn = (size_t)(pe - pp), sn = (size_t)(se - sp);
		if (pn > 2 && pp[0] == '{' && pp[pn - 1] == '}') {
			if (n >= max || !segment_decode(sp, sn, params[n], API_PARAM_MAX + 1))
				return false;
			n++;
		} else if (pn != sn || memcmp(pp, sp, pn) != 0) {
			return false;
		}
		bool pat_done = *pe == '\0', path_done = se == send;
		if (pat_done || path_done) {
			if (pat_done != path_done)
				return false;
			break;
		}
		pp = pe + 1;
		sp = se + 1;
	}
	*ret_n = n;
	return true;
}

int api_route_find(const struct api_route *table, size_t n, unsigned method, const char *path, struct api_match *ret)
{
	/* HEAD is GET without the body; evhttp drops the body for us. */
	unsigned want = method == API_HEAD ? API_GET : method;
	char params[API_MAX_PARAMS][API_PARAM_MAX + 1];
	size_t n_params;

	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < n; i++) {
		const struct api_route *rt = &table[i];
		if (!api_path_match(rt->pattern, path, params, API_MAX_PARAMS, &n_params))
			continue;
		ret->allow |= rt->methods;
		if (rt->methods & API_GET)
			ret->allow |= API_HEAD;
		if (ret->route && (ret->route->methods & want))
			continue;
		if (!ret->route || (rt->methods & want)) {
			ret->route = rt;
			ret->n_params = n_params;
			memcpy(ret->params, params, sizeof(params));
		}
	}
	if (!ret->route)
		return -ENOENT;
	return (ret->route->methods & want) ? 0 : -EOPNOTSUPP;
}

/* ---- UTF-8 of the request's inputs ---- */

/* Length of the valid UTF-8 sequence at s[0..len), or 0 if there is none. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

bool api_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

void api_utf8_sanitize(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t slen = strlen(s), o = 0;

	if (len == 0)
		return;
	for (size_t i = 0; i < slen;) {
		size_t n = utf8_seq_len(p + i, slen - i);
		char esc[5];
		const char *out = (const char *)p + i;
		size_t outn = n;
		if (n == 0) {
			snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
			out = esc;
			outn = 4;
			n = 1;
		}
		if (o + outn + 1 > len)
			break;
		memcpy(buf + o, out, outn);
		o += outn;
		i += n;
	}
	buf[o] = '\0';
}

/* Percent-decode s[0..n) into a new string (lenient, as evhttp is: a '%'
 * without two hex digits stays as it is); '+' is a space when plus. The
 * caller frees it; *ret_len is its length (it may hold NULs). */
static char *uri_decode(const char *s, size_t n, bool plus, size_t *ret_len)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hex_digit_value(s[i + 1])) >= 0 &&
		    (lo = hex_digit_value(s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus && s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

/* The name of the i-th "{name}" of pattern, into buf. */
static void pattern_param_name(const char *pattern, size_t i, char *buf, size_t len)
{
	const char *p = pattern;

	snprintf(buf, len, "path");
	for (size_t k = 0; (p = strchr(p, '{')) != NULL; k++, p++) {
		const char *end = strchr(p, '}');
		if (!end)
			return;
		if (k == i) {
			snprintf(buf, len, "%.*s", (int)(end - p - 1), p + 1);
			return;
		}
	}
}

static int input_bad(struct api_input_error *ret, const char *what, const char *name)
{
	snprintf(ret->field, sizeof(ret->field), "%s", name);
	if (strcmp(name, "path") == 0 || strcmp(name, "query") == 0)
		snprintf(ret->message, sizeof(ret->message), "the request's %s is not valid UTF-8", name);
	else
		snprintf(ret->message, sizeof(ret->message), "%s parameter '%s' is not valid UTF-8", what, name);
	return -EILSEQ;
}

static int query_check(const char *query, struct api_input_error *ret)
{
	const char *p = query;

	while (*p) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		size_t name_n = eq ? (size_t)(eq - p) : n;
		size_t name_len, value_len;
		char *name = uri_decode(p, name_n, true, &name_len);
		char *value = eq ? uri_decode(eq + 1, n - name_n - 1, true, &value_len) : NULL;
		int r = 0;
		/* evhttp gives handlers the name undecoded, so both forms count. */
		if (!api_utf8_valid(p, name_n) || !api_utf8_valid(name, name_len) || memchr(name, '\0', name_len))
			r = input_bad(ret, "query", "query");
		else if (value && !api_utf8_valid(value, value_len))
			r = name_len == 0 || name_len > API_PARAM_MAX ? input_bad(ret, "query", "query")
								      : input_bad(ret, "query", name);
		free(name);
		free(value);
		if (r < 0)
			return r;
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

int api_input_check(const struct api_match *match, const char *path, const char *query, struct api_input_error *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (match->route) {
		for (size_t i = 0; i < match->n_params; i++) {
			if (api_utf8_valid(match->params[i], strlen(match->params[i])))
				continue;
			char name[API_PARAM_MAX + 1];
			pattern_param_name(match->route->pattern, i, name, sizeof(name));
			return input_bad(ret, "path", name);
		}
	} else {
		size_t len;
		char *decoded = uri_decode(path, strlen(path), false, &len);
		bool ok = api_utf8_valid(decoded, len);
		free(decoded);
		if (!ok)
			return input_bad(ret, "path", "path");
	}
	return query ? query_check(query, ret) : 0;
}

int api_request_route(const struct api_route *table, size_t n, unsigned method, const char *path, const char *query,
		      struct api_match *ret_match, struct api_input_error *ret_bad)
{
	int rc = api_route_find(table, n, method, path, ret_match);
	int bad = api_input_check(ret_match, path, query, ret_bad);
	return bad < 0 ? bad : rc;
}
