/* DHCPv4 option accessors for what the server reads (PXE, user class,
 * relay agent information), option value encoders (RFC 3442 routes,
 * RFC 3397 domain search) and the DHCP snippet parser; declared in
 * dhcp4.h. */
#include "common/wire/dhcp4.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/net.h"
#include "common/util.h"
#include "common/wire/bytes.h"

/* The value of code if it is exactly want bytes long; else NULL, *ret
 * -ENOENT or -EBADMSG. */
static const uint8_t *option_len(const struct dhcp4_msg *m, uint8_t code, size_t want, int *ret)
{
	size_t len;
	const uint8_t *v = dhcp4_msg_option(m, code, &len);

	*ret = !v ? -ENOENT : len != want ? -EBADMSG : 0;
	return *ret ? NULL : v;
}

/* ---- accessors ------------------------------------------------------------ */

const uint8_t *dhcp4_msg_client_id(const struct dhcp4_msg *m, size_t *ret_len)
{
	return dhcp4_msg_option(m, DHCP4_OPT_CLIENT_ID, ret_len);
}

const uint8_t *dhcp4_msg_param_list(const struct dhcp4_msg *m, size_t *ret_len)
{
	return dhcp4_msg_option(m, DHCP4_OPT_PARAM_LIST, ret_len);
}

const char *dhcp4_msg_vendor_class(const struct dhcp4_msg *m, size_t *ret_len)
{
	return (const char *)dhcp4_msg_option(m, DHCP4_OPT_VENDOR_CLASS, ret_len);
}

const char *dhcp4_msg_hostname(const struct dhcp4_msg *m, size_t *ret_len)
{
	return (const char *)dhcp4_msg_option(m, DHCP4_OPT_HOSTNAME, ret_len);
}

const uint8_t *dhcp4_msg_fqdn(const struct dhcp4_msg *m, size_t *ret_len)
{
	return dhcp4_msg_option(m, DHCP4_OPT_FQDN, ret_len);
}

bool dhcp4_msg_requests(const struct dhcp4_msg *m, uint8_t code)
{
	size_t len;
	const uint8_t *v = dhcp4_msg_param_list(m, &len);
	return v && len && memchr(v, code, len) != NULL;
}

bool dhcp4_msg_vendor_class_has_prefix(const struct dhcp4_msg *m, const char *prefix)
{
	size_t len, plen = strlen(prefix);
	const char *v = dhcp4_msg_vendor_class(m, &len);
	return v && len >= plen && memcmp(v, prefix, plen) == 0;
}

int dhcp4_user_class_next(const uint8_t *data, size_t len, size_t *pos, const uint8_t **ret, size_t *ret_len)
{
	size_t p = *pos;

	if (p >= len)
		return 0;
	size_t l = data[p];
	if (l == 0 || l > len - p - 1)
		return -EBADMSG;
	*ret = data + p + 1;
	*ret_len = l;
	*pos = p + 1 + l;
	return 1;
}

bool dhcp4_msg_has_user_class(const struct dhcp4_msg *m, const char *name)
{
	size_t len, nlen = strlen(name), pos = 0, l;
	const uint8_t *v = dhcp4_msg_option(m, DHCP4_OPT_USER_CLASS, &len), *inst;

	if (!v)
		return false;
	if (len == nlen && memcmp(v, name, nlen) == 0)
		return true;
	while (dhcp4_user_class_next(v, len, &pos, &inst, &l) > 0) {
		if (l == nlen && memcmp(inst, name, nlen) == 0)
			return true;
	}
	return false;
}

int dhcp4_msg_client_arch(const struct dhcp4_msg *m, uint16_t *ret, size_t n)
{
	size_t len;
	const uint8_t *v = dhcp4_msg_option(m, DHCP4_OPT_CLIENT_ARCH, &len);

	if (!v)
		return -ENOENT;
	if (len == 0 || len % 2)
		return -EBADMSG;
	for (size_t i = 0; i < len / 2 && i < n; i++)
		ret[i] = be_get16(v + 2 * i);
	return (int)(len / 2);
}

int dhcp4_msg_client_ndi(const struct dhcp4_msg *m, struct dhcp4_ndi *ret)
{
	int r;
	const uint8_t *v = option_len(m, DHCP4_OPT_CLIENT_NDI, 3, &r);
	if (v)
		*ret = (struct dhcp4_ndi){v[0], v[1], v[2]};
	return r;
}

int dhcp4_msg_uuid(const struct dhcp4_msg *m, uint8_t ret[16])
{
	int r;
	const uint8_t *v = option_len(m, DHCP4_OPT_UUID, 17, &r);
	if (!v)
		return r;
	if (v[0] != 0)
		return -EBADMSG;
	memcpy(ret, v + 1, 16);
	return 0;
}

int dhcp4_relay_info_parse(const uint8_t *data, size_t len, struct dhcp4_relay_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < len;) {
		if (len - i < 2 || data[i + 1] > len - i - 2)
			return -EBADMSG;
		uint8_t code = data[i], l = data[i + 1];
		const uint8_t *v = data + i + 2;
		i += 2 + (size_t)l;
		switch (code) {
		case DHCP4_RAI_CIRCUIT_ID:
			if (!ret->circuit_id) {
				ret->circuit_id = v;
				ret->circuit_id_len = l;
			}
			break;
		case DHCP4_RAI_REMOTE_ID:
			if (!ret->remote_id) {
				ret->remote_id = v;
				ret->remote_id_len = l;
			}
			break;
		case DHCP4_RAI_LINK_SELECTION:
			if (l != 4)
				return -EBADMSG;
			if (!ret->has_link_selection) {
				ret->has_link_selection = true;
				memcpy(&ret->link_selection, v, 4);
			}
			break;
		case DHCP4_RAI_SERVER_ID_OVERRIDE:
			if (l != 4)
				return -EBADMSG;
			if (!ret->has_server_id_override) {
				ret->has_server_id_override = true;
				memcpy(&ret->server_id_override, v, 4);
			}
			break;
		}
	}
	return 0;
}

int dhcp4_msg_relay_info(const struct dhcp4_msg *m, struct dhcp4_relay_info *ret)
{
	size_t len;
	const uint8_t *v = dhcp4_msg_option(m, DHCP4_OPT_RELAY_INFO, &len);

	if (!v) {
		memset(ret, 0, sizeof(*ret));
		return -ENOENT;
	}
	return dhcp4_relay_info_parse(v, len, ret);
}

void dhcp4_ip_to_ipaddr(uint32_t ip, struct ipaddr *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->family = AF_INET;
	memcpy(ret->bytes, &ip, 4);
}

/* ---- option 121 ----------------------------------------------------------- */

int dhcp4_routes_encode(const struct dhcp4_route *routes, size_t n, uint8_t *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const struct dhcp4_route *r = &routes[i];
		if (r->prefix_len > 32)
			return -EINVAL;
		uint32_t dest = ntohl(r->dest) & ipv4_netmask(r->prefix_len);
		size_t sig = (r->prefix_len + 7u) / 8;
		if (len - o < 1 + sig + 4)
			return -ENOSPC;
		buf[o++] = r->prefix_len;
		for (size_t k = 0; k < sig; k++)
			buf[o++] = (uint8_t)(dest >> (24 - 8 * k));
		memcpy(buf + o, &r->gateway, 4);
		o += 4;
	}
	return (int)o;
}

int dhcp4_routes_decode(const uint8_t *data, size_t len, struct dhcp4_route *ret, size_t n)
{
	size_t count = 0;

	for (size_t o = 0; o < len;) {
		uint8_t plen = data[o];
		if (plen > 32)
			return -EBADMSG;
		size_t sig = (plen + 7u) / 8;
		if (len - o < 1 + sig + 4)
			return -EBADMSG;
		uint32_t dest = 0;
		for (size_t k = 0; k < sig; k++)
			dest |= (uint32_t)data[o + 1 + k] << (24 - 8 * k);
		if (count < n) {
			ret[count].dest = htonl(dest);
			ret[count].prefix_len = plen;
			memcpy(&ret[count].gateway, data + o + 1 + sig, 4);
		}
		count++;
		o += 1 + sig + 4;
	}
	return count > INT32_MAX ? -EBADMSG : (int)count;
}

/* ---- option 119 ----------------------------------------------------------- */

static int name_encode(const char *name, uint8_t *buf, size_t len)
{
	size_t n = strlen(name), o = 0;

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n + 2 > 255)
		return -EINVAL;
	for (size_t i = 0; i < n;) {
		const char *dot = memchr(name + i, '.', n - i);
		size_t l = (size_t)((dot ? dot : name + n) - (name + i));
		if (l == 0 || l > 63)
			return -EINVAL;
		if (len - o < 1 + l)
			return -ENOSPC;
		buf[o++] = (uint8_t)l;
		memcpy(buf + o, name + i, l);
		o += l;
		i += l + (dot ? 1 : 0);
		if (dot && i == n)
			return -EINVAL; /* "a..": an empty label before the trailing dot */
	}
	if (len - o < 1)
		return -ENOSPC;
	buf[o++] = 0;
	return (int)o;
}

int dhcp4_domain_search_encode(const char *const *names, size_t n, uint8_t *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int r = name_encode(names[i], buf + o, len - o);
		if (r < 0)
			return r;
		o += (size_t)r;
	}
	return (int)o;
}

/* ---- snippets ------------------------------------------------------------- */

struct out {
	uint8_t *p;
	size_t len, used;
	bool overflow;
};

static void out_put(struct out *o, const void *data, size_t len)
{
	if (o->overflow || o->len - o->used < len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->used, data, len);
	o->used += len;
}

static int fail(const char **ret_why, const char *why)
{
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

/* The text between leading and trailing white space. */
static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* A decimal or 0x-hex integer, optionally negative, in [min, max]. */
static int parse_int(const char *s, long long min, long long max, long long *ret, const char **ret_why)
{
	size_t len = strlen(s);
	bool neg = false;
	unsigned base = 10;
	unsigned long long v = 0;

	trim(&s, &len);
	if (len && s[0] == '-') {
		neg = true;
		s++;
		len--;
	}
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (len == 0)
		return fail(ret_why, "not a number");
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		char c = (char)tolower((unsigned char)s[i]);
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return fail(ret_why, "not a number");
		if (v > (1ull << 40))
			return fail(ret_why, "number out of range");
		v = v * base + d;
	}
	long long x = neg ? -(long long)v : (long long)v;
	if (x < min || x > max)
		return fail(ret_why, "number out of range");
	*ret = x;
	return 0;
}

static int parse_ip(const char *s, size_t len, uint32_t *ret)
{
	char tmp[INET_ADDRSTRLEN];

	trim(&s, &len);
	if (len == 0 || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET, tmp, ret) == 1 ? 0 : -EINVAL;
}

static int snippet_int(const char *type, const char *value, struct out *o, const char **ret_why)
{
	static const struct {
		const char *name;
		long long min, max;
		size_t bytes;
	} kinds[] = {
	    {"u8", 0, UINT8_MAX, 1},
	    {"u16", 0, UINT16_MAX, 2},
	    {"u32", 0, UINT32_MAX, 4},
	    {"i32", INT32_MIN, INT32_MAX, 4},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(type, kinds[i].name) != 0)
			continue;
		long long v;
		int r = parse_int(value, kinds[i].min, kinds[i].max, &v, ret_why);
		if (r < 0)
			return r;
		uint32_t u = (uint32_t)v;
		uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
		out_put(o, b + 4 - kinds[i].bytes, kinds[i].bytes);
		return 0;
	}
	return fail(ret_why, "unknown type");
}

static int snippet_bool(const char *value, struct out *o, const char **ret_why)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t len = strlen(value);

	trim(&value, &len);
	for (size_t i = 0; i < 4; i++) {
		uint8_t b = 1;
		if (strlen(yes[i]) == len && strncasecmp(value, yes[i], len) == 0) {
			out_put(o, &b, 1);
			return 0;
		}
		b = 0;
		if (strlen(no[i]) == len && strncasecmp(value, no[i], len) == 0) {
			out_put(o, &b, 1);
			return 0;
		}
	}
	return fail(ret_why, "not a boolean (true/false, yes/no, on/off, 1/0)");
}

/* Split s at any of seps, skipping empty tokens; call fn on each. */
typedef int token_fn(const char *tok, size_t len, struct out *o, const char **ret_why);

static int for_each_token(const char *s, const char *seps, token_fn *fn, struct out *o, const char **ret_why)
{
	size_t count = 0;

	while (*s) {
		size_t skip = strspn(s, seps), len;
		s += skip;
		len = strcspn(s, seps);
		if (len == 0)
			break;
		int r = fn(s, len, o, ret_why);
		if (r < 0)
			return r;
		s += len;
		count++;
	}
	return count ? 0 : fail(ret_why, "empty value");
}

static int ip_token(const char *tok, size_t len, struct out *o, const char **ret_why)
{
	uint32_t ip;

	if (parse_ip(tok, len, &ip) < 0)
		return fail(ret_why, "not an IPv4 address");
	out_put(o, &ip, 4);
	return 0;
}

/* One digit is one byte ("1:2" = 01 02); an even number of digits is
 * read in pairs ("0102"); an odd number above one is ambiguous. */
static int hex_token(const char *tok, size_t len, struct out *o, const char **ret_why)
{
	if (len > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
		tok += 2;
		len -= 2;
	}
	for (size_t i = 0; i < len; i++) {
		if (hex_digit_value(tok[i]) < 0)
			return fail(ret_why, "not a hex digit");
	}
	if (len == 1) {
		uint8_t b = (uint8_t)hex_digit_value(tok[0]);
		out_put(o, &b, 1);
		return 0;
	}
	if (len % 2)
		return fail(ret_why, "odd number of hex digits");
	for (size_t i = 0; i < len; i += 2) {
		uint8_t b = (uint8_t)(hex_digit_value(tok[i]) << 4 | hex_digit_value(tok[i + 1]));
		out_put(o, &b, 1);
	}
	return 0;
}

/* "10.0.0.0/8 via 192.0.2.1" or "10.0.0.0/8 192.0.2.1". */
static int route_token(const char *tok, size_t len, struct out *o, const char **ret_why)
{
	char text[128], *words[4], *save = NULL;
	size_t n = 0;
	struct ipprefix p = {0};
	struct dhcp4_route r;
	uint8_t enc[9];

	trim(&tok, &len);
	if (len == 0)
		return fail(ret_why, "empty route");
	if (len >= sizeof(text))
		return fail(ret_why, "route too long");
	memcpy(text, tok, len);
	text[len] = '\0';
	for (char *w = strtok_r(text, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (n == 4)
			return fail(ret_why, "route is not PREFIX [via] GATEWAY");
		words[n++] = w;
	}
	if (n == 3 && strcasecmp(words[1], "via") == 0)
		words[1] = words[2];
	else if (n != 2)
		return fail(ret_why, "route is not PREFIX [via] GATEWAY");
	int rc = ipprefix_parse(words[0], true, &p);
	if (rc < 0 || p.addr.family != AF_INET)
		return fail(ret_why, rc == -EINVAL && p.addr.family == AF_INET ? "route prefix has host bits set"
									       : "route prefix is not an IPv4 prefix");
	if (parse_ip(words[1], strlen(words[1]), &r.gateway) < 0)
		return fail(ret_why, "route gateway is not an IPv4 address");
	memcpy(&r.dest, p.addr.bytes, 4);
	r.prefix_len = p.len;
	int l = dhcp4_routes_encode(&r, 1, enc, sizeof(enc));
	if (l < 0)
		return fail(ret_why, "route cannot be encoded");
	out_put(o, enc, (size_t)l);
	return 0;
}

/* Comma-separated routes; unlike address lists, an empty entry (a
 * trailing comma, ",,") is refused: it is more likely a typo than intent. */
static int snippet_routes(const char *value, struct out *o, const char **ret_why)
{
	for (const char *s = value;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		int r = route_token(s, len, o, ret_why);
		if (r < 0)
			return r;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

int dhcp4_snippet_encode(unsigned code, const char *type, const char *value, uint8_t *buf, size_t len,
			 const char **ret_why)
{
	struct out o = {buf, len < DHCP4_SNIPPET_MAX ? len : DHCP4_SNIPPET_MAX, 0, false};
	int r;

	if (ret_why)
		*ret_why = NULL;
	if (code == DHCP4_OPT_PAD || code >= DHCP4_OPT_END)
		return fail(ret_why, "option code must be 1..254");
	if (code == DHCP4_OPT_OVERLOAD || code == DHCP4_OPT_MSG_TYPE)
		return fail(ret_why, "options 52 and 53 are set by the server");
	if (!type || !value)
		return fail(ret_why, "missing type or value");

	if (strcmp(type, "bool") == 0)
		r = snippet_bool(value, &o, ret_why);
	else if (strcmp(type, "ip") == 0)
		r = ip_token(value, strlen(value), &o, ret_why);
	else if (strcmp(type, "ips") == 0)
		r = for_each_token(value, ", \t\n", ip_token, &o, ret_why);
	else if (strcmp(type, "hex") == 0)
		r = for_each_token(value, ": \t\n", hex_token, &o, ret_why);
	else if (strcmp(type, "routes") == 0)
		r = snippet_routes(value, &o, ret_why);
	else if (strcmp(type, "string") == 0)
		r = *value ? (out_put(&o, value, strlen(value)), 0) : fail(ret_why, "empty value");
	else
		r = snippet_int(type, value, &o, ret_why);
	if (r < 0)
		return r;
	if (o.overflow) {
		if (len < DHCP4_SNIPPET_MAX) {
			if (ret_why)
				*ret_why = "buffer too small";
			return -ENOSPC;
		}
		return fail(ret_why, "value longer than 1024 bytes");
	}
	return (int)o.used;
}
