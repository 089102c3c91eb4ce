/* ironrack-imgwrite's download shell (fetch.h). */
#include "deploy/ephemeral/imgwrite/fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

#define IMGW_RECV_BUF	     (1u << 20)
#define IMGW_BACKOFF_MS	     500
#define IMGW_BACKOFF_MAX     10000
#define IMGW_RETRY_AFTER_MAX 60
#define IMGW_INTERIM_MAX     8 /* 1xx answers skipped before the real one */

enum attempt_end {
	ATTEMPT_DONE,  /* every byte of the file was fed */
	ATTEMPT_RETRY, /* transient: try again (why, retry_after) */
	ATTEMPT_FAIL,  /* give up (stage, why) */
};

/* One attempt's state, for its helpers. */
struct attempt {
	const struct imgw_job *job;
	struct imgw_sink *sink;
	struct imgw_fetch_result *res;
	uint8_t *buf; /* IMGW_RECV_BUF bytes */
	int fd;
	int retry_after; /* seconds, -1: none */
	int64_t started_us;
	int64_t next_progress_us;
	char why[300];
};

static enum attempt_end end_retry(struct attempt *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum attempt_end end_retry(struct attempt *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	return ATTEMPT_RETRY;
}

static enum attempt_end end_fail(struct attempt *a, enum imgw_stage stage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum attempt_end end_fail(struct attempt *a, enum imgw_stage stage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	a->res->stage = stage;
	return ATTEMPT_FAIL;
}

/* What a failed recv or send means, for the operator. */
static const char *io_error(int err, char *buf, size_t len, int timeout_ms)
{
	/* A timed-out connect() says EINPROGRESS (SO_SNDTIMEO). */
	if (err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS)
		snprintf(buf, len, "nothing for %d ms", timeout_ms);
	else
		snprintf(buf, len, "%s", strerror(err));
	return buf;
}

static int connect_to(struct attempt *a)
{
	const struct imgw_url *u = &a->job->url;
	struct sockaddr_storage ss = {0};
	socklen_t sl;

	if (u->ipv6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(u->port);
		inet_pton(AF_INET6, u->host, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(u->port);
		inet_pton(AF_INET, u->host, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	a->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->fd < 0)
		return -errno;
	/* Linux applies SO_SNDTIMEO to connect() too. */
	struct timeval tv = {.tv_sec = a->job->timeout_ms / 1000, .tv_usec = (a->job->timeout_ms % 1000) * 1000};
	setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(a->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(a->fd, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	return 0;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void progress(struct attempt *a, int64_t now)
{
	if (a->job->progress_ms <= 0 || now < a->next_progress_us)
		return;
	a->next_progress_us = now + (int64_t)a->job->progress_ms * 1000;
	fprintf(stderr, "ironrack-imgwrite: progress received=%" PRIu64 " size=%" PRIu64 " written=%" PRIu64 "\n",
		a->sink->received, a->job->size, a->sink->written);
}

/* Read the response head into a->buf; *ret_have bytes are there, the
 * head's length is *ret_head_len. */
static enum attempt_end read_head(struct attempt *a, struct imgw_http_head *h, size_t *ret_head_len, size_t *ret_have)
{
	size_t have = 0;
	unsigned interim = 0;
	char e[64];

	for (;;) {
		int n = imgw_http_head_parse((const char *)a->buf, have, h);
		if (n > 0 && h->status >= 100 && h->status <= 199 && h->status != 101 && interim++ < IMGW_INTERIM_MAX) {
			/* An interim answer (100 Continue): the real one follows. */
			memmove(a->buf, a->buf + n, have - (size_t)n);
			have -= (size_t)n;
			continue;
		}
		if (n > 0) {
			*ret_head_len = (size_t)n;
			*ret_have = have;
			return ATTEMPT_DONE;
		}
		if (n == -E2BIG)
			return end_fail(a, IMGW_STAGE_DOWNLOAD, "the response head is longer than %d bytes",
					IMGW_HTTP_HEAD_MAX);
		if (n < 0)
			return end_fail(a, IMGW_STAGE_DOWNLOAD, "malformed response head");
		ssize_t got = recv(a->fd, a->buf + have, IMGW_HTTP_HEAD_MAX + 1 - have, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return end_retry(a, "waiting for the response: %s",
					 io_error(errno, e, sizeof(e), a->job->timeout_ms));
		if (got == 0)
			return end_retry(a, "the connection closed before the response head");
		have += (size_t)got;
	}
}

static enum attempt_end feed(struct attempt *a, const uint8_t *p, size_t len)
{
	if (imgw_sink_feed(a->sink, p, len) < 0)
		return end_fail(a, IMGW_STAGE_WRITE, "%s", a->sink->err);
	return ATTEMPT_DONE;
}

static enum attempt_end read_body(struct attempt *a, size_t head_len, size_t have)
{
	uint64_t size = a->job->size;
	size_t extra = have - head_len;
	char e[64];

	if (extra > size - a->sink->received)
		extra = (size_t)(size - a->sink->received);
	if (extra && feed(a, a->buf + head_len, extra) != ATTEMPT_DONE)
		return ATTEMPT_FAIL;
	while (a->sink->received < size) {
		uint64_t left = size - a->sink->received;
		ssize_t got = recv(a->fd, a->buf, left < IMGW_RECV_BUF ? (size_t)left : IMGW_RECV_BUF, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return end_retry(a, "at byte %" PRIu64 " of %" PRIu64 ": %s", a->sink->received, size,
					 io_error(errno, e, sizeof(e), a->job->timeout_ms));
		if (got == 0)
			return end_retry(a, "the connection closed at byte %" PRIu64 " of %" PRIu64, a->sink->received,
					 size);
		if (feed(a, a->buf, (size_t)got) != ATTEMPT_DONE)
			return ATTEMPT_FAIL;
		progress(a, clock_mono_us());
	}
	a->res->download_us = clock_mono_us() - a->started_us;
	return ATTEMPT_DONE;
}

static enum attempt_end attempt(struct attempt *a)
{
	uint64_t offset = a->sink->received;
	char req[IMGW_URL_PATH_MAX + 1024];
	char e[64];
	struct imgw_http_head h;
	struct imgw_http_decision d;
	size_t head_len = 0, have = 0;
	int err;

	a->retry_after = -1;
	err = connect_to(a);
	if (err < 0)
		return end_retry(a, "connect: %s", io_error(-err, e, sizeof(e), a->job->timeout_ms));
	int n = imgw_http_request(&a->job->url, offset, req, sizeof(req));
	if (n < 0)
		return end_fail(a, IMGW_STAGE_DOWNLOAD, "cannot form the request");
	err = send_all(a->fd, req, (size_t)n);
	if (err < 0)
		return end_retry(a, "sending the request: %s", io_error(-err, e, sizeof(e), a->job->timeout_ms));
	enum attempt_end end = read_head(a, &h, &head_len, &have);
	if (end != ATTEMPT_DONE)
		return end;
	imgw_http_decide(&h, offset, a->job->size, a->sink->written > 0, &d);
	switch (d.action) {
	case IMGW_HTTP_BODY:
		break;
	case IMGW_HTTP_RESTART:
		fprintf(stderr, "ironrack-imgwrite: %s\n", d.err);
		if (imgw_sink_restart(a->sink) < 0)
			return end_fail(a, IMGW_STAGE_DOWNLOAD, "cannot start over: the disk has been written to");
		break;
	case IMGW_HTTP_RETRY:
		a->retry_after = d.retry_after;
		return end_retry(a, "%s", d.err);
	case IMGW_HTTP_FAIL:
		return end_fail(a, IMGW_STAGE_DOWNLOAD, "%s", d.err);
	case IMGW_HTTP_MISMATCH:
		return end_fail(a, IMGW_STAGE_VERIFY, "%s", d.err);
	}
	return read_body(a, head_len, have);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int imgw_fetch(const struct imgw_job *job, struct imgw_sink *sink, struct imgw_fetch_result *ret)
{
	struct attempt a = {.job = job, .sink = sink, .res = ret, .fd = -1};
	unsigned failed = 0;
	int backoff = IMGW_BACKOFF_MS;

	memset(ret, 0, sizeof(*ret));
	a.buf = xmalloc(IMGW_RECV_BUF);
	a.started_us = clock_mono_us();
	a.next_progress_us = a.started_us + (int64_t)job->progress_ms * 1000;
	for (;;) {
		uint64_t before = sink->received;
		ret->attempts++;
		a.why[0] = '\0';
		a.fd = -1;
		enum attempt_end end = attempt(&a);
		if (a.fd >= 0)
			close(a.fd);
		if (end == ATTEMPT_DONE)
			break;
		if (end == ATTEMPT_FAIL) {
			if (ret->stage == IMGW_STAGE_DOWNLOAD)
				err_set(ret->err, sizeof(ret->err), "download: http://%s%s: %s", job->url.hostport,
					job->url.path, a.why);
			else
				snprintf(ret->err, sizeof(ret->err), "%s", a.why);
			free(a.buf);
			return -1;
		}
		if (sink->received > before) {
			failed = 0;
			backoff = IMGW_BACKOFF_MS;
		}
		if (++failed > job->retries) {
			ret->stage = IMGW_STAGE_DOWNLOAD;
			err_set(ret->err, sizeof(ret->err), "download: http://%s%s: %s (gave up after %u attempts)",
				job->url.hostport, job->url.path, a.why, ret->attempts);
			free(a.buf);
			return -1;
		}
		int wait = backoff;
		if (a.retry_after > 0)
			wait = (a.retry_after > IMGW_RETRY_AFTER_MAX ? IMGW_RETRY_AFTER_MAX : a.retry_after) * 1000;
		fprintf(stderr, "ironrack-imgwrite: %s; retrying from byte %" PRIu64 " in %d ms\n", a.why,
			sink->received, wait);
		sleep_ms(wait);
		backoff = backoff * 2 > IMGW_BACKOFF_MAX ? IMGW_BACKOFF_MAX : backoff * 2;
	}
	free(a.buf);
	return 0;
}
