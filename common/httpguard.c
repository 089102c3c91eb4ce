/* The guard in front of evhttp servers; see httpguard.h. */
#include "common/httpguard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/connlimit.h"
#include "common/log.h"
#include "common/net.h"
#include "common/util.h"
#include "common/wire/httpframe.h"

#define PAUSE_MS	1000  /* accept paused after it ran out of descriptors */
#define RESUME_SOON_MS	10    /* ... or until shortly after one of ours closed */
#define OPEN_MARGIN	32    /* connections being refused beyond max_conns before accept pauses */
#define LOG_EVERY_MS	10000 /* refusals, deadlines, bad requests: one line per kind */
#define LOG_ACCEPT_MS	60000 /* out of descriptors: one line */
#define SCAN_IOVECS	8
#define REFUSAL_RETRY_S "5"
#define REFUSAL_BODY	"too many connections\n"
/* A request line evhttp refuses (shorter than "GET / HTTP/1.0"): evhttp
 * answers 400 Bad Request with Connection: close, after the requests
 * before it, and closes. */
#define REJECT_LINE "X\r\n"

/* Log at most once per period, saying how many were left out. */
struct ratelog {
	int64_t next_ms;
	unsigned skipped;
};

struct httpguard {
	struct httpguard *next; /* guard_list */
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *lev;
	struct httpguard_conf conf;
	char *name;
	struct connlimit *limit;
	struct guard_conn **table; /* admitted connections by evcon (httpguard_set_closecb) */
	size_t table_size;	   /* a power of two */
	unsigned open;		   /* connections accepted and not yet freed */
	unsigned refs;		   /* 1 for the attachment + 1 per open connection */
	bool detached;		   /* httpguard_free ran */
	bool paused_fds, paused_full;
	bool listening; /* the listener is enabled */
	struct event *resume;
	struct ratelog rl_refused, rl_deadline, rl_bad, rl_accept;
};

enum conn_phase {
	CONN_NEW,      /* accepted; admission pending */
	CONN_OPEN,     /* admitted */
	CONN_REJECTED, /* a bad head: evhttp was handed REJECT_LINE */
	CONN_CLOSING,  /* refused, timed out or broken: shut down, waiting for evhttp to free it */
};

struct guard_conn {
	struct httpguard *g;
	struct guard_conn *hnext; /* g->table */
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* from admission on */
	struct evbuffer_cb_entry *input_cb;
	struct evbuffer *held; /* the head so far, taken out of the input */
	struct evbuffer *fresh;
	struct event *timer; /* admission, then the deadline */
	void (*closecb)(struct evhttp_connection *, void *);
	void *closecb_arg;
	enum conn_phase phase;
	bool counted; /* in g->limit */
	bool first;   /* the connection's first request */
	bool busy;    /* in conn_input: our own changes to the input are not news */
	struct ipaddr peer;
	char peer_text[IPADDR_STRLEN];
	struct httpframe frame;
	int64_t start_ms;    /* the current request's start: accept, or its first byte */
	int64_t deadline_ms; /* 0 = none */
};

/* The guards of this process (detached ones too, until their last
 * connection is gone): for the evconnlistener error callback, which libevent
 * passes the listener's user data, the evhttp (evhttp_bind_listener sets it
 * so, and evhttp's accept callback is not ours to call), and to find a
 * connection in httpguard_set_closecb. Loop thread only. */
static struct httpguard *guard_list;

static bool ratelog_allow(struct ratelog *r, int64_t period_ms, unsigned *ret_skipped)
{
	int64_t now = clock_mono_ms();
	if (now < r->next_ms) {
		r->skipped++;
		return false;
	}
	*ret_skipped = r->skipped;
	r->skipped = 0;
	r->next_ms = now + period_ms;
	return true;
}

static void guard_unlink(struct httpguard *g)
{
	for (struct httpguard **p = &guard_list; *p; p = &(*p)->next) {
		if (*p == g) {
			*p = g->next;
			return;
		}
	}
}

static void guard_unref(struct httpguard *g)
{
	if (--g->refs)
		return;
	guard_unlink(g);
	event_free(g->resume);
	connlimit_free(g->limit);
	free(g->table);
	free(g->name);
	free(g);
}

/* ---- connections by evcon ---- */

static size_t table_slot(const struct httpguard *g, const struct evhttp_connection *evcon)
{
	uint64_t h = (uint64_t)(uintptr_t)evcon * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 40) & (g->table_size - 1);
}

static void table_add(struct httpguard *g, struct guard_conn *c)
{
	size_t i = table_slot(g, c->evcon);
	c->hnext = g->table[i];
	g->table[i] = c;
}

static void table_del(struct httpguard *g, struct guard_conn *c)
{
	for (struct guard_conn **p = &g->table[table_slot(g, c->evcon)]; *p; p = &(*p)->hnext) {
		if (*p == c) {
			*p = c->hnext;
			return;
		}
	}
}

static struct guard_conn *conn_find(const struct evhttp_connection *evcon)
{
	for (struct httpguard *g = guard_list; g; g = g->next) {
		for (struct guard_conn *c = g->table[table_slot(g, evcon)]; c; c = c->hnext) {
			if (c->evcon == evcon)
				return c;
		}
	}
	return NULL;
}

/* ---- accepting ---- */

static void guard_listen_update(struct httpguard *g)
{
	if (g->detached)
		return;
	bool full = g->open >= g->conf.max_conns + OPEN_MARGIN;
	if (full != g->paused_full) {
		g->paused_full = full;
		if (full)
			log_warn("%s: %u connections open: not accepting more until some close", g->name, g->open);
	}
	bool want = !g->paused_full && !g->paused_fds;
	if (want == g->listening)
		return;
	g->listening = want;
	if (want)
		evconnlistener_enable(g->lev);
	else
		evconnlistener_disable(g->lev);
}

static void guard_resume(evutil_socket_t fd, short what, void *arg)
{
	struct httpguard *g = arg;
	g->paused_fds = false;
	guard_listen_update(g);
}

static bool accept_err_is_resource(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* accept() failed with something other than EAGAIN/EINTR/ECONNABORTED.
 * libevent would retry on the next loop turn, and again, as long as the
 * connection waits in the backlog: pause instead. */
static void guard_accept_error(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct httpguard *g = guard_list;
	unsigned skipped = 0;

	while (g && (g->lev != lev || g->detached))
		g = g->next;
	if (!g)
		return;
	evconnlistener_disable(lev);
	g->listening = false;
	g->paused_fds = true;
	struct timeval tv = {PAUSE_MS / 1000, (PAUSE_MS % 1000) * 1000};
	event_add(g->resume, &tv);
	if (ratelog_allow(&g->rl_accept, LOG_ACCEPT_MS, &skipped))
		log_warn("%s: cannot accept connections: %s (%u open here); pausing accept for %d ms at a time%s",
			 g->name, strerror(err), g->open, PAUSE_MS,
			 accept_err_is_resource(err) ? "" : " (not a shortage of descriptors)");
}

/* ---- one connection ---- */

/* Shut the socket down: libevent reads EOF and evhttp frees the connection
 * by its own ways (and calls guard_closed). */
static void conn_close(struct guard_conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	c->phase = CONN_CLOSING;
	event_del(c->timer);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void conn_arm(struct guard_conn *c, int64_t deadline_ms)
{
	c->deadline_ms = deadline_ms;
	if (c->phase != CONN_OPEN && c->phase != CONN_REJECTED)
		return;
	if (!deadline_ms) {
		event_del(c->timer);
		return;
	}
	int64_t left = deadline_ms - clock_mono_ms();
	if (left < 0)
		left = 0;
	struct timeval tv = {(time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000)};
	event_add(c->timer, &tv);
}

static void conn_free(struct guard_conn *c)
{
	struct httpguard *g = c->g;

	if (c->input_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
	event_free(c->timer);
	evbuffer_free(c->held);
	evbuffer_free(c->fresh);
	if (c->counted)
		connlimit_release(g->limit, &c->peer);
	g->open--;
	free(c);
	/* A descriptor is about to be free (libevent closes it on the next turn
	 * of the loop): try accepting again then. */
	if (g->paused_fds && !g->detached) {
		struct timeval tv = {0, RESUME_SOON_MS * 1000};
		event_add(g->resume, &tv);
	}
	guard_listen_update(g);
	guard_unref(g);
}

/* evhttp frees the connection (and then its bufferevent and descriptor). */
static void guard_closed(struct evhttp_connection *evcon, void *arg)
{
	struct guard_conn *c = arg;
	struct httpguard *g = c->g;
	void (*cb)(struct evhttp_connection *, void *) = c->closecb;
	void *cb_arg = c->closecb_arg;

	table_del(g, c);
	if (g->conf.on_close)
		g->conf.on_close(evcon, g->conf.on_close_arg);
	conn_free(c);
	if (cb)
		cb(evcon, cb_arg);
}

static void conn_refuse(struct guard_conn *c, enum connlimit_verdict v)
{
	struct httpguard *g = c->g;
	unsigned skipped = 0;

	if (ratelog_allow(&g->rl_refused, LOG_EVERY_MS, &skipped)) {
		if (v == CONNLIMIT_CLIENT_FULL)
			log_warn("%s: refused a connection from %s: it has %u open (at most %u per client)%s%.0u%s",
				 g->name, c->peer_text, connlimit_of(g->limit, &c->peer), g->conf.max_conns_per_client,
				 skipped ? "; " : "", skipped,
				 skipped ? " more refusals since the last such line" : "");
		else
			log_warn("%s: refused a connection from %s: %u connections open (at most %u)%s%.0u%s", g->name,
				 c->peer_text, connlimit_total(g->limit), g->conf.max_conns, skipped ? "; " : "",
				 skipped, skipped ? " more refusals since the last such line" : "");
	}
	if (!g->conf.transport_new) {
		static const char reply[] = "HTTP/1.1 503 Service Unavailable\r\n"
					    "Content-Type: text/plain; charset=utf-8\r\n"
					    "Retry-After: " REFUSAL_RETRY_S "\r\n"
					    "Connection: close\r\n"
					    "Content-Length: 21\r\n"
					    "\r\n" REFUSAL_BODY;
		_Static_assert(sizeof(REFUSAL_BODY) - 1 == 21, "Content-Length of the refusal");
		/* A fresh socket's send buffer is empty: it fits, or the client
		 * gets only the close. */
		ssize_t n = send(bufferevent_getfd(c->bev), reply, sizeof(reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)n;
	}
	conn_close(c);
}

static void sockaddr_to_ipaddr(const struct sockaddr_storage *ss, struct ipaddr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (ss->ss_family == AF_INET6) {
		ret->family = AF_INET6;
		memcpy(ret->bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	} else {
		ret->family = AF_INET;
		if (ss->ss_family == AF_INET)
			memcpy(ret->bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	}
}

/* Right after evhttp set the connection up: evhttp gives bevcb neither the
 * address nor the connection. The bufferevent's callback argument is
 * evhttp's connection (http.c has set it so since libevent 1.4). Our
 * reference from bevcb kept the bufferevent valid until here. */
static void conn_admit(struct guard_conn *c)
{
	struct httpguard *g = c->g;
	bufferevent_event_cb eventcb = NULL;
	void *arg = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &arg);
	if (!eventcb || !arg || g->detached) {
		/* evhttp already freed it (its set-up failed), or the server is going */
		struct bufferevent *bev = c->bev;
		c->phase = CONN_CLOSING;
		conn_free(c);
		bufferevent_decref(bev);
		return;
	}
	c->evcon = arg;
	table_add(g, c);
	evhttp_connection_set_closecb(c->evcon, guard_closed, c);
	bufferevent_decref(c->bev); /* evhttp holds it; guard_closed comes before it lets go */
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
		conn_close(c); /* the client is gone already */
		return;
	}
	sockaddr_to_ipaddr(&ss, &c->peer);
	ipaddr_format(&c->peer, c->peer_text, sizeof(c->peer_text));
	enum connlimit_verdict v = connlimit_admit(g->limit, &c->peer);
	if (v != CONNLIMIT_OK) {
		conn_refuse(c, v);
		return;
	}
	c->counted = true;
	if (c->phase == CONN_NEW)
		c->phase = CONN_OPEN;
	conn_arm(c, c->deadline_ms);
}

static void conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct guard_conn *c = arg;
	struct httpguard *g = c->g;
	unsigned skipped = 0;

	if (!c->evcon) {
		conn_admit(c);
		return;
	}
	if (c->phase == CONN_CLOSING || !c->deadline_ms)
		return;
	if (c->phase == CONN_OPEN && ratelog_allow(&g->rl_deadline, LOG_EVERY_MS, &skipped)) {
		bool in_head = httpframe_in_head(&c->frame);
		unsigned limit = in_head ? g->conf.header_timeout_ms : g->conf.request_timeout_ms;
		log_warn("%s: closed a connection from %s: its request's %s was not complete within %u.%03u s%s%.0u%s",
			 g->name, c->peer_text, in_head ? "header" : "body", limit / 1000, limit % 1000,
			 skipped ? "; " : "", skipped, skipped ? " more since the last such line" : "");
	}
	conn_close(c);
}

/* ---- the input ---- */

/* Feed the scanner from the start of c->fresh up to an event. */
static int conn_scan(struct guard_conn *c, size_t *ret_used, enum httpframe_event *ret_event)
{
	struct evbuffer_iovec v[SCAN_IOVECS];
	size_t used = 0;

	*ret_event = HTTPFRAME_MORE;
	int n = evbuffer_peek(c->fresh, -1, NULL, v, SCAN_IOVECS);
	if (n > SCAN_IOVECS)
		n = SCAN_IOVECS;
	for (int i = 0; i < n && *ret_event == HTTPFRAME_MORE; i++) {
		int r = httpframe_feed(&c->frame, v[i].iov_base, v[i].iov_len, ret_event);
		if (r < 0)
			return r;
		used += (size_t)r;
		if ((size_t)r < v[i].iov_len)
			break;
	}
	*ret_used = used;
	return 0;
}

static void conn_bad(struct guard_conn *c, bool in_head, struct evbuffer *in)
{
	struct httpguard *g = c->g;
	unsigned skipped = 0;

	if (ratelog_allow(&g->rl_bad, LOG_EVERY_MS, &skipped))
		log_warn("%s: bad request from %s: %s; %s%s%.0u%s", g->name, c->peer_text[0] ? c->peer_text : "?",
			 httpframe_strerror(c->frame.error), in_head ? "answered 400" : "closed the connection",
			 skipped ? "; " : "", skipped, skipped ? " more since the last such line" : "");
	evbuffer_drain(c->held, evbuffer_get_length(c->held));
	evbuffer_drain(c->fresh, evbuffer_get_length(c->fresh));
	if (!in_head) {
		conn_close(c);
		return;
	}
	evbuffer_add(in, REJECT_LINE, sizeof(REJECT_LINE) - 1);
	if (c->phase != CONN_CLOSING)
		c->phase = CONN_REJECTED;
	/* evhttp closes once the 400 is written; a client that never reads it
	 * is cut at the header deadline. */
	conn_arm(c, clock_mono_ms() + g->conf.header_timeout_ms);
}

/* Take the last n bytes of in into c->fresh. */
static int conn_take_tail(struct guard_conn *c, struct evbuffer *in, size_t n)
{
	size_t len = evbuffer_get_length(in);
	if (n >= len)
		return evbuffer_add_buffer(c->fresh, in);
	/* The bytes before them (evhttp's, not read yet) go aside and back. */
	struct evbuffer *front = evbuffer_new();
	if (!front)
		oom_abort(0);
	int rc = evbuffer_remove_buffer(in, front, len - n) == (int)(len - n) ? 0 : -1;
	if (rc == 0)
		rc = evbuffer_add_buffer(c->fresh, in);
	if (rc == 0)
		rc = evbuffer_add_buffer(in, front);
	evbuffer_free(front);
	return rc;
}

/* New bytes at the end of the input, before evhttp reads them: pass what
 * is checked, hold an incomplete head back. */
static void conn_scan_fresh(struct guard_conn *c, struct evbuffer *in)
{
	const struct httpguard_conf *conf = &c->g->conf;

	while (evbuffer_get_length(c->fresh)) {
		if (httpframe_at_start(&c->frame) && !evbuffer_get_length(c->held)) {
			if (!c->first) {
				c->start_ms = clock_mono_ms();
				conn_arm(c, c->start_ms + conf->header_timeout_ms);
			}
			c->first = false;
		}
		bool in_head = httpframe_in_head(&c->frame);
		enum httpframe_event ev;
		size_t used = 0;
		if (conn_scan(c, &used, &ev) < 0) {
			conn_bad(c, in_head, in);
			return;
		}
		if (!used)
			break;
		int rc;
		if (in_head) {
			rc = evbuffer_remove_buffer(c->fresh, c->held, used) == (int)used ? 0 : -1;
			if (rc == 0 && ev == HTTPFRAME_MORE)
				continue;
			/* The head is complete and valid: evhttp may have it. */
			if (rc == 0)
				rc = evbuffer_add_buffer(in, c->held);
		} else {
			rc = evbuffer_remove_buffer(c->fresh, in, used) == (int)used ? 0 : -1;
		}
		if (rc < 0) { /* the input was frozen: see httpguard_conf.transport_new */
			log_err("%s: cannot pass a request on to evhttp; closing the connection", c->g->name);
			conn_close(c);
			return;
		}
		if (ev == HTTPFRAME_HEAD)
			conn_arm(c, c->start_ms + conf->request_timeout_ms);
		else if (ev == HTTPFRAME_DONE)
			conn_arm(c, 0); /* between requests: evhttp's idle timeout */
	}
}

/* The input buffer's callback: runs inside the read that added the bytes,
 * before the bufferevent tells evhttp. */
static void conn_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct guard_conn *c = arg;

	if (c->busy || !info->n_added)
		return;
	c->busy = true;
	int rc = conn_take_tail(c, in, info->n_added);
	if (rc < 0) {
		log_err("%s: cannot check a request: its input buffer is frozen; closing the connection", c->g->name);
		conn_close(c);
	}
	if (c->phase == CONN_CLOSING || c->phase == CONN_REJECTED)
		evbuffer_drain(c->fresh, evbuffer_get_length(c->fresh));
	else
		conn_scan_fresh(c, in);
	c->busy = false;
}

/* evhttp's bevcb: every accepted connection, before evhttp gives it its
 * descriptor. */
static struct bufferevent *guard_bevcb(struct event_base *base, void *arg)
{
	struct httpguard *g = arg;
	struct bufferevent *bev = NULL;

	if (g->conf.transport_new)
		bev = g->conf.transport_new(base, g->conf.transport_arg);
	if (!bev)
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		oom_abort(sizeof(struct bufferevent *));
	struct guard_conn *c = xcalloc(1, sizeof(*c));
	c->g = g;
	c->bev = bev;
	c->first = true;
	c->start_ms = clock_mono_ms();
	c->deadline_ms = c->start_ms + g->conf.header_timeout_ms;
	httpframe_init(&c->frame, g->conf.head_max);
	c->timer = evtimer_new(base, conn_timer, c);
	c->held = evbuffer_new();
	c->fresh = evbuffer_new();
	c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), conn_input, c);
	if (!c->timer || !c->held || !c->fresh || !c->input_cb)
		oom_abort(sizeof(*c));
	bufferevent_incref(bev); /* until conn_admit */
	g->refs++;
	g->open++;
	/* evhttp sets the descriptor and the connection up after we return:
	 * admit then, before any byte is read. */
	event_active(c->timer, EV_TIMEOUT, 1);
	guard_listen_update(g);
	return bev;
}

/* ---- the guard ---- */

int httpguard_attach(struct evhttp *http, struct evhttp_bound_socket *sock, const struct httpguard_conf *conf,
		     struct httpguard **ret)
{
	struct evconnlistener *lev = sock ? evhttp_bound_socket_get_listener(sock) : NULL;
	if (!lev || !conf->max_conns || !conf->max_conns_per_client || !conf->header_timeout_ms ||
	    conf->request_timeout_ms < conf->header_timeout_ms || !conf->head_max)
		return -EINVAL;
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)clock_mono_us() ^ (uint64_t)(uintptr_t)&seed;
	struct httpguard *g = xcalloc(1, sizeof(*g));
	g->base = evconnlistener_get_base(lev);
	g->http = http;
	g->lev = lev;
	g->conf = *conf;
	g->name = xstrdup(conf->name ? conf->name : "http");
	g->conf.name = g->name;
	g->limit = connlimit_new(conf->max_conns, conf->max_conns_per_client, seed);
	g->table_size = 16;
	while (g->table_size < conf->max_conns + OPEN_MARGIN && g->table_size < 65536)
		g->table_size *= 2;
	g->table = xcalloc(g->table_size, sizeof(*g->table));
	g->refs = 1;
	g->listening = true;
	g->resume = evtimer_new(g->base, guard_resume, g);
	if (!g->resume)
		oom_abort(sizeof(struct event *));
	g->next = guard_list;
	guard_list = g;
	evconnlistener_set_error_cb(lev, guard_accept_error);
	evhttp_set_bevcb(http, guard_bevcb, g);
	evhttp_set_max_headers_size(http, (ev_ssize_t)conf->head_max);
	*ret = g;
	return 0;
}

void httpguard_free(struct httpguard *g)
{
	if (!g)
		return;
	evhttp_set_bevcb(g->http, NULL, NULL);
	g->detached = true;
	event_del(g->resume);
	guard_unref(g);
}

unsigned httpguard_open(const struct httpguard *g)
{
	return g->open;
}

void httpguard_set_closecb(struct evhttp_connection *evcon, void (*cb)(struct evhttp_connection *, void *), void *arg)
{
	struct guard_conn *c = conn_find(evcon);
	if (!c) {
		evhttp_connection_set_closecb(evcon, cb, arg);
		return;
	}
	c->closecb = cb;
	c->closecb_arg = arg;
}

/* ---- descriptors ---- */

long httpguard_nofile_raise(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur != rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = was;
	}
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
}

unsigned httpguard_fd_cap(unsigned want, unsigned fds_per_conn, unsigned reserve)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return want ? want : 1;
	rlim_t avail = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 0;
	rlim_t cap = avail / (fds_per_conn ? fds_per_conn : 1);
	if (cap < want)
		want = (unsigned)cap;
	return want ? want : 1;
}
