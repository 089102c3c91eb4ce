#include "region/api/route.h"

#include <errno.h>
#include <stdio.h>
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
