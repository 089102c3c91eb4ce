/* TFTP wire codec: RFC 1350 packets (RRQ, WRQ, DATA, ACK, ERROR) and the
 * RFC 2347 option extension (OACK; blksize RFC 2348, tsize and timeout
 * RFC 2349, windowsize RFC 7440).
 *
 * Pure: bytes <-> struct tftp_packet, no I/O, no clock, no logging. The
 * codec checks syntax only; whether a value is acceptable (blksize 8..65464
 * and so on) is the engine's decision (rack/tftp/engine.h), so a decoded
 * request says exactly what the client sent.
 *
 * Decoding rules, chosen so that every input has one meaning:
 *   - Strings (file name, mode, option names and values) must end in a NUL
 *     inside the packet; a missing NUL is -EBADMSG. An ERROR message is the
 *     exception: it may lack its NUL (some clients omit it), since an ERROR
 *     ends the transfer whatever it says.
 *   - Mode and option names are case-insensitive (RFC 1350, RFC 2347).
 *   - Options come in name/value pairs; a name without a value is -EBADMSG.
 *     An empty name ends the list, and everything after it must be NUL:
 *     some PXE ROMs pad their requests with zeros.
 *   - A known option whose value is not a plain decimal number is ignored
 *     (bit in .invalid); values too large for 64 bits saturate.
 *   - A known option given twice: the first occurrence wins, later ones are
 *     ignored (bit in .duplicate). Refusing the request would break clients
 *     for no gain, and "last wins" would let the meaning of a request depend
 *     on which parser reads it.
 *   - Unknown options are ignored (counted in .unknown), as RFC 2347 asks.
 *   - A file name longer than TFTP_FILENAME_MAX bytes is -ENAMETOOLONG.
 *   - ACK packets may carry trailing bytes (padding by some ROMs); ignored.
 *
 * Pointers in a decoded packet point into the input buffer and die with it.
 * For every packet the encoder can produce, decode(encode(p)) == p. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TFTP_PORT	     69
#define TFTP_HEADER_LEN	     4 /* opcode + block number / error code */
#define TFTP_FILENAME_MAX    1024
#define TFTP_BLKSIZE_DEFAULT 512
#define TFTP_BLKSIZE_MIN     8
#define TFTP_BLKSIZE_MAX     65464
#define TFTP_TIMEOUT_MIN     1
#define TFTP_TIMEOUT_MAX     255
#define TFTP_WINDOWSIZE_MIN  1
#define TFTP_WINDOWSIZE_MAX  65535

enum tftp_opcode {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6,
};

enum tftp_mode {
	TFTP_MODE_NETASCII,
	TFTP_MODE_OCTET,
	TFTP_MODE_MAIL,
};

/* ERROR codes (RFC 1350; 8 from RFC 2347). */
enum tftp_error_code {
	TFTP_ERR_UNDEFINED = 0,
	TFTP_ERR_NOT_FOUND = 1,
	TFTP_ERR_ACCESS = 2,
	TFTP_ERR_DISK_FULL = 3,
	TFTP_ERR_ILLEGAL_OP = 4,
	TFTP_ERR_UNKNOWN_TID = 5,
	TFTP_ERR_EXISTS = 6,
	TFTP_ERR_NO_USER = 7,
	TFTP_ERR_OPTIONS = 8,
};

/* Bits for struct tftp_options .present, .duplicate and .invalid. */
#define TFTP_OPT_BLKSIZE    (1u << 0)
#define TFTP_OPT_TSIZE	    (1u << 1)
#define TFTP_OPT_TIMEOUT    (1u << 2)
#define TFTP_OPT_WINDOWSIZE (1u << 3)
#define TFTP_OPT_ALL	    (TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE | TFTP_OPT_TIMEOUT | TFTP_OPT_WINDOWSIZE)

struct tftp_options {
	unsigned present;   /* options with a decimal value, below */
	unsigned duplicate; /* options given more than once (the first counted) */
	unsigned invalid;   /* options ignored because the value was not a number */
	unsigned unknown;   /* number of options with a name we do not know */
	uint64_t blksize;
	uint64_t tsize;
	uint64_t timeout;
	uint64_t windowsize;
};

struct tftp_packet {
	enum tftp_opcode op;
	/* RRQ, WRQ: filename is NUL-terminated within the buffer. */
	const char *filename;
	size_t filename_len;
	enum tftp_mode mode;
	/* RRQ, WRQ, OACK */
	struct tftp_options opts;
	/* DATA, ACK */
	uint16_t block;
	const uint8_t *data;
	size_t data_len;
	/* ERROR: message not necessarily NUL-terminated when decoded. */
	uint16_t error_code;
	const char *error_msg;
	size_t error_msg_len;
};

/* Decode one datagram. 0 on success; -EBADMSG malformed, -ENAMETOOLONG
 * file name over TFTP_FILENAME_MAX. */
int tftp_decode(const uint8_t *buf, size_t len, struct tftp_packet *ret);

/* Encode p into buf. Returns the length, or -ENOSPC if buf is too small,
 * -EINVAL if p cannot be encoded (unknown opcode or mode, a string with a
 * NUL inside, a file name over TFTP_FILENAME_MAX). For DATA, data_len bytes
 * are copied after the header; the server avoids the copy with
 * tftp_encode_data_header() and an iovec. */
int tftp_encode(const struct tftp_packet *p, uint8_t *buf, size_t len);

/* The 4-byte header of a DATA packet. */
void tftp_encode_data_header(uint8_t hdr[TFTP_HEADER_LEN], uint16_t block);

const char *tftp_opcode_name(unsigned op);
const char *tftp_mode_name(enum tftp_mode mode);
/* Is the packet equal to the other, field by field and by content? */
bool tftp_packet_equal(const struct tftp_packet *a, const struct tftp_packet *b);
