/* ironrack-imgwrite's hash + decompress + write pipeline (sink.h). */
#include "deploy/ephemeral/imgwrite/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/util.h"

/* zlib counts its input in uInt: feed it at most this much at a time. */
#define IMGW_SINK_FEED_MAX (1u << 30)

int imgw_format_parse(const char *name, enum imgw_format *ret)
{
	if (strcmp(name, "raw") == 0)
		*ret = IMGW_FORMAT_RAW;
	else if (strcmp(name, "gzip") == 0)
		*ret = IMGW_FORMAT_GZIP;
	else if (strcmp(name, "zstd") == 0)
		*ret = IMGW_FORMAT_ZSTD;
	else
		return -EINVAL;
	return 0;
}

const char *imgw_format_name(enum imgw_format f)
{
	switch (f) {
	case IMGW_FORMAT_RAW:
		return "raw";
	case IMGW_FORMAT_GZIP:
		return "gzip";
	case IMGW_FORMAT_ZSTD:
		return "zstd";
	}
	return "?";
}

void imgw_sink_init(struct imgw_sink *s, enum imgw_format format, int fd)
{
	void *buf;

	memset(s, 0, sizeof(*s));
	s->format = format;
	s->fd = fd;
	if (posix_memalign(&buf, 4096, IMGW_SINK_CHUNK) != 0)
		oom_abort(IMGW_SINK_CHUNK);
	s->buf = buf;
	SHA256_Init(&s->sha);
	if (format == IMGW_FORMAT_GZIP) {
		/* 16 + 15: gzip wrapper only, the largest window. */
		int rc = inflateInit2(&s->z, 16 + MAX_WBITS);
		if (rc != Z_OK)
			oom_abort(0);
		s->z_live = true;
	} else if (format == IMGW_FORMAT_ZSTD) {
		s->zd = ZSTD_createDCtx();
		if (!s->zd)
			oom_abort(0);
		s->zd_hint = 1;
	}
}

void imgw_sink_done(struct imgw_sink *s)
{
	if (s->z_live)
		inflateEnd(&s->z);
	s->z_live = false;
	ZSTD_freeDCtx(s->zd);
	s->zd = NULL;
	free(s->buf);
	s->buf = NULL;
}

/* ---- writing ---- */

static int write_failed(struct imgw_sink *s, int err, uint64_t at)
{
	if (err == ENOSPC)
		snprintf(s->err, sizeof(s->err), "at byte %" PRIu64 ": %s (the image is larger than the disk)", at,
			 strerror(err));
	else
		snprintf(s->err, sizeof(s->err), "at byte %" PRIu64 ": %s", at, strerror(err));
	return -err;
}

/* sync_file_range where the descriptor supports it: an EIO or ENOSPC it
 * reports is the disk's failure; EINVAL, ESPIPE and ENOSYS only mean the
 * file (a pipe, some file systems) has no such thing. */
static int range_sync(struct imgw_sink *s, uint64_t off, uint64_t len, unsigned flags)
{
	if (sync_file_range(s->fd, (off_t)off, (off_t)len, flags) == 0)
		return 0;
	if (errno == EINVAL || errno == ESPIPE || errno == ENOSYS)
		return 0;
	return write_failed(s, errno, off);
}

/* Start writeback of [start, written); wait for what lies more than
 * IMGW_SINK_LAG behind and drop it from the page cache. */
static int writeback(struct imgw_sink *s, uint64_t start)
{
	int err = range_sync(s, start, s->written - start, SYNC_FILE_RANGE_WRITE);

	if (err < 0 || s->written - s->synced <= IMGW_SINK_LAG)
		return err;
	uint64_t upto = s->written - IMGW_SINK_LAG;
	err = range_sync(s, s->synced, upto - s->synced,
			 SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
	if (err < 0)
		return err;
	/* A hint: the written image need not stay in memory. */
	(void)posix_fadvise(s->fd, (off_t)s->synced, (off_t)(upto - s->synced), POSIX_FADV_DONTNEED);
	s->synced = upto;
	return 0;
}

/* Write the buffer at s->written. */
static int flush(struct imgw_sink *s)
{
	int64_t t0 = clock_mono_us();
	size_t off = 0;
	int err = 0;

	while (off < s->buf_len) {
		ssize_t n = pwrite(s->fd, s->buf + off, s->buf_len - off, (off_t)(s->written + off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = write_failed(s, n == 0 ? ENOSPC : errno, s->written + off);
			break;
		}
		off += (size_t)n;
	}
	if (err == 0) {
		uint64_t start = s->written;
		s->written += s->buf_len;
		s->buf_len = 0;
		err = writeback(s, start);
	}
	s->write_us += clock_mono_us() - t0;
	return err;
}

/* ---- decoding ---- */

static void decode_failed(struct imgw_sink *s, const char *what, uint64_t at)
{
	s->decode_failed = true;
	snprintf(s->decode_err, sizeof(s->decode_err), "%s: %s at byte %" PRIu64 " of the file",
		 imgw_format_name(s->format), what, at);
}

static int raw_in(struct imgw_sink *s, const uint8_t *p, size_t len)
{
	while (len) {
		size_t n = IMGW_SINK_CHUNK - s->buf_len;
		if (n > len)
			n = len;
		memcpy(s->buf + s->buf_len, p, n);
		s->buf_len += n;
		s->produced += n;
		p += n;
		len -= n;
		if (s->buf_len == IMGW_SINK_CHUNK) {
			int err = flush(s);
			if (err < 0)
				return err;
		}
	}
	return 0;
}

/* Members one after another (gzip -c a b) are one stream, as gzip -d
 * reads them. */
static int gzip_in(struct imgw_sink *s, const uint8_t *p, size_t len)
{
	uint64_t base = s->received - len;
	bool pending = true; /* inflate may hold output that did not fit */

	s->z.next_in = (Bytef *)p;
	s->z.avail_in = (uInt)len;
	while (s->z.avail_in > 0 || pending) {
		if (s->z_member_end) {
			if (s->z.avail_in == 0)
				break;
			inflateReset(&s->z);
			s->z_member_end = false;
		}
		size_t room = IMGW_SINK_CHUNK - s->buf_len;
		s->z.next_out = s->buf + s->buf_len;
		s->z.avail_out = (uInt)room;
		int rc = inflate(&s->z, Z_NO_FLUSH);
		size_t got = room - s->z.avail_out;
		s->buf_len += got;
		s->produced += got;
		pending = s->z.avail_out == 0;
		if (rc == Z_STREAM_END) {
			s->z_member_end = true;
			pending = false;
		} else if (rc == Z_BUF_ERROR) {
			pending = false; /* nothing more without input */
		} else if (rc != Z_OK) {
			decode_failed(s, s->z.msg ? s->z.msg : "invalid data", base + (len - s->z.avail_in));
			return 0;
		}
		if (s->buf_len == IMGW_SINK_CHUNK) {
			int err = flush(s);
			if (err < 0)
				return err;
		}
	}
	return 0;
}

/* Frames one after another are one stream, as zstd -d reads them. */
static int zstd_in(struct imgw_sink *s, const uint8_t *p, size_t len)
{
	uint64_t base = s->received - len;
	ZSTD_inBuffer in = {p, len, 0};
	bool pending = true;

	while (in.pos < in.size || pending) {
		ZSTD_outBuffer out = {s->buf + s->buf_len, IMGW_SINK_CHUNK - s->buf_len, 0};
		size_t r = ZSTD_decompressStream(s->zd, &out, &in);
		if (ZSTD_isError(r)) {
			decode_failed(s, ZSTD_getErrorName(r), base + in.pos);
			return 0;
		}
		s->buf_len += out.pos;
		s->produced += out.pos;
		s->zd_hint = r;
		/* A full output may hide more; at a frame's end (0) there is
		 * none, and asking again would start reading the next frame. */
		pending = out.pos == out.size && r != 0;
		if (s->buf_len == IMGW_SINK_CHUNK) {
			int err = flush(s);
			if (err < 0)
				return err;
		}
	}
	return 0;
}

int imgw_sink_feed(struct imgw_sink *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		size_t n = len > IMGW_SINK_FEED_MAX ? IMGW_SINK_FEED_MAX : len;
		int err = 0;

		SHA256_Update(&s->sha, p, n);
		s->received += n;
		if (!s->decode_failed) {
			switch (s->format) {
			case IMGW_FORMAT_RAW:
				err = raw_in(s, p, n);
				break;
			case IMGW_FORMAT_GZIP:
				err = gzip_in(s, p, n);
				break;
			case IMGW_FORMAT_ZSTD:
				err = zstd_in(s, p, n);
				break;
			}
		}
		if (err < 0)
			return err;
		p += n;
		len -= n;
	}
	return 0;
}

int imgw_sink_restart(struct imgw_sink *s)
{
	if (s->written)
		return -EBUSY;
	SHA256_Init(&s->sha);
	s->received = s->produced = 0;
	s->buf_len = 0;
	s->decode_failed = false;
	s->decode_err[0] = '\0';
	if (s->z_live)
		inflateReset(&s->z);
	s->z_member_end = false;
	if (s->zd) {
		ZSTD_DCtx_reset(s->zd, ZSTD_reset_session_only);
		s->zd_hint = 1;
	}
	return 0;
}

void imgw_sink_digest(struct imgw_sink *s, uint8_t ret_sha256[32])
{
	SHA256_Final(ret_sha256, &s->sha);
}

int imgw_sink_finish(struct imgw_sink *s)
{
	if (!s->decode_failed) {
		if (s->format == IMGW_FORMAT_GZIP && !s->z_member_end)
			decode_failed(s, "the file ends inside a compressed stream", s->received);
		else if (s->format == IMGW_FORMAT_ZSTD && s->zd_hint != 0)
			decode_failed(s, "the file ends inside a frame", s->received);
	}
	if (s->decode_failed)
		return -EBADMSG;
	int err = flush(s);
	if (err < 0)
		return err;
	int64_t t0 = clock_mono_us();
	if (fsync(s->fd) < 0 && errno != EINVAL)
		err = write_failed(s, errno, s->written);
	s->write_us += clock_mono_us() - t0;
	return err;
}
