/* The guard in front of evhttp: strict request framing
 * (common/wire/httpframe), connections per client (common/connlimit), and
 * common/httpguard itself on a loopback evhttp server: bad framing answered
 * 400 by evhttp without reaching the handler, the header deadline, the caps
 * counted at accept, and accept paused, not spun, when descriptors run out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/connlimit.h"
#include "common/httpguard.h"
#include "common/net.h"
#include "common/util.h"
#include "common/wire/httpframe.h"

/* ---- framing ---- */

struct scan {
	int heads, dones;
	int rc;
	enum httpframe_error error;
};

/* Feed s in pieces of chunk bytes (0 = whole). */
static struct scan scan(const char *s, size_t chunk)
{
	struct httpframe f;
	struct scan r = {0};
	size_t len = strlen(s), off = 0;

	httpframe_init(&f, 1024);
	while (off < len) {
		size_t n = chunk && len - off > chunk ? chunk : len - off;
		enum httpframe_event ev;
		int used = httpframe_feed(&f, (const uint8_t *)s + off, n, &ev);
		if (used < 0) {
			r.rc = used;
			r.error = f.error;
			return r;
		}
		assert_true(used > 0);
		off += (size_t)used;
		r.heads += ev == HTTPFRAME_HEAD;
		r.dones += ev == HTTPFRAME_DONE;
	}
	r.rc = httpframe_at_start(&f) ? 0 : 1; /* 1: in the middle of a request */
	return r;
}

static void expect_ok(const char *s, int heads, int dones)
{
	static const size_t chunks[] = {0, 1, 2, 7};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct scan r = scan(s, chunks[i]);
		if (r.rc < 0)
			fail_msg("%s: %s", s, httpframe_strerror(r.error));
		assert_int_equal(r.heads, heads);
		assert_int_equal(r.dones, dones);
	}
}

static void expect_bad(const char *s, enum httpframe_error e)
{
	static const size_t chunks[] = {0, 1, 3};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct scan r = scan(s, chunks[i]);
		if (r.rc != -EBADMSG || r.error != e)
			fail_msg("%s: got %d (%s), wanted %s", s, r.rc, httpframe_strerror(r.error),
				 httpframe_strerror(e));
	}
}

static void test_frame_valid(void **state)
{
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 1);
	expect_ok("GET / HTTP/1.1\r\n\r\n", 0, 1);
	expect_ok("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 1, 1);
	expect_ok("POST /a HTTP/1.1\r\ncontent-length:\t5 \r\n\r\nhello", 1, 1);
	/* equal Content-Length fields are one value (RFC 9112 §6.3) */
	expect_ok("PUT /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 1, 1);
	expect_ok("POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, 1);
	expect_ok("HEAD / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, 1);
	expect_ok("POST /a HTTP/1.1\r\nTransfer-Encoding: Chunked \r\n\r\n"
		  "5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
		  1, 1);
	/* pipelined: three requests, a body between */
	expect_ok("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.0\r\n\r\n", 1,
		  3);
	/* obs-text in a value is allowed */
	expect_ok("GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n", 0, 1);
}

static void test_frame_partial(void **state)
{
	assert_int_equal(scan("GET / HTTP/1.1\r\nHost: x\r\n", 0).rc, 1);
	assert_int_equal(scan("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 0).rc, 1);
	struct httpframe f;
	enum httpframe_event ev;
	httpframe_init(&f, 64);
	assert_true(httpframe_at_start(&f));
	assert_true(httpframe_in_head(&f));
	assert_int_equal(httpframe_feed(&f, (const uint8_t *)"G", 1, &ev), 1);
	assert_false(httpframe_at_start(&f));
	/* the feed stops after the byte that ends the head */
	const char *s = "ET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET";
	int n = httpframe_feed(&f, (const uint8_t *)s, strlen(s), &ev);
	assert_int_equal(ev, HTTPFRAME_HEAD);
	assert_int_equal(n, (int)(strstr(s, "ok") - s));
	assert_false(httpframe_in_head(&f));
	assert_int_equal(httpframe_feed(&f, (const uint8_t *)s + n, strlen(s) - (size_t)n, &ev), 2);
	assert_int_equal(ev, HTTPFRAME_DONE);
	assert_true(httpframe_at_start(&f));
}

/* The framing of the probes, and the rest of RFC 9112 §5/§6.3. */
static void test_frame_invalid(void **state)
{
	expect_bad("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", HTTPFRAME_CL_CONFLICT);
	expect_bad("POST / HTTP/1.1\r\nContent-Length: +16\r\n\r\n", HTTPFRAME_CL_INVALID);
	expect_bad("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTPFRAME_CL_INVALID);
	expect_bad("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", HTTPFRAME_CL_INVALID);
	expect_bad("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", HTTPFRAME_CL_INVALID);
	expect_bad("POST / HTTP/1.1\r\nContent-Length: 1 6\r\n\r\n", HTTPFRAME_CL_INVALID);
	expect_bad("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTPFRAME_CL_INVALID);
	expect_bad("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTPFRAME_CL_INVALID);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", HTTPFRAME_TE_AND_CL);
	expect_bad("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", HTTPFRAME_TE_AND_CL);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", HTTPFRAME_SPACE_BEFORE_COLON);
	expect_bad("POST / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\n", HTTPFRAME_SPACE_BEFORE_COLON);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HTTPFRAME_TE_UNSUPPORTED);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		   HTTPFRAME_TE_UNSUPPORTED);
	/* evhttp skips leading spaces only: "\tchunked" would not be chunked to it */
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding:\tchunked\r\n\r\n", HTTPFRAME_TE_UNSUPPORTED);
	expect_bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HTTPFRAME_TE_HTTP10);
	expect_bad("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", HTTPFRAME_OBS_FOLD);
	expect_bad("GET / HTTP/1.1\r\n Host: x\r\n\r\n", HTTPFRAME_OBS_FOLD);
	expect_bad("GET / HTTP/1.1\nHost: x\r\n\r\n", HTTPFRAME_BARE_LF);
	expect_bad("GET / HTTP/1.1\r\nHost: x\n\r\n", HTTPFRAME_BARE_LF);
	expect_bad("GET / HTTP/1.1\r\nHost: x\r\n\n", HTTPFRAME_BARE_LF);
	expect_bad("GET / HTTP/1.1\r\nHost: x\rY\r\n\r\n", HTTPFRAME_BAD_CR);
	expect_bad("GET / HTTP/1.1\r\nHost: a\001b\r\n\r\n", HTTPFRAME_CTL);
	expect_bad("GET /\001 HTTP/1.1\r\n\r\n", HTTPFRAME_CTL);
	expect_bad("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", HTTPFRAME_FIELD_NAME);
	expect_bad("GET / HTTP/1.1\r\n: x\r\n\r\n", HTTPFRAME_FIELD_NAME);
	expect_bad("GET / HTTP/1.1\r\nHost x\r\n\r\n", HTTPFRAME_SPACE_BEFORE_COLON);
	expect_bad("GET / HTTP/1.1\r\nHostx\r\n\r\n", HTTPFRAME_NO_COLON);
	/* a body evhttp would run as the next request */
	expect_bad("HEAD / HTTP/1.1\r\nContent-Length: 20\r\n\r\nGET /x HTTP/1.1\r\n\r\n", HTTPFRAME_BODY_NOT_ALLOWED);
	expect_bad("TRACE / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", HTTPFRAME_BODY_NOT_ALLOWED);
	expect_bad("get / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", HTTPFRAME_BODY_NOT_ALLOWED);
	/* chunked bodies */
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", HTTPFRAME_CHUNK_INVALID);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n", HTTPFRAME_CHUNK_INVALID);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n", HTTPFRAME_BARE_LF);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX", HTTPFRAME_CHUNK_INVALID);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded\r\n\r\n", HTTPFRAME_OBS_FOLD);
	expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
		   HTTPFRAME_CHUNK_INVALID);
	/* a failed scanner stays failed */
	struct httpframe f;
	enum httpframe_event ev;
	httpframe_init(&f, 64);
	assert_int_equal(httpframe_feed(&f, (const uint8_t *)"GET / HTTP/1.1\n", 15, &ev), -EBADMSG);
	assert_int_equal(httpframe_feed(&f, (const uint8_t *)"\r\n", 2, &ev), -EBADMSG);
}

static void test_frame_head_max(void **state)
{
	char buf[2048];
	struct httpframe f;
	enum httpframe_event ev;

	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX-Long: %0900d\r\n\r\n", 0);
	httpframe_init(&f, 900);
	assert_int_equal(httpframe_feed(&f, (const uint8_t *)buf, strlen(buf), &ev), -EBADMSG);
	assert_int_equal(f.error, HTTPFRAME_HEAD_TOO_LONG);
	httpframe_init(&f, 1000);
	assert_int_equal(httpframe_feed(&f, (const uint8_t *)buf, strlen(buf), &ev), (int)strlen(buf));
	assert_int_equal(ev, HTTPFRAME_DONE);
	/* the limit is per request, not per connection */
	assert_int_equal(httpframe_feed(&f, (const uint8_t *)buf, strlen(buf), &ev), (int)strlen(buf));
	assert_int_equal(ev, HTTPFRAME_DONE);
}

/* ---- connections per client ---- */

static struct ipaddr addr(const char *s)
{
	struct ipaddr a;
	assert_int_equal(ipaddr_parse(s, &a), 0);
	return a;
}

static void test_connlimit(void **state)
{
	struct connlimit *cl = connlimit_new(5, 2, 42);
	struct ipaddr a = addr("192.0.2.1"), b = addr("192.0.2.2"), a6 = addr("::ffff:192.0.2.1");
	struct ipaddr c1 = addr("2001:db8::1"), c2 = addr("2001:db8::2"), d = addr("2001:db8:0:1::1");

	assert_int_equal(connlimit_admit(cl, &a), CONNLIMIT_OK);
	assert_int_equal(connlimit_admit(cl, &a6), CONNLIMIT_OK); /* the same client */
	assert_int_equal(connlimit_admit(cl, &a), CONNLIMIT_CLIENT_FULL);
	assert_int_equal(connlimit_of(cl, &a), 2);
	assert_int_equal(connlimit_admit(cl, &b), CONNLIMIT_OK);
	assert_int_equal(connlimit_admit(cl, &c1), CONNLIMIT_OK);
	assert_int_equal(connlimit_admit(cl, &c2), CONNLIMIT_OK); /* same /64 */
	assert_int_equal(connlimit_admit(cl, &c2), CONNLIMIT_CLIENT_FULL);
	assert_int_equal(connlimit_admit(cl, &d), CONNLIMIT_FULL);
	assert_int_equal(connlimit_total(cl), 5);
	assert_int_equal(connlimit_clients(cl), 3);
	connlimit_release(cl, &a6);
	assert_int_equal(connlimit_admit(cl, &d), CONNLIMIT_OK);
	connlimit_release(cl, &a);
	assert_int_equal(connlimit_of(cl, &a), 0);
	assert_int_equal(connlimit_clients(cl), 3);
	connlimit_release(cl, &b);
	connlimit_release(cl, &c1);
	connlimit_release(cl, &c2);
	connlimit_release(cl, &d);
	assert_int_equal(connlimit_total(cl), 0);
	assert_int_equal(connlimit_clients(cl), 0);
	connlimit_free(cl);

	/* many clients, each counted apart */
	cl = connlimit_new(3000, 1, 7);
	for (unsigned i = 0; i < 3000; i++) {
		struct ipaddr x = {.family = AF_INET, .bytes = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i}};
		assert_int_equal(connlimit_admit(cl, &x), CONNLIMIT_OK);
		assert_int_equal(connlimit_admit(cl, &x), CONNLIMIT_CLIENT_FULL);
	}
	assert_int_equal(connlimit_clients(cl), 3000);
	connlimit_free(cl);
}

/* ---- the guard on a loopback server ---- */

struct server {
	struct event_base *base;
	struct evhttp *http;
	struct httpguard *guard;
	int port, listen_fd;
	int handled, closed;
};

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	int *closed = arg;
	(*closed)++;
}

static void handler(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evbuffer *b = evbuffer_new();
	s->handled++;
	/* the server's own close callback, through the guard's slot */
	httpguard_set_closecb(evhttp_request_get_connection(req), conn_closed, &s->closed);
	evbuffer_add_printf(b, "ok %s\n", evhttp_request_get_uri(req));
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void server_start(struct server *s, const struct httpguard_conf *conf)
{
	memset(s, 0, sizeof(*s));
	s->base = event_base_new();
	s->http = evhttp_new(s->base);
	evhttp_set_gencb(s->http, handler, s);
	evhttp_set_timeout(s->http, 30);
	struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	assert_non_null(sock);
	s->listen_fd = evhttp_bound_socket_get_fd(sock);
	s->port = sock_bound_port(s->listen_fd);
	assert_int_equal(httpguard_attach(s->http, sock, conf, &s->guard), 0);
}

static void server_stop(struct server *s)
{
	httpguard_free(s->guard);
	evhttp_free(s->http);
	event_base_free(s->base);
}

static struct httpguard_conf conf_default(void)
{
	return (struct httpguard_conf){
	    .name = "test",
	    .max_conns = 50,
	    .max_conns_per_client = 50,
	    .header_timeout_ms = 5000,
	    .request_timeout_ms = 10000,
	    .head_max = 4096,
	};
}

/* A non-blocking client from 127.0.0.1 (or another loopback address). */
static int client(const struct server *s, const char *from)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	assert_true(fd >= 0);
	if (from) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		inet_pton(AF_INET, from, &src.sin_addr);
		assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	}
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	int r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	assert_true(r == 0 || errno == EINPROGRESS);
	struct pollfd p = {fd, POLLOUT, 0};
	assert_int_equal(poll(&p, 1, 2000), 1);
	return fd;
}

static void client_send(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void run_loop(struct server *s, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(s->base, &tv);
	event_base_dispatch(s->base);
}

/* Run the loop until fd is closed by the server (or max_ms), collecting
 * what it sent. Returns 1 on EOF/reset, 0 if still open. */
static int client_read_until_closed(struct server *s, int fd, char *buf, size_t len, int max_ms)
{
	size_t got = 0;
	int64_t end = clock_mono_ms() + max_ms;
	buf[0] = '\0';
	while (clock_mono_ms() < end) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(s->base, &tv);
		event_base_dispatch(s->base);
		for (;;) {
			ssize_t n = recv(fd, buf + got, len - 1 - got, 0);
			if (n > 0) {
				got += (size_t)n;
				buf[got] = '\0';
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				return 1;
			break;
		}
	}
	return 0;
}

/* Run the loop until buf holds want (or max_ms). */
static bool client_read_until(struct server *s, int fd, char *buf, size_t len, const char *want, int max_ms)
{
	size_t got = strlen(buf);
	int64_t end = clock_mono_ms() + max_ms;
	while (clock_mono_ms() < end && !strstr(buf, want)) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(s->base, &tv);
		event_base_dispatch(s->base);
		ssize_t n = recv(fd, buf + got, len - 1 - got, 0);
		if (n > 0) {
			got += (size_t)n;
			buf[got] = '\0';
		} else if (n == 0) {
			break;
		}
	}
	return strstr(buf, want) != NULL;
}

static void test_guard_requests_and_framing(void **state)
{
	struct httpguard_conf conf = conf_default();
	struct server s;
	char buf[4096];

	server_start(&s, &conf);
	/* good requests, pipelined and with a body, pass */
	int fd = client(&s, NULL);
	client_send(fd,
		    "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
	buf[0] = '\0';
	assert_true(client_read_until(&s, fd, buf, sizeof(buf), "ok /b", 3000));
	assert_non_null(strstr(buf, "ok /a"));
	assert_int_equal(s.handled, 2);
	assert_int_equal(httpguard_open(s.guard), 1);
	close(fd);
	/* evhttp frees the connection: the guard forgets it and passes the
	 * close on to the server's callback */
	int other = client(&s, NULL);
	run_loop(&s, 300);
	assert_int_equal(s.closed, 1);
	assert_int_equal(httpguard_open(s.guard), 1);
	close(other);
	run_loop(&s, 200);
	assert_int_equal(httpguard_open(s.guard), 0);

	/* each bad framing: 400 from evhttp, the handler never sees it, the
	 * connection closed; the good request before it is answered first */
	static const char *const bad[] = {
	    "POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	    "POST /x HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
	    "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
	    "POST /x HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	    "GET /x HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n",
	    "GET /x HTTP/1.1\nHost: x\n\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int handled = s.handled;
		fd = client(&s, NULL);
		client_send(fd, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
		client_send(fd, bad[i]);
		assert_int_equal(client_read_until_closed(&s, fd, buf, sizeof(buf), 3000), 1);
		assert_non_null(strstr(buf, "ok /first"));
		if (!strstr(buf, "HTTP/1.1 400 Bad Request"))
			fail_msg("case %zu: no 400 in: %s", i, buf);
		assert_null(strstr(buf, "ok /x"));
		assert_int_equal(s.handled, handled + 1);
		close(fd);
	}
	server_stop(&s);
}

static void test_guard_deadline(void **state)
{
	struct httpguard_conf conf = conf_default();
	struct server s;
	char buf[512];

	conf.header_timeout_ms = 300;
	conf.request_timeout_ms = 600;
	server_start(&s, &conf);
	/* a slow head: bytes keep coming, the deadline does not move */
	int fd = client(&s, NULL);
	const char *req =
	    "GET /slow HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	size_t sent = 0;
	int closed = 0;
	for (; req[sent] && !closed; sent++) {
		if (send(fd, req + sent, 1, MSG_NOSIGNAL) != 1)
			break;
		closed = client_read_until_closed(&s, fd, buf, sizeof(buf), 50);
	}
	if (!closed)
		closed = client_read_until_closed(&s, fd, buf, sizeof(buf), 3000);
	assert_int_equal(closed, 1);
	assert_true(sent < strlen(req)); /* cut before the head was complete */
	assert_int_equal(s.handled, 0);
	close(fd);

	/* a body that stalls after its head */
	fd = client(&s, NULL);
	client_send(fd, "POST /body HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
	assert_int_equal(client_read_until_closed(&s, fd, buf, sizeof(buf), 3000), 1);
	assert_int_equal(s.handled, 0);
	close(fd);

	/* an idle keep-alive connection between requests is evhttp's business:
	 * still open after the header deadline */
	fd = client(&s, NULL);
	client_send(fd, "GET /ka HTTP/1.1\r\n\r\n");
	buf[0] = '\0';
	assert_true(client_read_until(&s, fd, buf, sizeof(buf), "ok /ka", 2000));
	assert_int_equal(client_read_until_closed(&s, fd, buf, sizeof(buf), 700), 0);
	client_send(fd, "GET /ka2 HTTP/1.1\r\n\r\n");
	buf[0] = '\0';
	assert_true(client_read_until(&s, fd, buf, sizeof(buf), "ok /ka2", 2000));
	close(fd);
	assert_int_equal(s.handled, 2);
	server_stop(&s);
}

static void test_guard_caps(void **state)
{
	struct httpguard_conf conf = conf_default();
	struct server s;
	char buf[512];
	int fds[4];

	conf.max_conns = 3;
	conf.max_conns_per_client = 2;
	server_start(&s, &conf);
	fds[0] = client(&s, "127.0.0.1");
	fds[1] = client(&s, "127.0.0.1");
	client_read_until_closed(&s, fds[1], buf, sizeof(buf), 100);
	/* a third from the same address: 503 and closed at once */
	fds[2] = client(&s, "127.0.0.1");
	assert_int_equal(client_read_until_closed(&s, fds[2], buf, sizeof(buf), 2000), 1);
	assert_non_null(strstr(buf, "HTTP/1.1 503"));
	close(fds[2]);
	/* another address still gets in, up to max_conns */
	fds[2] = client(&s, "127.0.0.2");
	client_send(fds[2], "GET /other HTTP/1.1\r\n\r\n");
	buf[0] = '\0';
	assert_true(client_read_until(&s, fds[2], buf, sizeof(buf), "ok /other", 2000));
	fds[3] = client(&s, "127.0.0.3");
	assert_int_equal(client_read_until_closed(&s, fds[3], buf, sizeof(buf), 2000), 1);
	assert_non_null(strstr(buf, "HTTP/1.1 503"));
	close(fds[3]);
	/* the held ones still work, and a closed one frees its place */
	client_send(fds[0], "GET /held HTTP/1.1\r\n\r\n");
	buf[0] = '\0';
	assert_true(client_read_until(&s, fds[0], buf, sizeof(buf), "ok /held", 2000));
	close(fds[1]);
	client_read_until_closed(&s, fds[0], buf, sizeof(buf), 200);
	assert_int_equal(httpguard_open(s.guard), 2);
	fds[1] = client(&s, "127.0.0.1");
	client_send(fds[1], "GET /again HTTP/1.1\r\n\r\n");
	buf[0] = '\0';
	assert_true(client_read_until(&s, fds[1], buf, sizeof(buf), "ok /again", 2000));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	server_stop(&s);
}

static int count_fd_events(const struct event_base *base, const struct event *ev, void *arg)
{
	int *want = arg;
	if (event_get_fd(ev) == want[0])
		want[1]++;
	return 0;
}

/* Events watching the server's listening socket: 1, or 0 while paused. */
static int listener_events(struct server *s)
{
	int want[2] = {s->listen_fd, 0};
	event_base_foreach_event(s->base, count_fd_events, want);
	return want[1];
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* Out of descriptors: accept pauses instead of failing on every loop turn,
 * and resumes when connections close. */
static void test_guard_emfile(void **state)
{
	struct httpguard_conf conf = conf_default();
	struct server s;
	struct rlimit saved, rl;
	int fds[64], n = 0;
	char buf[512];

	conf.max_conns = 1000; /* far above what the descriptors allow */
	conf.max_conns_per_client = 1000;
	server_start(&s, &conf);
	assert_int_equal(listener_events(&s), 1);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	rl = saved;
	rl.rlim_cur = (rlim_t)open_fds() + 24;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	/* each connection costs a descriptor here and one in the server */
	while (n < 64) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			break;
		close(fd);
		fds[n++] = client(&s, NULL);
		client_send(fds[n - 1], "GET / HT");
		client_read_until_closed(&s, fds[n - 1], buf, sizeof(buf), 5);
	}
	assert_true(n >= 8 && n < 64);
	/* Descriptors are exhausted now, but the server may have taken every
	 * connection (an even count fits exactly).  One more descriptor goes to
	 * one more client before the loop runs again, so at least one
	 * connection always waits that the server cannot accept. */
	rl.rlim_cur++;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	fds[n++] = client(&s, NULL);
	client_send(fds[n - 1], "GET / HT");
	/* The backlog holds connections the server cannot accept: instead of
	 * retrying accept() on every loop turn, the listener is not watched
	 * (paused; it retries once a second, and fails again at once). */
	for (int i = 0; i < 20; i++)
		client_read_until_closed(&s, fds[n - 1], buf, sizeof(buf), 10);
	assert_int_equal(listener_events(&s), 0);
	assert_true(httpguard_open(s.guard) < (unsigned)n);
	/* close most clients: the server frees their connections and takes
	 * the ones waiting */
	for (int i = 0; i < n - 2; i++)
		close(fds[i]);
	setrlimit(RLIMIT_NOFILE, &saved);
	client_read_until_closed(&s, fds[n - 1], buf, sizeof(buf), 1500);
	int fd = client(&s, NULL);
	client_send(fd, "GET /after HTTP/1.1\r\n\r\n");
	buf[0] = '\0';
	assert_true(client_read_until(&s, fd, buf, sizeof(buf), "ok /after", 3000));
	assert_int_equal(listener_events(&s), 1);
	close(fd);
	close(fds[n - 2]);
	close(fds[n - 1]);
	server_stop(&s);
}

static void test_fd_cap(void **state)
{
	struct rlimit saved, rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_true(httpguard_nofile_raise() > 0);
	rl = saved;
	rl.rlim_cur = 1024;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 1024)
		skip();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(httpguard_fd_cap(100, 2, 256), 100);
	assert_int_equal(httpguard_fd_cap(1000, 2, 256), 384);
	assert_int_equal(httpguard_fd_cap(1000, 4, 256), 192);
	assert_int_equal(httpguard_fd_cap(1000, 1, 5000), 1);
	assert_int_equal(httpguard_nofile_raise(), rl.rlim_max == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_max);
	setrlimit(RLIMIT_NOFILE, &saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_valid),	   cmocka_unit_test(test_frame_partial),
	    cmocka_unit_test(test_frame_invalid),  cmocka_unit_test(test_frame_head_max),
	    cmocka_unit_test(test_connlimit),	   cmocka_unit_test(test_guard_requests_and_framing),
	    cmocka_unit_test(test_guard_deadline), cmocka_unit_test(test_guard_caps),
	    cmocka_unit_test(test_guard_emfile),   cmocka_unit_test(test_fd_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
