/* TFTP wire codec; see tftp.h for the decoding rules. */
#include "common/wire/tftp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct tftp_option_name {
	const char *name;
	unsigned bit;
	size_t offset;
};

/* Order of the table is the order the encoder writes options in. */
static const struct tftp_option_name tftp_option_names[] = {
    {"blksize", TFTP_OPT_BLKSIZE, offsetof(struct tftp_options, blksize)},
    {"tsize", TFTP_OPT_TSIZE, offsetof(struct tftp_options, tsize)},
    {"timeout", TFTP_OPT_TIMEOUT, offsetof(struct tftp_options, timeout)},
    {"windowsize", TFTP_OPT_WINDOWSIZE, offsetof(struct tftp_options, windowsize)},
};
#define TFTP_N_OPTIONS (sizeof(tftp_option_names) / sizeof(tftp_option_names[0]))

static const char *const tftp_mode_names[] = {
    [TFTP_MODE_NETASCII] = "netascii",
    [TFTP_MODE_OCTET] = "octet",
    [TFTP_MODE_MAIL] = "mail",
};

static uint64_t *option_field(struct tftp_options *o, const struct tftp_option_name *n)
{
	return (uint64_t *)((char *)o + n->offset);
}

static uint64_t option_value(const struct tftp_options *o, const struct tftp_option_name *n)
{
	return *(const uint64_t *)((const char *)o + n->offset);
}

/* The NUL-terminated string at *p, which must end before end. */
static int take_string(const uint8_t **p, const uint8_t *end, const char **ret, size_t *ret_len)
{
	const uint8_t *nul = memchr(*p, '\0', (size_t)(end - *p));

	if (!nul)
		return -EBADMSG;
	*ret = (const char *)*p;
	*ret_len = (size_t)(nul - *p);
	*p = nul + 1;
	return 0;
}

/* Plain decimal digits, at least one; saturates at UINT64_MAX. */
static bool parse_decimal(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*ret = v;
	return true;
}

static void option_apply(struct tftp_options *o, const char *name, size_t name_len, const char *val, size_t val_len)
{
	for (size_t i = 0; i < TFTP_N_OPTIONS; i++) {
		const struct tftp_option_name *n = &tftp_option_names[i];
		if (strlen(n->name) != name_len || strncasecmp(n->name, name, name_len) != 0)
			continue;
		if ((o->present | o->invalid) & n->bit) {
			o->duplicate |= n->bit;
			return;
		}
		if (parse_decimal(val, val_len, option_field(o, n)))
			o->present |= n->bit;
		else
			o->invalid |= n->bit;
		return;
	}
	o->unknown++;
}

static bool all_zero(const uint8_t *p, const uint8_t *end)
{
	for (; p < end; p++) {
		if (*p)
			return false;
	}
	return true;
}

static int decode_options(const uint8_t *p, const uint8_t *end, struct tftp_options *o)
{
	while (p < end) {
		const char *name, *val;
		size_t name_len, val_len;

		if (*p == '\0')
			return all_zero(p, end) ? 0 : -EBADMSG;
		if (take_string(&p, end, &name, &name_len) < 0 || p >= end || take_string(&p, end, &val, &val_len) < 0)
			return -EBADMSG;
		option_apply(o, name, name_len, val, val_len);
	}
	return 0;
}

static int decode_request(const uint8_t *p, const uint8_t *end, struct tftp_packet *ret)
{
	const char *mode;
	size_t mode_len;
	size_t i;

	if (take_string(&p, end, &ret->filename, &ret->filename_len) < 0)
		return -EBADMSG;
	if (take_string(&p, end, &mode, &mode_len) < 0)
		return -EBADMSG;
	for (i = 0; i < sizeof(tftp_mode_names) / sizeof(tftp_mode_names[0]); i++) {
		if (strlen(tftp_mode_names[i]) == mode_len && strncasecmp(tftp_mode_names[i], mode, mode_len) == 0)
			break;
	}
	if (i == sizeof(tftp_mode_names) / sizeof(tftp_mode_names[0]))
		return -EBADMSG;
	ret->mode = (enum tftp_mode)i;
	int r = decode_options(p, end, &ret->opts);
	if (r < 0)
		return r;
	/* Checked last so that a malformed packet is reported as such. */
	if (ret->filename_len > TFTP_FILENAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int tftp_decode(const uint8_t *buf, size_t len, struct tftp_packet *ret)
{
	const uint8_t *end = buf + len;

	memset(ret, 0, sizeof(*ret));
	if (len < 2)
		return -EBADMSG;
	ret->op = (enum tftp_opcode)((buf[0] << 8) | buf[1]);
	switch (ret->op) {
	case TFTP_RRQ:
	case TFTP_WRQ:
		return decode_request(buf + 2, end, ret);
	case TFTP_OACK:
		return decode_options(buf + 2, end, &ret->opts);
	case TFTP_DATA:
	case TFTP_ACK:
		if (len < TFTP_HEADER_LEN)
			return -EBADMSG;
		ret->block = (uint16_t)((buf[2] << 8) | buf[3]);
		if (ret->op == TFTP_DATA) {
			ret->data = buf + TFTP_HEADER_LEN;
			ret->data_len = len - TFTP_HEADER_LEN;
		}
		return 0;
	case TFTP_ERROR: {
		if (len < TFTP_HEADER_LEN)
			return -EBADMSG;
		ret->error_code = (uint16_t)((buf[2] << 8) | buf[3]);
		const uint8_t *msg = buf + TFTP_HEADER_LEN;
		const uint8_t *nul = memchr(msg, '\0', (size_t)(end - msg));
		ret->error_msg = (const char *)msg;
		ret->error_msg_len = (size_t)((nul ? nul : end) - msg);
		return 0;
	}
	}
	return -EBADMSG;
}

/* Bytes are appended through a cursor that remembers overflow, so the
 * encoders need one length check at the end. */
struct cursor {
	uint8_t *p, *end;
	bool overflow;
};

static void put(struct cursor *c, const void *data, size_t len)
{
	if (c->overflow || (size_t)(c->end - c->p) < len) {
		c->overflow = true;
		return;
	}
	if (len)
		memcpy(c->p, data, len);
	c->p += len;
}

static void put16(struct cursor *c, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(c, b, 2);
}

static void put_string(struct cursor *c, const char *s, size_t len)
{
	put(c, s, len);
	put(c, "", 1);
}

static void encode_options(struct cursor *c, const struct tftp_options *o)
{
	for (size_t i = 0; i < TFTP_N_OPTIONS; i++) {
		const struct tftp_option_name *n = &tftp_option_names[i];
		char val[24];
		if (!(o->present & n->bit))
			continue;
		int len = snprintf(val, sizeof(val), "%llu", (unsigned long long)option_value(o, n));
		put_string(c, n->name, strlen(n->name));
		put_string(c, val, (size_t)len);
	}
}

int tftp_encode(const struct tftp_packet *p, uint8_t *buf, size_t len)
{
	struct cursor c = {buf, buf + len, false};

	put16(&c, (uint16_t)p->op);
	switch (p->op) {
	case TFTP_RRQ:
	case TFTP_WRQ:
		if ((unsigned)p->mode >= sizeof(tftp_mode_names) / sizeof(tftp_mode_names[0]) ||
		    p->filename_len > TFTP_FILENAME_MAX ||
		    (p->filename_len && memchr(p->filename, '\0', p->filename_len)))
			return -EINVAL;
		put_string(&c, p->filename, p->filename_len);
		put_string(&c, tftp_mode_names[p->mode], strlen(tftp_mode_names[p->mode]));
		encode_options(&c, &p->opts);
		break;
	case TFTP_OACK:
		encode_options(&c, &p->opts);
		break;
	case TFTP_DATA:
		put16(&c, p->block);
		put(&c, p->data, p->data_len);
		break;
	case TFTP_ACK:
		put16(&c, p->block);
		break;
	case TFTP_ERROR:
		if (p->error_msg_len && memchr(p->error_msg, '\0', p->error_msg_len))
			return -EINVAL;
		put16(&c, p->error_code);
		put_string(&c, p->error_msg, p->error_msg_len);
		break;
	default:
		return -EINVAL;
	}
	if (c.overflow)
		return -ENOSPC;
	return (int)(c.p - buf);
}

void tftp_encode_data_header(uint8_t hdr[TFTP_HEADER_LEN], uint16_t block)
{
	hdr[0] = 0;
	hdr[1] = TFTP_DATA;
	hdr[2] = (uint8_t)(block >> 8);
	hdr[3] = (uint8_t)block;
}

const char *tftp_opcode_name(unsigned op)
{
	static const char *const names[] = {"?", "RRQ", "WRQ", "DATA", "ACK", "ERROR", "OACK"};
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

const char *tftp_mode_name(enum tftp_mode mode)
{
	return (unsigned)mode < sizeof(tftp_mode_names) / sizeof(tftp_mode_names[0]) ? tftp_mode_names[mode] : "?";
}

static bool bytes_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool options_equal(const struct tftp_options *a, const struct tftp_options *b)
{
	if (a->present != b->present || a->duplicate != b->duplicate || a->invalid != b->invalid ||
	    a->unknown != b->unknown)
		return false;
	for (size_t i = 0; i < TFTP_N_OPTIONS; i++) {
		const struct tftp_option_name *n = &tftp_option_names[i];
		if ((a->present & n->bit) && option_value(a, n) != option_value(b, n))
			return false;
	}
	return true;
}

bool tftp_packet_equal(const struct tftp_packet *a, const struct tftp_packet *b)
{
	if (a->op != b->op)
		return false;
	switch (a->op) {
	case TFTP_RRQ:
	case TFTP_WRQ:
		return a->mode == b->mode && bytes_equal(a->filename, a->filename_len, b->filename, b->filename_len) &&
		       options_equal(&a->opts, &b->opts);
	case TFTP_OACK:
		return options_equal(&a->opts, &b->opts);
	case TFTP_DATA:
		return a->block == b->block && bytes_equal(a->data, a->data_len, b->data, b->data_len);
	case TFTP_ACK:
		return a->block == b->block;
	case TFTP_ERROR:
		return a->error_code == b->error_code &&
		       bytes_equal(a->error_msg, a->error_msg_len, b->error_msg, b->error_msg_len);
	}
	return true;
}
