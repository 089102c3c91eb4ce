/* Lease journal / snapshot file format: header, records, CRC32C. Pure: no
 * I/O, no allocation. See rack/dhcp/leases.h for the layout and for why a
 * parse stops at the first bad record. */
#include "rack/dhcp/leases.h"

#include <errno.h>
#include <string.h>

#define FILE_VERSION   1
#define REC_VERSION    1
#define REC_FIXED      64 /* PUT payload without client id and hostname */
#define REC_REMOVE_LEN 16
#define REC_POOL_LEN   24

static const char magic_journal[8] = {'I', 'R', 'L', 'E', 'A', 'S', 'E', 'J'};
static const char magic_snapshot[8] = {'I', 'R', 'L', 'E', 'A', 'S', 'E', 'S'};

/* ---- CRC32C (Castagnoli), reflected ----
 *
 * With SSE4.2's crc32 instruction (the same polynomial, 8 bytes a step)
 * where the CPU has it, else a table a byte a step: the same result. Every
 * journal record and every record of a snapshot (built on the DHCP loop)
 * goes through here. */

static uint32_t crc_table[256];
static int crc_ready; /* 0 unset, 1 table, 2 instruction; racing threads agree */

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
	int how = 1;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		how = 2;
#endif
	__atomic_store_n(&crc_ready, how, __ATOMIC_RELEASE);
}

static uint32_t crc_bytes(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t)c;
	for (; len > 0; p++, len--)
		crc = __builtin_ia32_crc32qi(crc, *p);
	return crc;
}
#endif

uint32_t lease_crc32c(uint32_t crc, const void *data, size_t len)
{
	int how = __atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE);
	if (!how) {
		crc_init();
		how = __atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE);
	}
#if defined(__x86_64__)
	if (how == 2)
		return ~crc_sse42(~crc, data, len);
#endif
	return ~crc_bytes(~crc, data, len);
}

/* ---- little-endian helpers ---- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

const char *lease_state_name(enum lease_state st)
{
	switch (st) {
	case LEASE_FREE:
		return "free";
	case LEASE_OFFERED:
		return "offered";
	case LEASE_ACTIVE:
		return "active";
	case LEASE_RELEASED:
		return "released";
	case LEASE_EXPIRED:
		return "expired";
	case LEASE_DECLINED:
		return "declined";
	case LEASE_RESERVED:
		return "reserved";
	}
	return "?";
}

/* ---- header ---- */

void lease_file_header_encode(uint8_t out[LEASE_FILE_HEADER_LEN], enum lease_file_kind kind, uint64_t seq)
{
	memset(out, 0, LEASE_FILE_HEADER_LEN);
	memcpy(out, kind == LEASE_FILE_SNAPSHOT ? magic_snapshot : magic_journal, 8);
	put32(out + 8, FILE_VERSION);
	put32(out + 12, (uint32_t)kind);
	put64(out + 16, seq);
	put32(out + 28, lease_crc32c(0, out, 28));
}

static int header_decode(const uint8_t *buf, size_t len, enum lease_file_kind kind, uint64_t *ret_seq)
{
	if (len < LEASE_FILE_HEADER_LEN)
		return -EBADMSG;
	if (memcmp(buf, kind == LEASE_FILE_SNAPSHOT ? magic_snapshot : magic_journal, 8) != 0)
		return -EBADMSG;
	if (get32(buf + 28) != lease_crc32c(0, buf, 28))
		return -EBADMSG;
	if (get32(buf + 8) != FILE_VERSION || get32(buf + 12) != (uint32_t)kind || get32(buf + 24) != 0)
		return -EBADMSG;
	*ret_seq = get64(buf + 16);
	return 0;
}

/* ---- records ---- */

size_t lease_rec_encode(const struct lease_rec *r, uint8_t *out)
{
	uint8_t *p = out + 8;
	size_t len;

	memset(p, 0, REC_FIXED);
	p[0] = r->type;
	p[1] = REC_VERSION;
	put64(p + 4, r->seq);
	switch (r->type) {
	case LEASE_REC_PUT: {
		const struct lease *l = &r->lease;
		size_t hn = strnlen(l->hostname, LEASE_HOSTNAME_MAX - 1);
		uint8_t hlen = l->hlen > LEASE_HWADDR_MAX ? LEASE_HWADDR_MAX : l->hlen;
		put32(p + 12, l->addr);
		p[16] = l->state;
		p[17] = l->owner;
		p[18] = l->conflict;
		p[19] = l->htype;
		p[20] = hlen;
		p[21] = l->client_id_len;
		p[22] = (uint8_t)hn;
		put64(p + 24, (uint64_t)l->start);
		put64(p + 32, (uint64_t)l->expiry);
		put32(p + 40, l->subnet_id);
		put32(p + 44, l->range_id);
		memcpy(p + 48, l->chaddr, hlen);
		memcpy(p + REC_FIXED, l->client_id, l->client_id_len);
		memcpy(p + REC_FIXED + l->client_id_len, l->hostname, hn);
		len = REC_FIXED + l->client_id_len + hn;
		break;
	}
	case LEASE_REC_REMOVE:
		put32(p + 12, r->lease.addr);
		len = REC_REMOVE_LEN;
		break;
	default: /* LEASE_REC_POOL */
		put32(p + 12, r->first);
		put32(p + 16, r->last);
		p[20] = r->owner;
		len = REC_POOL_LEN;
		break;
	}
	put32(out, (uint32_t)len);
	put32(out + 4, lease_crc32c(0, p, len));
	return 8 + len;
}

bool lease_file_is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Decode a payload whose CRC already matched. Field values are checked too:
 * a record that fails here is treated like a bad CRC. */
static int rec_decode(const uint8_t *p, size_t len, struct lease_rec *r)
{
	memset(r, 0, sizeof(*r));
	if (len < REC_REMOVE_LEN || p[1] != REC_VERSION || p[2] || p[3])
		return -EBADMSG;
	r->type = p[0];
	r->seq = get64(p + 4);
	if (r->seq == 0)
		return -EBADMSG;
	switch (r->type) {
	case LEASE_REC_PUT: {
		struct lease *l = &r->lease;
		if (len < REC_FIXED)
			return -EBADMSG;
		l->addr = get32(p + 12);
		l->state = p[16];
		l->owner = p[17];
		l->conflict = p[18];
		l->htype = p[19];
		l->hlen = p[20];
		l->client_id_len = p[21];
		uint8_t hn = p[22];
		if (l->addr == 0 || l->state < LEASE_ACTIVE || l->state > LEASE_STATE_MAX ||
		    l->owner > LEASE_OWNER_PEER || l->conflict > LEASE_CONFLICT_ADMIN || l->hlen > LEASE_HWADDR_MAX ||
		    hn >= LEASE_HOSTNAME_MAX || p[23] || len != (size_t)REC_FIXED + l->client_id_len + hn)
			return -EBADMSG;
		l->start = (int64_t)get64(p + 24);
		l->expiry = (int64_t)get64(p + 32);
		l->subnet_id = get32(p + 40);
		l->range_id = get32(p + 44);
		memcpy(l->chaddr, p + 48, l->hlen);
		memcpy(l->client_id, p + REC_FIXED, l->client_id_len);
		memcpy(l->hostname, p + REC_FIXED + l->client_id_len, hn);
		if (memchr(l->hostname, '\0', hn))
			return -EBADMSG;
		l->seq = r->seq;
		return 0;
	}
	case LEASE_REC_REMOVE:
		r->lease.addr = get32(p + 12);
		if (len != REC_REMOVE_LEN || r->lease.addr == 0)
			return -EBADMSG;
		return 0;
	case LEASE_REC_POOL:
		if (len != REC_POOL_LEN)
			return -EBADMSG;
		r->first = get32(p + 12);
		r->last = get32(p + 16);
		r->owner = p[20];
		if (r->first > r->last || r->last - r->first >= LEASE_POOL_SPAN_MAX || r->owner > LEASE_OWNER_PEER ||
		    !lease_file_is_zero(p + 21, 3))
			return -EBADMSG;
		return 0;
	default:
		return -EBADMSG;
	}
}

int64_t lease_file_parse(const uint8_t *buf, size_t len, enum lease_file_kind kind, lease_rec_fn cb, void *userdata,
			 size_t *ret_good, uint64_t *ret_base_seq, bool *ret_corrupt)
{
	uint64_t base, last;
	int64_t n = 0;
	size_t off = LEASE_FILE_HEADER_LEN;
	bool corrupt = false;

	*ret_good = 0;
	*ret_base_seq = 0;
	*ret_corrupt = false;
	int r = header_decode(buf, len, kind, &base);
	if (r < 0)
		return r;
	*ret_base_seq = base;
	*ret_good = LEASE_FILE_HEADER_LEN;
	last = base;
	while (off < len) {
		size_t rest = len - off;
		struct lease_rec rec;
		if (rest < 8)
			break; /* torn length prefix */
		uint32_t plen = get32(buf + off);
		if (plen < REC_REMOVE_LEN || plen > LEASE_REC_MAX - 8) {
			/* The length itself is garbage: a torn write leaves zeros;
			 * anything else after this point means damage. */
			corrupt = !lease_file_is_zero(buf + off, rest);
			break;
		}
		if (plen > rest - 8)
			break; /* torn payload */
		const uint8_t *p = buf + off + 8;
		/* A bad record followed by nothing but zeros (the journal's
		 * grown tail) is a torn write; anything else after it is damage. */
		size_t next = off + 8 + plen;
		if (get32(buf + off + 4) != lease_crc32c(0, p, plen) || rec_decode(p, plen, &rec) < 0) {
			corrupt = !lease_file_is_zero(buf + next, len - next);
			break;
		}
		/* Journal: strictly increasing after the header's seq. Snapshot:
		 * any order, none newer than the snapshot itself. */
		bool seq_ok = kind == LEASE_FILE_JOURNAL ? rec.seq > last : rec.seq <= base;
		if (!seq_ok) {
			corrupt = !lease_file_is_zero(buf + next, len - next);
			break;
		}
		last = rec.seq;
		if (cb) {
			r = cb(&rec, userdata);
			if (r != 0)
				return r;
		}
		off += 8 + plen;
		*ret_good = off;
		n++;
	}
	*ret_corrupt = corrupt;
	return n;
}
