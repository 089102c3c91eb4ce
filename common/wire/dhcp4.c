/* BOOTP/DHCPv4 codec: decode, encode, the option list and typed getters
 * and setters; see dhcp4.h for the rules. The PXE/relay/user-class
 * accessors, option value encoders and the snippet parser are in
 * dhcp4_values.c. */
#include "common/wire/dhcp4.h"

#include <errno.h>
#include <string.h>

#include "common/wire/bytes.h"

/* ---- small helpers -------------------------------------------------------- */

static int bad(const char **ret_why, const char *why)
{
	if (ret_why)
		*ret_why = why;
	return -EBADMSG;
}

/* Copy a text field up to its first NUL and zero the rest of dst. */
static void copy_text(char *dst, size_t dst_size, const uint8_t *src, size_t src_len)
{
	size_t n = strnlen((const char *)src, src_len);
	memcpy(dst, src, n);
	memset(dst + n, 0, dst_size - n);
}

/* ---- decoding ------------------------------------------------------------- */

/* Options are gathered in two passes over the fields: the first checks the
 * syntax and adds up each code's total length in order of first appearance;
 * the second copies each instance behind the previous ones of its code, so
 * RFC 3396 concatenation needs no allocation and no second buffer. */
struct gather {
	struct dhcp4_msg *m;
	uint32_t total[256];
	uint32_t fill[256];
	uint8_t pos[256]; /* index in m->options + 1; 0 = not seen */
	bool copy;
	bool overload_seen;
	uint32_t overload_len;
	uint8_t overload_val;
};

static void gather_add(struct gather *g, uint8_t code, const uint8_t *v, size_t l)
{
	struct dhcp4_msg *m = g->m;

	if (!g->copy) {
		if (!g->pos[code]) {
			m->options[m->n_options].code = code;
			g->pos[code] = (uint8_t)++m->n_options;
		}
		g->total[code] += (uint32_t)l;
		return;
	}
	const struct dhcp4_option *o = &m->options[g->pos[code] - 1];
	if (l)
		memcpy(m->optbuf + o->off + g->fill[code], v, l);
	g->fill[code] += (uint32_t)l;
}

/* Walk one field. Option 52 counts only in the options field. */
static int gather_field(struct gather *g, const uint8_t *p, size_t len, bool options_field, const char **ret_why)
{
	size_t i = 0;

	while (i < len) {
		uint8_t code = p[i];
		if (code == DHCP4_OPT_PAD) {
			i++;
			continue;
		}
		if (code == DHCP4_OPT_END)
			return 0;
		if (i + 2 > len || i + 2 + p[i + 1] > len)
			return bad(ret_why, "option length past end");
		size_t l = p[i + 1];
		const uint8_t *v = p + i + 2;
		i += 2 + l;
		if (code == DHCP4_OPT_OVERLOAD) {
			if (options_field && !g->copy) {
				if (l && g->overload_len == 0)
					g->overload_val = v[0];
				g->overload_seen = true;
				g->overload_len += (uint32_t)l;
			}
			continue;
		}
		gather_add(g, code, v, l);
	}
	return 0; /* no END: tolerated when the field ends after an option */
}

/* The fields option 52 extends the options into: file, then sname. */
static int gather_overloaded(struct gather *g, const uint8_t *buf, const char **ret_why)
{
	int r = 0;

	if (g->m->overload & DHCP4_OVERLOAD_FILE)
		r = gather_field(g, buf + 108, DHCP4_FILE_LEN, false, ret_why);
	if (r == 0 && (g->m->overload & DHCP4_OVERLOAD_SNAME))
		r = gather_field(g, buf + 44, DHCP4_SNAME_LEN, false, ret_why);
	return r;
}

static int decode_options(struct dhcp4_msg *m, const uint8_t *buf, size_t len, const char **ret_why)
{
	struct gather g;
	const uint8_t *opts = buf + DHCP4_OPTIONS_OFFSET;
	size_t opts_len = len - DHCP4_OPTIONS_OFFSET;

	memset(&g, 0, sizeof(g));
	g.m = m;
	/* The options field first, alone: it says whether file and sname
	 * carry options too. */
	int r = gather_field(&g, opts, opts_len, true, ret_why);
	if (r < 0)
		return r;
	if (g.overload_seen) {
		if (g.overload_len != 1)
			return bad(ret_why, "option 52 length is not 1");
		if (g.overload_val < 1 || g.overload_val > 3)
			return bad(ret_why, "option 52 value is not 1, 2 or 3");
		m->overload = g.overload_val;
	}
	r = gather_overloaded(&g, buf, ret_why);
	if (r < 0)
		return r;

	uint32_t off = 0;
	for (size_t i = 0; i < m->n_options; i++) {
		struct dhcp4_option *o = &m->options[i];
		uint32_t t = g.total[o->code];
		if (t > DHCP4_OPTBUF_MAX - off)
			return bad(ret_why, "options longer than 16384 bytes");
		o->off = (uint16_t)off;
		o->len = (uint16_t)t;
		off += t;
	}
	m->optbuf_used = (uint16_t)off;

	/* Second pass: the syntax is known to be good. */
	g.copy = true;
	gather_field(&g, opts, opts_len, true, ret_why);
	gather_overloaded(&g, buf, ret_why);
	return 0;
}

int dhcp4_msg_decode(const uint8_t *buf, size_t len, struct dhcp4_msg *ret, const char **ret_why)
{
	struct dhcp4_msg *m = ret;

	if (ret_why)
		*ret_why = NULL;
	/* Everything but the arena, which decode_options fills as far as used. */
	memset(m, 0, offsetof(struct dhcp4_msg, optbuf));
	if (len < DHCP4_OPTIONS_OFFSET)
		return bad(ret_why, "message shorter than 240 bytes");
	m->op = buf[0];
	m->htype = buf[1];
	m->hlen = buf[2];
	m->hops = buf[3];
	if (m->op != DHCP4_BOOTREQUEST && m->op != DHCP4_BOOTREPLY)
		return bad(ret_why, "op is not BOOTREQUEST or BOOTREPLY");
	if (m->hlen > DHCP4_CHADDR_LEN)
		return bad(ret_why, "hlen over 16");
	m->xid = be_get32(buf + 4);
	m->secs = be_get16(buf + 8);
	m->flags = be_get16(buf + 10);
	memcpy(&m->ciaddr, buf + 12, 4);
	memcpy(&m->yiaddr, buf + 16, 4);
	memcpy(&m->siaddr, buf + 20, 4);
	memcpy(&m->giaddr, buf + 24, 4);
	memcpy(m->chaddr, buf + 28, DHCP4_CHADDR_LEN);
	if (be_get32(buf + DHCP4_HEADER_LEN) != DHCP4_COOKIE)
		return bad(ret_why, "bad magic cookie");

	int r = decode_options(m, buf, len, ret_why);
	if (r < 0)
		return r;
	if (!(m->overload & DHCP4_OVERLOAD_SNAME))
		copy_text(m->sname, sizeof(m->sname), buf + 44, DHCP4_SNAME_LEN);
	if (!(m->overload & DHCP4_OVERLOAD_FILE))
		copy_text(m->file, sizeof(m->file), buf + 108, DHCP4_FILE_LEN);
	return 0;
}

/* ---- encoding ------------------------------------------------------------- */

/* One area options are written to: the options field, file or sname.
 * cap excludes the END (and, in the options field, option 52) reserved at
 * its end. With p NULL nothing is written: a dry run that plans the
 * layout. */
struct area {
	uint8_t *p;
	size_t cap, used;
};

static size_t option_wire_len(size_t len)
{
	size_t instances = len == 0 ? 1 : (len + 254) / 255;
	return 2 * instances + len;
}

static void area_put(struct area *a, uint8_t code, const uint8_t *v, size_t l)
{
	if (a->p) {
		a->p[a->used] = code;
		a->p[a->used + 1] = (uint8_t)l;
		if (l)
			memcpy(a->p + a->used + 2, v, l);
	}
	a->used += 2 + l;
}

/* Write the options in order into areas[0..n_areas). Unless greedy, an
 * option up to 255 bytes that does not fit what is left of an area moves
 * whole to the next area when it fits there, since clients without RFC 3396
 * would misread a short option split in two; greedy splits anywhere (the
 * fallback when that wastes too much room). Returns the index of the last
 * area used, or -EMSGSIZE. */
static int fill_areas(const struct dhcp4_msg *m, struct area *areas, size_t n_areas, bool greedy)
{
	size_t ai = 0;

	for (size_t i = 0; i < m->n_options; i++) {
		const struct dhcp4_option *o = &m->options[i];
		const uint8_t *v = m->optbuf + o->off;
		size_t left = o->len;
		bool first = true;

		while (first || left) {
			struct area *a = &areas[ai];
			size_t room = a->cap - a->used;
			size_t want = left > 255 ? 255 : left;
			if (room >= 2 + want) {
				area_put(a, o->code, v, want);
			} else if (room >= 3 &&
				   (greedy || o->len > 255 || (ai + 1 < n_areas && areas[ai + 1].cap < 2 + want))) {
				want = room - 2;
				area_put(a, o->code, v, want);
			} else {
				if (++ai == n_areas)
					return -EMSGSIZE;
				continue;
			}
			v += want;
			left -= want;
			first = false;
		}
	}
	return (int)ai;
}

static int encode_check(const struct dhcp4_msg *m)
{
	bool seen[256] = {false};

	if (m->hlen > DHCP4_CHADDR_LEN || m->n_options > DHCP4_OPTIONS_MAX || m->optbuf_used > DHCP4_OPTBUF_MAX)
		return -EINVAL;
	if (m->sname[DHCP4_SNAME_LEN] != '\0' || m->file[DHCP4_FILE_LEN] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < m->n_options; i++) {
		const struct dhcp4_option *o = &m->options[i];
		if (o->code == DHCP4_OPT_PAD || o->code == DHCP4_OPT_END || o->code == DHCP4_OPT_OVERLOAD ||
		    seen[o->code] || (size_t)o->off + o->len > m->optbuf_used)
			return -EINVAL;
		seen[o->code] = true;
	}
	return 0;
}

static void encode_header(const struct dhcp4_msg *m, uint8_t *buf)
{
	memset(buf, 0, DHCP4_OPTIONS_OFFSET);
	buf[0] = m->op;
	buf[1] = m->htype;
	buf[2] = m->hlen;
	buf[3] = m->hops;
	be_put32(buf + 4, m->xid);
	be_put16(buf + 8, m->secs);
	be_put16(buf + 10, m->flags);
	memcpy(buf + 12, &m->ciaddr, 4);
	memcpy(buf + 16, &m->yiaddr, 4);
	memcpy(buf + 20, &m->siaddr, 4);
	memcpy(buf + 24, &m->giaddr, 4);
	memcpy(buf + 28, m->chaddr, DHCP4_CHADDR_LEN);
	memcpy(buf + 44, m->sname, strlen(m->sname));
	memcpy(buf + 108, m->file, strlen(m->file));
	be_put32(buf + DHCP4_HEADER_LEN, DHCP4_COOKIE);
}

/* The options do not fit limit in the options field: add option 52 and
 * continue in file, then sname, whichever are empty. */
static int encode_overloaded(const struct dhcp4_msg *m, size_t limit, uint8_t *buf, size_t len)
{
	/* buf NULL: plan only, return the length encode would produce. */
	int r;

	/* The options field keeps 3 bytes for option 52 and 1 for END. */
	struct area areas[3];
	uint8_t bits[3] = {0, 0, 0};
	size_t n = 0;
	areas[n++] = (struct area){NULL, limit - DHCP4_OPTIONS_OFFSET - 4, 0};
	if (!m->file[0]) {
		bits[n] = DHCP4_OVERLOAD_FILE;
		areas[n++] = (struct area){NULL, DHCP4_FILE_LEN - 1, 0};
	}
	if (!m->sname[0]) {
		bits[n] = DHCP4_OVERLOAD_SNAME;
		areas[n++] = (struct area){NULL, DHCP4_SNAME_LEN - 1, 0};
	}
	if (n == 1)
		return -EMSGSIZE;
	bool greedy = false;
	r = fill_areas(m, areas, n, greedy);
	if (r < 0) {
		greedy = true;
		for (size_t i = 0; i < n; i++)
			areas[i].used = 0;
		r = fill_areas(m, areas, n, greedy);
		if (r < 0)
			return r;
	}
	size_t last = (size_t)r;
	size_t out = DHCP4_OPTIONS_OFFSET + areas[0].used + 4;
	if (!buf)
		return (int)(out < DHCP4_BOOTP_MIN_LEN ? DHCP4_BOOTP_MIN_LEN : out);
	if (out > len)
		return -ENOSPC;

	uint8_t overload = 0;
	for (size_t i = 1; i <= last; i++)
		overload |= bits[i];
	encode_header(m, buf);
	areas[0].p = buf + DHCP4_OPTIONS_OFFSET;
	for (size_t i = 1; i < n; i++) {
		uint8_t *field = bits[i] == DHCP4_OVERLOAD_FILE ? buf + 108 : buf + 44;
		areas[i].p = field;
		memset(field, 0, bits[i] == DHCP4_OVERLOAD_FILE ? DHCP4_FILE_LEN : DHCP4_SNAME_LEN);
	}
	for (size_t i = 0; i < n; i++)
		areas[i].used = 0;
	r = fill_areas(m, areas, n, greedy);
	if (r < 0)
		return r; /* not reached: the dry run fitted */
	uint8_t *p = buf + DHCP4_OPTIONS_OFFSET + areas[0].used;
	p[0] = DHCP4_OPT_OVERLOAD;
	p[1] = 1;
	p[2] = overload;
	p[3] = DHCP4_OPT_END;
	for (size_t i = 1; i <= last; i++)
		areas[i].p[areas[i].used] = DHCP4_OPT_END;
	if (out < DHCP4_BOOTP_MIN_LEN) {
		memset(buf + out, 0, DHCP4_BOOTP_MIN_LEN - out);
		out = DHCP4_BOOTP_MIN_LEN;
	}
	return (int)out;
}

/* buf NULL: dhcp4_msg_encoded_len(). */
static int encode(const struct dhcp4_msg *m, size_t max_size, uint8_t *buf, size_t len)
{
	size_t total = 1; /* END */
	int r = encode_check(m);

	if (r < 0)
		return r;
	if (max_size < DHCP4_MIN_MAX_SIZE)
		max_size = DHCP4_MIN_MAX_SIZE;
	size_t limit = max_size - DHCP4_IP_UDP_LEN; /* the BOOTP message itself */
	for (size_t i = 0; i < m->n_options; i++)
		total += option_wire_len(m->options[i].len);

	if (DHCP4_OPTIONS_OFFSET + total <= limit) {
		size_t out = DHCP4_OPTIONS_OFFSET + total;
		if (out < DHCP4_BOOTP_MIN_LEN)
			out = DHCP4_BOOTP_MIN_LEN;
		if (!buf)
			return (int)out;
		if (out > len)
			return -ENOSPC;
		encode_header(m, buf);
		struct area a = {buf + DHCP4_OPTIONS_OFFSET, total - 1, 0};
		r = fill_areas(m, &a, 1, true);
		if (r < 0)
			return r; /* not reached: total was counted for it */
		buf[DHCP4_OPTIONS_OFFSET + a.used] = DHCP4_OPT_END;
		memset(buf + DHCP4_OPTIONS_OFFSET + total, 0, out - DHCP4_OPTIONS_OFFSET - total);
		return (int)out;
	}

	return encode_overloaded(m, limit, buf, len);
}

int dhcp4_msg_encode(const struct dhcp4_msg *m, size_t max_size, uint8_t *buf, size_t len)
{
	if (!buf)
		return -ENOSPC;
	return encode(m, max_size, buf, len);
}

int dhcp4_msg_encoded_len(const struct dhcp4_msg *m, size_t max_size)
{
	return encode(m, max_size, NULL, 0);
}

/* ---- building and comparing ---------------------------------------------- */

void dhcp4_msg_init(struct dhcp4_msg *m)
{
	memset(m, 0, offsetof(struct dhcp4_msg, optbuf));
}

void dhcp4_msg_reply_init(struct dhcp4_msg *reply, const struct dhcp4_msg *req, uint8_t type)
{
	dhcp4_msg_init(reply);
	reply->op = DHCP4_BOOTREPLY;
	reply->htype = req->htype;
	reply->hlen = req->hlen;
	reply->xid = req->xid;
	reply->flags = req->flags;
	reply->giaddr = req->giaddr;
	memcpy(reply->chaddr, req->chaddr, DHCP4_CHADDR_LEN);
	dhcp4_msg_set_u8(reply, DHCP4_OPT_MSG_TYPE, type);
}

static struct dhcp4_option *find_option(const struct dhcp4_msg *m, uint8_t code)
{
	for (size_t i = 0; i < m->n_options; i++) {
		if (m->options[i].code == code)
			return (struct dhcp4_option *)&m->options[i];
	}
	return NULL;
}

const uint8_t *dhcp4_msg_option(const struct dhcp4_msg *m, uint8_t code, size_t *ret_len)
{
	const struct dhcp4_option *o = find_option(m, code);

	if (!o)
		return NULL;
	if (ret_len)
		*ret_len = o->len;
	return m->optbuf + o->off;
}

bool dhcp4_msg_has_option(const struct dhcp4_msg *m, uint8_t code)
{
	return find_option(m, code) != NULL;
}

/* Drop o's bytes from the arena, moving later values down. */
static void arena_cut(struct dhcp4_msg *m, struct dhcp4_option *o)
{
	size_t off = o->off, l = o->len, end = off + l;

	memmove(m->optbuf + off, m->optbuf + end, m->optbuf_used - end);
	m->optbuf_used = (uint16_t)(m->optbuf_used - l);
	for (size_t i = 0; i < m->n_options; i++) {
		struct dhcp4_option *p = &m->options[i];
		if (p != o && l && p->off >= end)
			p->off = (uint16_t)(p->off - l);
	}
	o->off = m->optbuf_used;
	o->len = 0;
}

int dhcp4_msg_option_set(struct dhcp4_msg *m, uint8_t code, const void *data, size_t len)
{
	struct dhcp4_option *o = find_option(m, code);

	if (code == DHCP4_OPT_PAD || code == DHCP4_OPT_END || code == DHCP4_OPT_OVERLOAD)
		return -EINVAL;
	if (!o && m->n_options >= DHCP4_OPTIONS_MAX)
		return -ENOSPC;
	if (len > (size_t)DHCP4_OPTBUF_MAX - m->optbuf_used + (o ? o->len : 0))
		return -ENOSPC;
	if (o) {
		arena_cut(m, o);
	} else {
		o = &m->options[m->n_options++];
		o->code = code;
	}
	o->off = m->optbuf_used;
	o->len = (uint16_t)len;
	if (len)
		memcpy(m->optbuf + o->off, data, len);
	m->optbuf_used = (uint16_t)(m->optbuf_used + len);
	return 0;
}

int dhcp4_msg_option_remove(struct dhcp4_msg *m, uint8_t code)
{
	struct dhcp4_option *o = find_option(m, code);

	if (!o)
		return -ENOENT;
	arena_cut(m, o);
	size_t i = (size_t)(o - m->options);
	memmove(o, o + 1, (m->n_options - i - 1) * sizeof(*o));
	m->n_options--;
	return 0;
}

bool dhcp4_msg_equal(const struct dhcp4_msg *a, const struct dhcp4_msg *b)
{
	if (a->op != b->op || a->htype != b->htype || a->hlen != b->hlen || a->hops != b->hops || a->xid != b->xid ||
	    a->secs != b->secs || a->flags != b->flags || a->ciaddr != b->ciaddr || a->yiaddr != b->yiaddr ||
	    a->siaddr != b->siaddr || a->giaddr != b->giaddr || memcmp(a->chaddr, b->chaddr, DHCP4_CHADDR_LEN) != 0 ||
	    strncmp(a->sname, b->sname, sizeof(a->sname)) != 0 || strncmp(a->file, b->file, sizeof(a->file)) != 0 ||
	    a->n_options != b->n_options)
		return false;
	for (size_t i = 0; i < a->n_options; i++) {
		const struct dhcp4_option *x = &a->options[i], *y = &b->options[i];
		if (x->code != y->code || x->len != y->len ||
		    (x->len && memcmp(a->optbuf + x->off, b->optbuf + y->off, x->len) != 0))
			return false;
	}
	return true;
}

/* ---- typed setters and getters ------------------------------------------- */

int dhcp4_msg_set_u8(struct dhcp4_msg *m, uint8_t code, uint8_t v)
{
	return dhcp4_msg_option_set(m, code, &v, 1);
}

int dhcp4_msg_set_u16(struct dhcp4_msg *m, uint8_t code, uint16_t v)
{
	uint8_t b[2];
	be_put16(b, v);
	return dhcp4_msg_option_set(m, code, b, 2);
}

int dhcp4_msg_set_u32(struct dhcp4_msg *m, uint8_t code, uint32_t v)
{
	uint8_t b[4];
	be_put32(b, v);
	return dhcp4_msg_option_set(m, code, b, 4);
}

int dhcp4_msg_set_ip(struct dhcp4_msg *m, uint8_t code, uint32_t ip)
{
	return dhcp4_msg_option_set(m, code, &ip, 4);
}

int dhcp4_msg_set_ips(struct dhcp4_msg *m, uint8_t code, const uint32_t *ips, size_t n)
{
	if (n > DHCP4_OPTBUF_MAX / 4)
		return -ENOSPC;
	return dhcp4_msg_option_set(m, code, ips, 4 * n);
}

int dhcp4_msg_set_string(struct dhcp4_msg *m, uint8_t code, const char *s)
{
	return dhcp4_msg_option_set(m, code, s, strlen(s));
}

static const uint8_t *option_len(const struct dhcp4_msg *m, uint8_t code, size_t want, int *ret)
{
	size_t len;
	const uint8_t *v = dhcp4_msg_option(m, code, &len);

	*ret = !v ? -ENOENT : len != want ? -EBADMSG : 0;
	return *ret ? NULL : v;
}

int dhcp4_msg_get_u8(const struct dhcp4_msg *m, uint8_t code, uint8_t *ret)
{
	int r;
	const uint8_t *v = option_len(m, code, 1, &r);
	if (v)
		*ret = v[0];
	return r;
}

int dhcp4_msg_get_u16(const struct dhcp4_msg *m, uint8_t code, uint16_t *ret)
{
	int r;
	const uint8_t *v = option_len(m, code, 2, &r);
	if (v)
		*ret = be_get16(v);
	return r;
}

int dhcp4_msg_get_u32(const struct dhcp4_msg *m, uint8_t code, uint32_t *ret)
{
	int r;
	const uint8_t *v = option_len(m, code, 4, &r);
	if (v)
		*ret = be_get32(v);
	return r;
}

int dhcp4_msg_get_ip(const struct dhcp4_msg *m, uint8_t code, uint32_t *ret)
{
	int r;
	const uint8_t *v = option_len(m, code, 4, &r);
	if (v)
		memcpy(ret, v, 4);
	return r;
}

/* ---- convenience accessors ----------------------------------------------- */

int dhcp4_msg_type(const struct dhcp4_msg *m)
{
	uint8_t t;
	int r = dhcp4_msg_get_u8(m, DHCP4_OPT_MSG_TYPE, &t);

	if (r < 0)
		return r;
	return t ? t : -EBADMSG;
}

const char *dhcp4_msg_type_name(unsigned type)
{
	static const char *const names[] = {
	    "?",
	    "DISCOVER",
	    "OFFER",
	    "REQUEST",
	    "DECLINE",
	    "ACK",
	    "NAK",
	    "RELEASE",
	    "INFORM",
	    "FORCERENEW",
	    "LEASEQUERY",
	    "LEASEUNASSIGNED",
	    "LEASEUNKNOWN",
	    "LEASEACTIVE",
	    "BULKLEASEQUERY",
	    "LEASEQUERYDONE",
	    "ACTIVELEASEQUERY",
	    "LEASEQUERYSTATUS",
	    "TLS",
	};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

int dhcp4_msg_requested_ip(const struct dhcp4_msg *m, uint32_t *ret)
{
	return dhcp4_msg_get_ip(m, DHCP4_OPT_REQUESTED_IP, ret);
}

int dhcp4_msg_server_id(const struct dhcp4_msg *m, uint32_t *ret)
{
	return dhcp4_msg_get_ip(m, DHCP4_OPT_SERVER_ID, ret);
}

int dhcp4_msg_lease_time(const struct dhcp4_msg *m, uint32_t *ret)
{
	return dhcp4_msg_get_u32(m, DHCP4_OPT_LEASE_TIME, ret);
}

int dhcp4_msg_max_size(const struct dhcp4_msg *m, uint16_t *ret)
{
	uint16_t v;
	int r = dhcp4_msg_get_u16(m, DHCP4_OPT_MAX_SIZE, &v);

	if (r < 0)
		return r;
	if (v < DHCP4_MIN_MAX_SIZE)
		return -EBADMSG;
	*ret = v;
	return 0;
}

size_t dhcp4_msg_reply_max_size(const struct dhcp4_msg *req)
{
	uint16_t v;
	return dhcp4_msg_max_size(req, &v) == 0 ? v : DHCP4_MIN_MAX_SIZE;
}
