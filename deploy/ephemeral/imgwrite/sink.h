/* ironrack-imgwrite's pipeline: the image file's bytes as they arrive are
 * hashed (SHA-256 of the file as served), decompressed (gzip, zstd, or
 * passed through for raw) and written to the disk in large aligned writes.
 *
 * The disk is any file descriptor open for writing: a block device in the
 * ephemeral environment, a regular file in the tests. Writes are pwrite()s
 * of IMGW_SINK_CHUNK bytes at offsets that are multiples of it (only the
 * last one is shorter), from a page-aligned buffer. Writeback is started
 * for each chunk as it is written and waited for IMGW_SINK_LAG bytes later
 * (sync_file_range), and those pages are dropped from the page cache: a
 * machine with little memory never holds more than that much of the image
 * dirty, and the time spent waiting for the disk is what write_us counts.
 *
 * A decompression error does not stop the pipeline: the bytes keep being
 * hashed (nothing more is written), so that imgw_sink_finish can tell a
 * corrupted download (the checksum differs: say that) from an image that
 * is not what its format says (the checksum matches).
 *
 * Not thread-safe; one sink per image. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <zlib.h>

#define IMGW_SINK_CHUNK (4u << 20)
#define IMGW_SINK_LAG	(32u << 20)

enum imgw_format {
	IMGW_FORMAT_RAW,
	IMGW_FORMAT_GZIP,
	IMGW_FORMAT_ZSTD,
};
/* "raw", "gzip", "zstd" -> 0 and *ret; -EINVAL for another name. */
int imgw_format_parse(const char *name, enum imgw_format *ret);
const char *imgw_format_name(enum imgw_format f);

struct ZSTD_DCtx_s;

struct imgw_sink {
	enum imgw_format format;
	int fd; /* the disk; not owned */

	/* Bytes of the file taken in (hashed), bytes the decoder produced,
	 * bytes written to the disk (a prefix of those produced). */
	uint64_t received, produced, written;
	int64_t write_us; /* time spent in pwrite, writeback waits and fsync */

	/* The first error, as one line for the operator. A write error stops
	 * everything (feed fails); a decode error only stops decoding. */
	bool decode_failed;
	char decode_err[200];
	char err[200];

	SHA256_CTX sha;
	uint8_t *buf; /* IMGW_SINK_CHUNK bytes, page-aligned */
	size_t buf_len;
	uint64_t synced; /* writeback waited for below this offset */
	/* gzip */
	z_stream z;
	bool z_live;
	bool z_member_end; /* the last input ended exactly at a member's end */
	/* zstd */
	struct ZSTD_DCtx_s *zd;
	size_t zd_hint; /* ZSTD_decompressStream's last answer: 0 = at a frame's end */
};

/* Set up a sink writing to fd from offset 0 (out of memory aborts,
 * common/util.h). */
void imgw_sink_init(struct imgw_sink *s, enum imgw_format format, int fd);
/* Free what init allocated (fd stays open). */
void imgw_sink_done(struct imgw_sink *s);

/* Take in the next len bytes of the file. 0; or -errno when writing to
 * the disk failed (s->err says where and why; the sink is then dead). */
int imgw_sink_feed(struct imgw_sink *s, const void *data, size_t len);

/* Start over from the first byte of the file (the server ignored a
 * Range). Only while nothing has been written: -EBUSY otherwise. */
int imgw_sink_restart(struct imgw_sink *s);

/* The SHA-256 of the bytes taken in; the sink cannot be fed after. */
void imgw_sink_digest(struct imgw_sink *s, uint8_t ret_sha256[32]);

/* After the whole file was fed: check that the compressed stream ended
 * where the file did (-EBADMSG, s->decode_err, when it did not or a
 * decode error happened before), then write what is buffered and fsync
 * the disk (-errno, s->err, when that fails). */
int imgw_sink_finish(struct imgw_sink *s);
