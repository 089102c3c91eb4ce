/* IPv4/IPv6 addresses, prefixes, MAC addresses and host:port endpoints.
 *
 * Addresses are handled as unsigned 128-bit integers (v4 in the low 32 bits)
 * so that prefix arithmetic is the same for both families. Parsing is strict:
 * these strings come from operators and API clients, and a typo such as
 * "10.0.0.0/24x" or "10.0.0.0/033" must be reported, not guessed at. */
#include "common/net.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Longest host name we accept (RFC 1035 limit on a name's text form). */
#define HOSTNAME_MAX 253

static bool family_is_valid(uint8_t family)
{
	return family == AF_INET || family == AF_INET6;
}

int ipaddr_parse(const char *s, struct ipaddr *ret)
{
	struct ipaddr a = {0};

	/* inet_pton rejects leading zeros in v4 octets, which would otherwise
	 * be read as octal by inet_aton() and friends. */
	if (inet_pton(AF_INET, s, a.bytes) == 1) {
		a.family = AF_INET;
	} else if (inet_pton(AF_INET6, s, a.bytes) == 1) {
		a.family = AF_INET6;
	} else {
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

const char *ipaddr_format(const struct ipaddr *a, char *buf, size_t len)
{
	char tmp[IPADDR_STRLEN];

	if (!family_is_valid(a->family) || !inet_ntop(a->family, a->bytes, tmp, sizeof(tmp)))
		strcpy(tmp, "?");
	/* Never return NULL: results go straight into log and error messages. */
	if (len > 0)
		snprintf(buf, len, "%s", tmp);
	return buf;
}

int ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	int r = memcmp(a->bytes, b->bytes, sizeof(a->bytes));
	return (r > 0) - (r < 0);
}

bool ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b)
{
	return ipaddr_cmp(a, b) == 0;
}

unsigned ipaddr_bits(const struct ipaddr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

u128 ipaddr_to_u128(const struct ipaddr *a)
{
	unsigned nbytes = ipaddr_bits(a) / 8;
	u128 v = 0;

	for (unsigned i = 0; i < nbytes; i++)
		v = (v << 8) | a->bytes[i];
	return v;
}

void ipaddr_from_u128(uint8_t family, u128 v, struct ipaddr *ret)
{
	unsigned nbytes = family == AF_INET ? 4 : 16;

	memset(ret, 0, sizeof(*ret));
	ret->family = family;
	for (unsigned i = nbytes; i > 0; i--) {
		ret->bytes[i - 1] = (uint8_t)v;
		v >>= 8;
	}
}

/* All-ones in the family's width: the largest address. */
static u128 family_max(unsigned bits)
{
	return bits == 128 ? ~(u128)0 : ((u128)1 << bits) - 1;
}

int ipaddr_add(const struct ipaddr *a, u128 delta, struct ipaddr *ret)
{
	u128 max = family_max(ipaddr_bits(a));
	u128 v = ipaddr_to_u128(a);

	if (delta > max - v)
		return -ERANGE;
	ipaddr_from_u128(a->family, v + delta, ret);
	return 0;
}

/* Host part of a prefix of length len in a family of the given width.
 * Computed without shifting by the full width, which is undefined. */
static u128 host_mask(unsigned bits, unsigned len)
{
	return family_max(bits - len);
}

/* Prefix length: decimal, no sign, no leading zeros ("033" is more likely a
 * typo than 33), at most the family's width. */
static int prefix_len_parse(const char *s, unsigned bits, unsigned *ret)
{
	size_t n = strlen(s);
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > bits)
		return -EINVAL;
	*ret = v;
	return 0;
}

int ipprefix_parse(const char *s, bool strict, struct ipprefix *ret)
{
	char addr[IPADDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct ipaddr a;
	unsigned len;

	if (alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (ipaddr_parse(addr, &a) < 0)
		return -EINVAL;
	if (!slash)
		len = ipaddr_bits(&a);
	else if (prefix_len_parse(slash + 1, ipaddr_bits(&a), &len) < 0)
		return -EINVAL;

	struct ipprefix p;
	ipprefix_make(&a, len, &p);
	*ret = p;
	if (strict && !ipaddr_equal(&a, &p.addr))
		return -EINVAL;
	return 0;
}

const char *ipprefix_format(const struct ipprefix *p, char *buf, size_t len)
{
	char addr[IPADDR_STRLEN];

	ipaddr_format(&p->addr, addr, sizeof(addr));
	if (len > 0)
		snprintf(buf, len, "%s/%u", addr, (unsigned)p->len);
	return buf;
}

bool ipprefix_contains(const struct ipprefix *p, const struct ipaddr *a)
{
	if (p->addr.family != a->family)
		return false;
	u128 host = host_mask(ipaddr_bits(a), p->len);
	return (ipaddr_to_u128(a) & ~host) == (ipaddr_to_u128(&p->addr) & ~host);
}

bool ipprefix_overlaps(const struct ipprefix *a, const struct ipprefix *b)
{
	if (a->addr.family != b->addr.family)
		return false;
	/* Prefixes nest or are disjoint: they overlap exactly when they agree
	 * on the bits of the shorter one. */
	unsigned len = a->len < b->len ? a->len : b->len;
	u128 host = host_mask(ipaddr_bits(&a->addr), len);
	return (ipaddr_to_u128(&a->addr) & ~host) == (ipaddr_to_u128(&b->addr) & ~host);
}

u128 ipprefix_span(const struct ipprefix *p)
{
	return host_mask(ipaddr_bits(&p->addr), p->len);
}

void ipprefix_first(const struct ipprefix *p, struct ipaddr *ret)
{
	ipaddr_from_u128(p->addr.family, ipaddr_to_u128(&p->addr) & ~ipprefix_span(p), ret);
}

void ipprefix_last(const struct ipprefix *p, struct ipaddr *ret)
{
	ipaddr_from_u128(p->addr.family, ipaddr_to_u128(&p->addr) | ipprefix_span(p), ret);
}

int ipprefix_make(const struct ipaddr *a, unsigned len, struct ipprefix *ret)
{
	if (!family_is_valid(a->family))
		return -EAFNOSUPPORT;
	if (len > ipaddr_bits(a))
		return -EINVAL;

	struct ipprefix p = {.len = (uint8_t)len};
	u128 host = host_mask(ipaddr_bits(a), len);
	ipaddr_from_u128(a->family, ipaddr_to_u128(a) & ~host, &p.addr);
	*ret = p;
	return 0;
}

const char *ipv4_text(uint32_t addr, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255, addr & 255);
	return buf;
}

uint32_t ipv4_netmask(unsigned len)
{
	if (len == 0)
		return 0;
	if (len >= 32)
		return UINT32_MAX;
	return UINT32_MAX << (32 - len);
}

int mac_parse(const char *s, uint8_t ret[6])
{
	uint8_t mac[6];

	if (strlen(s) != 17)
		return -EINVAL;
	/* One separator throughout: "aa:bb-cc..." is a typo, not a MAC. */
	char sep = s[2];
	if (sep != ':' && sep != '-')
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = s + i * 3;
		int hi = hex_digit_value(p[0]), lo = hex_digit_value(p[1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (i < 5 && p[2] != sep)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret, mac, sizeof(mac));
	return 0;
}

const char *mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	if (len > 0)
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

/* Skip "scheme://" if present. The scheme must look like one (RFC 3986:
 * ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )); NULL if "://" follows
 * something else. */
static const char *scheme_skip(const char *s)
{
	const char *sep = strstr(s, "://");

	if (!sep)
		return s;
	if (sep == s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return NULL;
	for (const char *p = s; p < sep; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			  *p == '+' || *p == '-' || *p == '.';
		if (!ok)
			return NULL;
	}
	return sep + 3;
}

/* A port is 1..65535, decimal, without sign or leading zeros. */
static int port_parse(const char *s, size_t n, uint16_t *ret)
{
	unsigned v = 0;

	/* "0" (any free port, for a listener) but no leading zeros. */
	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* Host names and v4 literals: letters, digits, '-', '.', '_' (the last for
 * names such as _grpc.example that some operators use). Not resolved. */
static bool hostname_is_valid(const char *s, size_t n)
{
	if (n == 0 || n > HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			  c == '.' || c == '_';
		if (!ok)
			return false;
	}
	return true;
}

static bool ipv6_is_valid(const char *s, size_t n)
{
	char tmp[IPADDR_STRLEN];
	struct in6_addr a;

	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

int endpoint_parse(const char *s, uint16_t default_port, char *host, size_t hostlen, uint16_t *ret_port)
{
	const char *h, *port = NULL, *end;
	size_t hn;
	uint16_t p = default_port;

	const char *rest = scheme_skip(s);
	if (!rest)
		return -EINVAL;
	end = rest + strlen(rest);
	/* A URL pasted from a browser often ends in '/'; a path does not. */
	if (rest != s && end > rest && end[-1] == '/')
		end--;
	s = rest;
	if (*s == '[') {
		const char *close = memchr(s, ']', (size_t)(end - s));
		if (!close)
			return -EINVAL;
		h = s + 1;
		hn = (size_t)(close - h);
		if (!ipv6_is_valid(h, hn))
			return -EINVAL;
		if (close + 1 < end) {
			if (close[1] != ':')
				return -EINVAL;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', (size_t)(end - s));
		h = s;
		hn = (size_t)(end - s);
		/* Two or more colons without brackets can only be a bare v6
		 * address; its last group is not a port. */
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			if (!ipv6_is_valid(h, hn))
				return -EINVAL;
		} else {
			if (colon) {
				hn = (size_t)(colon - s);
				port = colon + 1;
			}
			if (!hostname_is_valid(h, hn))
				return -EINVAL;
		}
	}
	if (port && port_parse(port, (size_t)(end - port), &p) < 0)
		return -EINVAL;
	if (hn >= hostlen)
		return -ENAMETOOLONG;
	memcpy(host, h, hn);
	host[hn] = '\0';
	*ret_port = p;
	return 0;
}
