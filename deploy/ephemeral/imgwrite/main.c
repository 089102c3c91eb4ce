/* ironrack-imgwrite: put an image on a disk at disk speed. The ephemeral
 * environment's agent runs it for a deploy (docs/deploy.md, "The agent's
 * protocol"); see usage() for the command line, the result line and the
 * exit codes. Linked statically: the initramfs has busybox and nothing
 * else. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "common/version.h"
#include "deploy/ephemeral/imgwrite/fetch.h"
#include "deploy/ephemeral/imgwrite/http.h"
#include "deploy/ephemeral/imgwrite/sink.h"

/* Exit codes, one per stage of the agent's failed report. */
enum {
	EXIT_DOWNLOAD = 2,
	EXIT_VERIFY = 3,
	EXIT_WRITE = 4,
	EXIT_USAGE = 64,
};

#define RETRIES_DEFAULT	   10
#define TIMEOUT_MS_DEFAULT 30000

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ironrack-imgwrite --url http://HOST:PORT/images/NAME --sha256 HEX --size N\n"
		"                         --format raw|gzip|zstd --disk DEVICE\n"
		"                         [--progress-ms MS] [--retries N] [--timeout-ms MS]\n"
		"\n"
		"Downloads an image over HTTP/1.1 and writes it to DEVICE as it arrives: the\n"
		"file's bytes are hashed (SHA-256), decompressed (gzip, zstd; raw as is) and\n"
		"written in 4 MiB aligned writes; then the disk is fsynced.\n"
		"\n"
		"  --url URL          http:// with an IP address (no name resolution)\n"
		"  --sha256 HEX       SHA-256 of the file as served (compressed bytes)\n"
		"  --size N           bytes of the file as served\n"
		"  --format F         raw, gzip or zstd\n"
		"  --disk DEVICE      a block device (opened exclusively) or an existing file\n"
		"  --progress-ms MS   a progress line on stderr every MS ms (default 0: none)\n"
		"  --retries N        failed attempts in a row before giving up (default %d);\n"
		"                     a broken download resumes with Range: bytes=N-\n"
		"  --timeout-ms MS    connect timeout and longest silence (default %d)\n"
		"\n"
		"Success: exit 0 and one line on stdout:\n"
		"  bytes=WRITTEN download_ms=MS write_ms=MS sha256=HEX\n"
		"(download_ms: first connect to the last byte; write_ms: time spent waiting\n"
		"on the disk, writes and the final fsync).\n"
		"Failure: the last line on stderr is the error; the exit code its stage:\n"
		"  2 download, 3 verify (\"checksum: expected X, got Y\", the size, a\n"
		"  compressed stream that is not valid), 4 write, 64 usage.\n"
		"Other stderr lines start with \"ironrack-imgwrite: \" (progress, retries).\n",
		RETRIES_DEFAULT, TIMEOUT_MS_DEFAULT);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "usage: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (ironrack-imgwrite --help)\n");
	return EXIT_USAGE;
}

struct args {
	const char *url, *sha256, *size, *format, *disk;
	struct imgw_job job;
	enum imgw_format fmt;
	uint8_t want[32];
};

/* A decimal number in [min, max]. */
static int parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	for (; *s; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* 0, a usage exit code, or -1 for --help (printed). */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"sha256", required_argument, NULL, 's'},
	    {"size", required_argument, NULL, 'n'},
	    {"format", required_argument, NULL, 'f'},
	    {"disk", required_argument, NULL, 'd'},
	    {"progress-ms", required_argument, NULL, 'p'},
	    {"retries", required_argument, NULL, 'r'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	a->job.retries = RETRIES_DEFAULT;
	a->job.timeout_ms = TIMEOUT_MS_DEFAULT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			a->url = optarg;
			break;
		case 's':
			a->sha256 = optarg;
			break;
		case 'n':
			a->size = optarg;
			break;
		case 'f':
			a->format = optarg;
			break;
		case 'd':
			a->disk = optarg;
			break;
		case 'p':
			if (parse_num(optarg, 0, 3600000, &v) < 0)
				return usage_error("--progress-ms %s: not a number of ms up to 3600000", optarg);
			a->job.progress_ms = (int)v;
			break;
		case 'r':
			if (parse_num(optarg, 0, 1000, &v) < 0)
				return usage_error("--retries %s: not a number up to 1000", optarg);
			a->job.retries = (unsigned)v;
			break;
		case 't':
			if (parse_num(optarg, 1, 3600000, &v) < 0)
				return usage_error("--timeout-ms %s: not a number of ms from 1 to 3600000", optarg);
			a->job.timeout_ms = (int)v;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("ironrack-imgwrite %s\n", IRONRACK_VERSION);
			return -1;
		default:
			return usage_error("%s: unknown option, or its value is missing", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("%s: unexpected argument", argv[optind]);
	static const char *const names[] = {"--url", "--sha256", "--size", "--format", "--disk"};
	const char *const given[] = {a->url, a->sha256, a->size, a->format, a->disk};
	for (size_t i = 0; i < 5; i++)
		if (!given[i])
			return usage_error("%s is missing", names[i]);
	char err[300];
	if (imgw_url_parse(a->url, &a->job.url, err, sizeof(err)) < 0)
		return usage_error("--url %s", err);
	if (strlen(a->sha256) != 64 || hex_decode(a->sha256, 64, a->want, sizeof(a->want)) != 32)
		return usage_error("--sha256 %s: not 64 hex digits", a->sha256);
	if (parse_num(a->size, 1, INT64_MAX, &a->job.size) < 0)
		return usage_error("--size %s: not a number of bytes above 0", a->size);
	if (imgw_format_parse(a->format, &a->fmt) < 0)
		return usage_error("--format %s: not raw, gzip or zstd", a->format);
	return 0;
}

/* Open the disk: a block device exclusively (EBUSY while mounted or in
 * use), a regular file as it is (never created: a mistyped /dev name must
 * not become a file). A raw image larger than a block device is refused
 * before anything is downloaded. */
static int open_disk(const struct args *a, int *ret_fd)
{
	struct stat st;
	int flags = O_WRONLY | O_CLOEXEC;

	if (stat(a->disk, &st) < 0) {
		fprintf(stderr, "write: %s: %s\n", a->disk, strerror(errno));
		return EXIT_WRITE;
	}
	if (S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	else if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "write: %s: neither a block device nor a regular file\n", a->disk);
		return EXIT_WRITE;
	}
	int fd = open(a->disk, flags);
	if (fd < 0) {
		fprintf(stderr, "write: %s: %s\n", a->disk, strerror(errno));
		return EXIT_WRITE;
	}
	uint64_t bytes;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &bytes) == 0 && a->fmt == IMGW_FORMAT_RAW &&
	    a->job.size > bytes) {
		fprintf(stderr,
			"write: %s: the image (%" PRIu64 " bytes) is larger than the disk (%" PRIu64 " bytes)\n",
			a->disk, a->job.size, bytes);
		close(fd);
		return EXIT_WRITE;
	}
	*ret_fd = fd;
	return 0;
}

static int run(const struct args *a, int fd)
{
	struct imgw_sink sink;
	struct imgw_fetch_result res;
	uint8_t got[32];
	char want_hex[65], got_hex[65];
	int rc = 0;

	imgw_sink_init(&sink, a->fmt, fd);
	if (imgw_fetch(&a->job, &sink, &res) < 0) {
		if (res.stage == IMGW_STAGE_WRITE)
			fprintf(stderr, "write: %s: %s\n", a->disk, res.err);
		else
			fprintf(stderr, "%s\n", res.err);
		rc = res.stage == IMGW_STAGE_WRITE    ? EXIT_WRITE
		     : res.stage == IMGW_STAGE_VERIFY ? EXIT_VERIFY
						      : EXIT_DOWNLOAD;
		goto out;
	}
	imgw_sink_digest(&sink, got);
	hex_encode(a->want, 32, want_hex);
	hex_encode(got, 32, got_hex);
	if (memcmp(got, a->want, 32) != 0) {
		fprintf(stderr, "checksum: expected %s, got %s\n", want_hex, got_hex);
		rc = EXIT_VERIFY;
		goto out;
	}
	int err = imgw_sink_finish(&sink);
	if (err == -EBADMSG) {
		fprintf(stderr, "%s (the checksum matches: the image is not valid %s)\n", sink.decode_err,
			imgw_format_name(a->fmt));
		rc = EXIT_VERIFY;
		goto out;
	}
	if (err < 0) {
		fprintf(stderr, "write: %s: %s\n", a->disk, sink.err);
		rc = EXIT_WRITE;
		goto out;
	}
	printf("bytes=%" PRIu64 " download_ms=%" PRId64 " write_ms=%" PRId64 " sha256=%s\n", sink.written,
	       res.download_us / 1000, sink.write_us / 1000, got_hex);
	if (fflush(stdout) != 0)
		rc = EXIT_WRITE;
out:
	imgw_sink_done(&sink);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	int fd = -1;

	int rc = parse_args(argc, argv, &a);
	if (rc < 0)
		return 0;
	if (rc > 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	rc = open_disk(&a, &fd);
	if (rc)
		return rc;
	rc = run(&a, fd);
	if (close(fd) < 0 && rc == 0) {
		fprintf(stderr, "write: %s: %s\n", a.disk, strerror(errno));
		rc = EXIT_WRITE;
	}
	return rc;
}
