/* Multicast DNS responses: (name, address) pairs of `*.local` hosts; see
 * mdns.h for what is taken and what is refused. */
#include "common/wire/mdns.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/wire/bytes.h"
#include "common/wire/rawpkt.h"

#define DNS_TYPE_A     1
#define DNS_TYPE_PTR   12
#define DNS_TYPE_AAAA  28
#define DNS_CLASS_IN   1
#define DNS_CLASS_MASK 0x7fff /* the top bit is mDNS's cache-flush / unicast-response */

#define DNS_FLAG_QR	 0x8000
#define DNS_OPCODE(f)	 (((f) >> 11) & 0x0f)
#define DNS_QUESTION_MIN 5			  /* root name + type + class */
#define DNS_RR_MIN	 11			  /* root name + type, class, ttl, rdlength */
#define DNS_RR_FIXED	 10			  /* type, class, ttl, rdlength */
#define NAME_HOPS_MAX	 (MDNS_NAME_WIRE_MAX / 2) /* pointers in one name: more means a loop */

static int why(const char **ret_why, const char *reason)
{
	if (ret_why)
		*ret_why = reason;
	return -EBADMSG;
}

int mdns_frame_parse(const uint8_t *buf, size_t len, struct mdns_frame *ret, const char **ret_why)
{
	int r = eth_hdr_parse(buf, len, &ret->eth, ret_why);
	if (r < 0)
		return r;
	if (ret->eth.type != ETH_TYPE_IPV4)
		return -ENOMSG;
	struct rawpkt_udp u;
	r = rawpkt_udp_parse_csum(buf + ret->eth.payload_off, len - ret->eth.payload_off, false, &u);
	if (r == -ENOMSG)
		return r;
	if (r < 0)
		return why(ret_why, "malformed IPv4 or UDP header");
	if (u.sport != MDNS_PORT && u.dport != MDNS_PORT)
		return -ENOMSG;
	ret->src = u.src;
	ret->dst = u.dst;
	ret->sport = u.sport;
	ret->dport = u.dport;
	ret->payload = u.payload;
	ret->len = u.len;
	return 0;
}

/* A name as text, and whether every label could be written unambiguously. */
struct name_text {
	char s[MDNS_NAME_TEXT_MAX + 1];
	size_t len;
	bool clean;
};

static bool label_byte_clean(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '.' && c != '\\';
}

/* Read the name at off; *ret_end is where the record goes on (after the
 * name's first pointer, or its root label). Each compression pointer must
 * land before the start of the piece that contains it, so the walk only
 * ever moves backwards on a jump and cannot loop; the hop count is a
 * second bound. */
static int name_read(const uint8_t *msg, size_t len, size_t off, size_t *ret_end, struct name_text *t,
		     const char **ret_why)
{
	size_t pos = off, piece = off, end = 0, wire = 0;
	unsigned hops = 0;

	t->len = 0;
	t->clean = true;
	for (;;) {
		if (pos >= len)
			return why(ret_why, "name runs past the end of the message");
		uint8_t c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return why(ret_why, "compression pointer cut by the end of the message");
			size_t target = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
			if (!end)
				end = pos + 2;
			if (target < MDNS_HDR_LEN)
				return why(ret_why, "compression pointer into the header");
			if (target >= piece || ++hops > NAME_HOPS_MAX)
				return why(ret_why, "compression pointer loops or points forward");
			piece = pos = target;
			continue;
		}
		if (c & 0xc0)
			return why(ret_why, "reserved label type");
		if (c == 0)
			break;
		if (c > len - pos - 1)
			return why(ret_why, "label runs past the end of the message");
		wire += 1 + (size_t)c;
		if (wire + 1 > MDNS_NAME_WIRE_MAX)
			return why(ret_why, "name longer than 255 bytes");
		if (t->len)
			t->s[t->len++] = '.';
		for (size_t i = 0; i < c; i++) {
			uint8_t b = msg[pos + 1 + i];
			t->clean = t->clean && label_byte_clean(b);
			t->s[t->len++] = (char)b;
		}
		pos += 1 + (size_t)c;
	}
	t->s[t->len] = '\0';
	*ret_end = end ? end : pos + 1;
	return 0;
}

static bool has_suffix(const struct name_text *t, const char *suffix)
{
	size_t n = strlen(suffix);
	/* A label before the suffix: "local" alone is no host. */
	return t->len > n && t->s[t->len - n - 1] == '.' && strcasecmp(t->s + t->len - n, suffix) == 0;
}

static bool is_local_host(const struct name_text *t)
{
	return t->clean && has_suffix(t, "local");
}

/* One decimal label 0..255 without a leading zero. */
static bool octet_parse(const char *s, size_t n, uint32_t *ret)
{
	uint32_t v = 0;
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	*ret = v;
	return v <= 255;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "D.C.B.A.in-addr.arpa" or 32 nibbles + ".ip6.arpa" into h's address. */
static bool reverse_parse(const struct name_text *t, struct mdns_host *h)
{
	if (!t->clean)
		return false;
	if (has_suffix(t, "in-addr.arpa")) {
		const char *p = t->s, *stop = t->s + t->len - strlen(".in-addr.arpa");
		uint32_t v = 0;
		for (int i = 0; i < 4; i++) {
			const char *dot = memchr(p, '.', (size_t)(stop - p));
			const char *lend = dot ? dot : stop;
			uint32_t o;
			if ((i < 3) != (dot != NULL) || !octet_parse(p, (size_t)(lend - p), &o))
				return false;
			v |= o << (8 * i);
			p = lend + 1;
		}
		h->is_v6 = false;
		h->v4 = v;
		return true;
	}
	if (has_suffix(t, "ip6.arpa") && t->len == 64 + strlen("ip6.arpa")) {
		memset(h->v6, 0, sizeof(h->v6));
		for (int i = 0; i < 32; i++) {
			int d = nibble(t->s[2 * i]);
			if (d < 0 || t->s[2 * i + 1] != '.')
				return false;
			/* the first label is the lowest nibble */
			h->v6[15 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
		}
		h->is_v6 = true;
		return true;
	}
	return false;
}

struct walk {
	const uint8_t *msg;
	size_t len;
	struct mdns_host *out;
	size_t max;
	struct mdns_result *res;
	const char **why;
};

static void take(struct walk *w, const struct mdns_host *h)
{
	if (w->res->n < w->max)
		w->out[w->res->n++] = *h;
	w->res->found++;
}

/* The record at *off; taken if its section counts (answer, additional). */
static int record_read(struct walk *w, size_t *off, bool counts)
{
	struct name_text owner;
	size_t p;
	int r = name_read(w->msg, w->len, *off, &p, &owner, w->why);
	if (r < 0)
		return r;
	if (w->len - p < DNS_RR_FIXED)
		return why(w->why, "record header cut by the end of the message");
	uint16_t type = be_get16(w->msg + p), class = be_get16(w->msg + p + 2) & DNS_CLASS_MASK;
	uint32_t ttl = be_get32(w->msg + p + 4);
	size_t rdlen = be_get16(w->msg + p + 8), rd = p + DNS_RR_FIXED;
	if (rdlen > w->len - rd)
		return why(w->why, "record data runs past the end of the message");
	*off = rd + rdlen;
	if (type != DNS_TYPE_A && type != DNS_TYPE_AAAA && type != DNS_TYPE_PTR)
		return 0;
	if (type == DNS_TYPE_A && rdlen != 4)
		return why(w->why, "A record data is not 4 bytes");
	if (type == DNS_TYPE_AAAA && rdlen != 16)
		return why(w->why, "AAAA record data is not 16 bytes");
	struct mdns_host h = {.ttl = ttl};
	if (type == DNS_TYPE_PTR) {
		struct name_text target;
		size_t tend;
		r = name_read(w->msg, rd + rdlen, rd, &tend, &target, w->why);
		if (r < 0)
			return r;
		if (tend != rd + rdlen)
			return why(w->why, "PTR name does not fill its record data");
		if (!counts)
			return 0;
		if (class != DNS_CLASS_IN || !is_local_host(&target) || !reverse_parse(&owner, &h)) {
			w->res->skipped++;
			return 0;
		}
		memcpy(h.name, target.s, target.len + 1);
		h.rr = MDNS_RR_PTR;
		take(w, &h);
		return 0;
	}
	if (!counts)
		return 0;
	if (class != DNS_CLASS_IN || !is_local_host(&owner)) {
		w->res->skipped++;
		return 0;
	}
	memcpy(h.name, owner.s, owner.len + 1);
	if (type == DNS_TYPE_A) {
		h.rr = MDNS_RR_A;
		h.v4 = be_get32(w->msg + rd);
	} else {
		h.rr = MDNS_RR_AAAA;
		h.is_v6 = true;
		memcpy(h.v6, w->msg + rd, 16);
	}
	take(w, &h);
	return 0;
}

int mdns_parse(const uint8_t *msg, size_t len, struct mdns_host *out, size_t max, struct mdns_result *ret,
	       const char **ret_why)
{
	*ret = (struct mdns_result){0};
	if (len < MDNS_HDR_LEN)
		return why(ret_why, "message shorter than the DNS header");
	uint16_t flags = be_get16(msg + 2);
	if (!(flags & DNS_FLAG_QR) || DNS_OPCODE(flags) != 0)
		return -ENOMSG;
	size_t qd = be_get16(msg + 4), an = be_get16(msg + 6), ns = be_get16(msg + 8), ar = be_get16(msg + 10);
	if (qd * DNS_QUESTION_MIN + (an + ns + ar) * DNS_RR_MIN > len - MDNS_HDR_LEN)
		return why(ret_why, "record counts promise more than the message holds");

	struct walk w = {.msg = msg, .len = len, .out = out, .max = max, .res = ret, .why = ret_why};
	size_t off = MDNS_HDR_LEN;
	for (size_t i = 0; i < qd; i++) {
		struct name_text q;
		int r = name_read(msg, len, off, &off, &q, ret_why);
		if (r < 0)
			return r;
		if (len - off < 4)
			return why(ret_why, "question cut by the end of the message");
		off += 4;
	}
	for (size_t i = 0; i < an + ns + ar; i++) {
		/* authority records are a prober's tentative claims */
		int r = record_read(&w, &off, i < an || i >= an + ns);
		if (r < 0)
			return r;
	}
	return 0;
}

int mdns_name_encode(const char *name, uint8_t *out, size_t cap)
{
	size_t o = 0;
	const char *p = name;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n > MDNS_LABEL_MAX)
			return -EINVAL;
		if (o + 1 + n + 1 > MDNS_NAME_WIRE_MAX)
			return -EINVAL;
		if (o + 1 + n > cap)
			return -ENOSPC;
		out[o++] = (uint8_t)n;
		memcpy(out + o, p, n);
		o += n;
		p += n;
		if (*p == '.' && *++p == '\0')
			break; /* a final dot: the root follows */
	}
	if (o + 1 > cap)
		return -ENOSPC;
	out[o++] = 0;
	return (int)o;
}
