/* ironrack-imgwrite's pipeline (deploy/ephemeral/imgwrite/sink.h) with a
 * temporary file as the disk: raw, gzip (several members) and zstd
 * (several frames) fed in uneven pieces land byte for byte, with the
 * SHA-256 of the file as fed; truncated and corrupted streams are told
 * apart from write errors; starting over is allowed only before anything
 * was written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "deploy/ephemeral/imgwrite/sink.h"

/* An image: pseudo-random bytes with long zero runs and repeats, so that
 * it compresses some and a decoder's output fills chunks unevenly. Not a
 * multiple of the chunk size. */
#define IMAGE_LEN (3 * IMGW_SINK_CHUNK + 12345)

static uint8_t *make_image(size_t len)
{
	uint8_t *p = malloc(len);
	uint32_t x = 2463534242u;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t block = i >> 16;
		p[i] = block % 3 == 0 ? 0 : block % 3 == 1 ? (uint8_t)(i * 7) : (uint8_t)x;
	}
	return p;
}

static uint8_t *gzip_member(const uint8_t *in, size_t len, size_t *ret_len)
{
	z_stream z = {0};
	size_t cap = deflateBound(&z, (uLong)len) + 64;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*ret_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* The image as two gzip members (or two zstd frames), one after the
 * other: split a little after the middle. */
static uint8_t *compress_image(enum imgw_format f, const uint8_t *img, size_t len, size_t *ret_len)
{
	size_t half = len / 2 + 777, n1, n2;
	uint8_t *a, *b, *out;

	if (f == IMGW_FORMAT_GZIP) {
		a = gzip_member(img, half, &n1);
		b = gzip_member(img + half, len - half, &n2);
	} else {
		n1 = ZSTD_compressBound(half);
		n2 = ZSTD_compressBound(len - half);
		a = malloc(n1);
		b = malloc(n2);
		assert_non_null(a);
		assert_non_null(b);
		/* With the content checksum, as the zstd tool writes by
		 * default: a corrupted stored block is found too. */
		ZSTD_CCtx *cc = ZSTD_createCCtx();
		assert_non_null(cc);
		assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
		n1 = ZSTD_compress2(cc, a, n1, img, half);
		n2 = ZSTD_compress2(cc, b, n2, img + half, len - half);
		ZSTD_freeCCtx(cc);
		assert_false(ZSTD_isError(n1));
		assert_false(ZSTD_isError(n2));
	}
	out = malloc(n1 + n2);
	assert_non_null(out);
	memcpy(out, a, n1);
	memcpy(out + n1, b, n2);
	free(a);
	free(b);
	*ret_len = n1 + n2;
	return out;
}

struct disk {
	char path[64];
	int fd;
};

static void disk_open(struct disk *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/imgw-sink-XXXXXX");
	d->fd = mkstemp(d->path);
	assert_true(d->fd >= 0);
}

static void disk_close(struct disk *d)
{
	close(d->fd);
	unlink(d->path);
}

static void assert_disk_holds(const struct disk *d, const uint8_t *want, size_t len)
{
	struct stat st;
	uint8_t *got = malloc(len);

	assert_non_null(got);
	assert_int_equal(fstat(d->fd, &st), 0);
	assert_int_equal((size_t)st.st_size, len);
	assert_int_equal(pread(d->fd, got, len, 0), (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
}

/* Feed data in pieces of 1, 2, 3, ... up to ~300 KiB, uneven so that
 * pieces straddle chunk and member boundaries. */
static int feed_uneven(struct imgw_sink *s, const uint8_t *data, size_t len)
{
	size_t off = 0, piece = 1;

	while (off < len) {
		size_t n = piece < len - off ? piece : len - off;
		int err = imgw_sink_feed(s, data + off, n);
		if (err < 0)
			return err;
		off += n;
		piece = piece * 3 + 1;
		if (piece > 300000)
			piece = 1;
	}
	return 0;
}

static void write_and_check(enum imgw_format f)
{
	size_t len = IMAGE_LEN, flen;
	uint8_t *img = make_image(len);
	uint8_t *file = f == IMGW_FORMAT_RAW ? img : compress_image(f, img, len, &flen);
	uint8_t want[32], got[32];
	struct imgw_sink s;
	struct disk d;

	if (f == IMGW_FORMAT_RAW)
		flen = len;
	SHA256(file, flen, want);
	disk_open(&d);
	imgw_sink_init(&s, f, d.fd);
	assert_int_equal(feed_uneven(&s, file, flen), 0);
	assert_int_equal(s.received, flen);
	imgw_sink_digest(&s, got);
	assert_memory_equal(got, want, 32);
	assert_int_equal(imgw_sink_finish(&s), 0);
	assert_false(s.decode_failed);
	assert_int_equal(s.written, len);
	assert_int_equal(s.produced, len);
	assert_disk_holds(&d, img, len);
	imgw_sink_done(&s);
	disk_close(&d);
	if (file != img)
		free(file);
	free(img);
}

static void test_raw(void **state)
{
	write_and_check(IMGW_FORMAT_RAW);
}

static void test_gzip(void **state)
{
	write_and_check(IMGW_FORMAT_GZIP);
}

static void test_zstd(void **state)
{
	write_and_check(IMGW_FORMAT_ZSTD);
}

/* Beyond IMGW_SINK_LAG: writeback is waited for and pages dropped on the
 * way, and the disk still holds every byte. The disk is longer than the
 * image beforehand: what lies beyond is left alone, as on a real disk. */
static void test_raw_long(void **state)
{
	size_t len = IMGW_SINK_LAG + 3 * IMGW_SINK_CHUNK + 1;
	uint8_t *img = make_image(len);
	struct imgw_sink s;
	struct disk d;
	uint8_t tail[4] = {0xaa, 0xbb, 0xcc, 0xdd}, back[4];

	disk_open(&d);
	assert_int_equal(pwrite(d.fd, tail, 4, (off_t)len), 4);
	imgw_sink_init(&s, IMGW_FORMAT_RAW, d.fd);
	assert_int_equal(imgw_sink_feed(&s, img, len), 0);
	assert_true(s.synced > 0);
	assert_true(s.written - s.synced <= IMGW_SINK_LAG);
	assert_int_equal(imgw_sink_finish(&s), 0);
	assert_int_equal(s.written, len);
	assert_int_equal(pread(d.fd, back, 4, (off_t)len), 4);
	assert_memory_equal(back, tail, 4);
	assert_int_equal(ftruncate(d.fd, (off_t)len), 0);
	assert_disk_holds(&d, img, len);
	imgw_sink_done(&s);
	disk_close(&d);
	free(img);
}

/* The file stops in the middle of the compressed stream: the hash is of
 * what came, finish says the stream is cut. */
static void truncated(enum imgw_format f, const char *want)
{
	size_t len = IMAGE_LEN, flen;
	uint8_t *img = make_image(len);
	uint8_t *file = compress_image(f, img, len, &flen);
	struct imgw_sink s;
	struct disk d;

	disk_open(&d);
	imgw_sink_init(&s, f, d.fd);
	assert_int_equal(imgw_sink_feed(&s, file, flen - 10), 0);
	assert_int_equal(imgw_sink_finish(&s), -EBADMSG);
	assert_non_null(strstr(s.decode_err, want));
	imgw_sink_done(&s);
	disk_close(&d);
	free(file);
	free(img);
}

static void test_truncated(void **state)
{
	truncated(IMGW_FORMAT_GZIP, "gzip: the file ends inside a compressed stream");
	truncated(IMGW_FORMAT_ZSTD, "zstd: the file ends inside a frame");
}

/* Garbage in the middle: decoding stops, hashing goes on to the end (so
 * the caller can compare checksums), finish reports the decode error and
 * writes nothing more. */
static void corrupted(enum imgw_format f, const char *want)
{
	size_t len = IMAGE_LEN, flen;
	uint8_t *img = make_image(len);
	uint8_t *file = compress_image(f, img, len, &flen);
	uint8_t sha[32], got[32];
	struct imgw_sink s;
	struct disk d;

	memset(file + flen / 3, 0x5a, 4096);
	SHA256(file, flen, sha);
	disk_open(&d);
	imgw_sink_init(&s, f, d.fd);
	assert_int_equal(feed_uneven(&s, file, flen), 0);
	assert_true(s.decode_failed);
	assert_non_null(strstr(s.decode_err, want));
	assert_non_null(strstr(s.decode_err, " of the file"));
	assert_int_equal(s.received, flen);
	imgw_sink_digest(&s, got);
	assert_memory_equal(got, sha, 32);
	uint64_t written = s.written;
	assert_int_equal(imgw_sink_finish(&s), -EBADMSG);
	assert_int_equal(s.written, written);
	imgw_sink_done(&s);
	disk_close(&d);
	free(file);
	free(img);
}

static void test_corrupted(void **state)
{
	corrupted(IMGW_FORMAT_GZIP, "gzip: ");
	corrupted(IMGW_FORMAT_ZSTD, "zstd: ");
}

/* Not gzip at all: a raw image sent as gzip. */
static void test_not_gzip(void **state)
{
	uint8_t junk[1000];
	struct imgw_sink s;
	struct disk d;

	memset(junk, 'x', sizeof(junk));
	disk_open(&d);
	imgw_sink_init(&s, IMGW_FORMAT_GZIP, d.fd);
	assert_int_equal(imgw_sink_feed(&s, junk, sizeof(junk)), 0);
	assert_true(s.decode_failed);
	/* zlib has read the two bytes that are not its magic number. */
	assert_string_equal(s.decode_err, "gzip: incorrect header check at byte 2 of the file");
	assert_int_equal(imgw_sink_finish(&s), -EBADMSG);
	imgw_sink_done(&s);
	disk_close(&d);
}

/* The server ignored a Range: start over, as long as the disk has not
 * been written; the result is as if the first bytes never came. */
static void test_restart(void **state)
{
	size_t len = IMAGE_LEN, flen;
	uint8_t *img = make_image(len);
	uint8_t *file = compress_image(IMGW_FORMAT_ZSTD, img, len, &flen);
	uint8_t want[32], got[32];
	struct imgw_sink s;
	struct disk d;

	SHA256(file, flen, want);
	disk_open(&d);
	imgw_sink_init(&s, IMGW_FORMAT_ZSTD, d.fd);
	assert_int_equal(imgw_sink_feed(&s, file, 1000), 0);
	assert_int_equal(s.written, 0);
	assert_int_equal(imgw_sink_restart(&s), 0);
	assert_int_equal(s.received, 0);
	assert_int_equal(feed_uneven(&s, file, flen), 0);
	imgw_sink_digest(&s, got);
	assert_memory_equal(got, want, 32);
	assert_int_equal(imgw_sink_finish(&s), 0);
	assert_disk_holds(&d, img, len);
	imgw_sink_done(&s);
	disk_close(&d);

	/* Once a chunk is on the disk there is no going back. */
	disk_open(&d);
	imgw_sink_init(&s, IMGW_FORMAT_RAW, d.fd);
	assert_int_equal(imgw_sink_feed(&s, img, IMGW_SINK_CHUNK), 0);
	assert_int_equal(s.written, IMGW_SINK_CHUNK);
	assert_int_equal(imgw_sink_restart(&s), -EBUSY);
	imgw_sink_done(&s);
	disk_close(&d);
	free(file);
	free(img);
}

/* A disk that cannot be written: the error, where, and a dead sink. */
static void test_write_error(void **state)
{
	uint8_t *img = make_image(IMGW_SINK_CHUNK + 1);
	struct imgw_sink s;
	int fd = open("/dev/full", O_WRONLY);

	if (fd < 0)
		skip();
	imgw_sink_init(&s, IMGW_FORMAT_RAW, fd);
	assert_int_equal(imgw_sink_feed(&s, img, 1000), 0); /* buffered only */
	assert_int_equal(imgw_sink_feed(&s, img, IMGW_SINK_CHUNK), -ENOSPC);
	assert_string_equal(s.err, "at byte 0: No space left on device (the image is larger than the disk)");
	assert_int_equal(s.written, 0);
	imgw_sink_done(&s);
	close(fd);

	/* The same at finish, for the last short chunk. */
	fd = open("/dev/full", O_WRONLY);
	assert_true(fd >= 0);
	imgw_sink_init(&s, IMGW_FORMAT_RAW, fd);
	assert_int_equal(imgw_sink_feed(&s, img, 1000), 0);
	assert_int_equal(imgw_sink_finish(&s), -ENOSPC);
	imgw_sink_done(&s);
	close(fd);
	free(img);
}

static void test_format_names(void **state)
{
	enum imgw_format f;

	assert_int_equal(imgw_format_parse("raw", &f), 0);
	assert_int_equal(f, IMGW_FORMAT_RAW);
	assert_int_equal(imgw_format_parse("gzip", &f), 0);
	assert_int_equal(f, IMGW_FORMAT_GZIP);
	assert_int_equal(imgw_format_parse("zstd", &f), 0);
	assert_int_equal(f, IMGW_FORMAT_ZSTD);
	assert_string_equal(imgw_format_name(f), "zstd");
	assert_int_equal(imgw_format_parse("xz", &f), -EINVAL);
	assert_int_equal(imgw_format_parse("GZIP", &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_raw),		 cmocka_unit_test(test_gzip),	   cmocka_unit_test(test_zstd),
	    cmocka_unit_test(test_raw_long),	 cmocka_unit_test(test_truncated), cmocka_unit_test(test_corrupted),
	    cmocka_unit_test(test_not_gzip),	 cmocka_unit_test(test_restart),   cmocka_unit_test(test_write_error),
	    cmocka_unit_test(test_format_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
