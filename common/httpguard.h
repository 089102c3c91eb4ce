/* What stands between a libevent evhttp server and a hostile client: one
 * seam for the region's REST API and boot-resource server and the rack's
 * HTTP boot server.
 *
 *   - Connections are counted at accept, in all and per client address
 *     (common/connlimit.h). One over either limit is answered 503 (plain
 *     HTTP only; over TLS it is just closed) and closed at once, so it holds
 *     a descriptor for a moment, not until its request comes. Accepting
 *     pauses while max_conns + a small margin are open.
 *   - A deadline that bytes do not extend: a request's head must be
 *     complete header_timeout after the connection was accepted (the first
 *     request) or after its first byte (a later one on the connection), and
 *     its body request_timeout after that same start; then the connection is
 *     closed. Between requests libevent's idle timeout (evhttp_set_timeout)
 *     still applies.
 *   - Framing is checked strictly (common/wire/httpframe.h) before evhttp
 *     reads a byte of it: each head is held back until it is complete and
 *     valid, so a bad one never reaches evhttp; evhttp is then handed a
 *     request line it refuses, answers 400 itself (with Connection: close)
 *     after the requests before it, and closes. A bad chunked body closes
 *     the connection.
 *   - accept() failing for lack of descriptors (EMFILE, ENFILE, ENOBUFS,
 *     ENOMEM) pauses the listener (evconnlistener error callback) for a
 *     second or until one of our connections closes, with one log line per
 *     minute, instead of libevent's retry on every loop turn.
 *   - Refusals, deadlines and bad requests are logged at most once per ten
 *     seconds per kind and server, with the number left out since.
 *
 * How: evhttp accepts on the listener as before. The guard's bevcb makes
 * each connection's bufferevent (a socket one, or the caller's TLS one) and
 * puts a callback on its input buffer, which libevent runs as bytes arrive,
 * before evhttp's read callback sees them: the callback scans the new bytes
 * and takes the incomplete head back out of the buffer until it is whole.
 * Responses go out untouched (sendfile(2) segments, TLS). The guard learns
 * that evhttp freed a connection from its close callback, so code that needs
 * one must use httpguard_set_closecb(), never evhttp_connection_set_closecb().
 *
 * One thread: everything runs on the loop of the evhttp's event_base. */
#pragma once

#include <stddef.h>

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_connection;
struct bufferevent;
struct httpguard;

struct httpguard_conf {
	const char *name;	       /* in log lines: "REST API", "http", ... (copied) */
	unsigned max_conns;	       /* connections at once, >= 1 */
	unsigned max_conns_per_client; /* >= 1 */
	unsigned header_timeout_ms;    /* see above */
	unsigned request_timeout_ms;   /* >= header_timeout_ms */
	size_t head_max;	       /* request line + fields; also evhttp's max headers size */
	/* The transport of a new connection (socket -1, BEV_OPT_CLOSE_ON_FREE,
	 * not BEV_OPT_DEFER_CALLBACKS: the guard reads its input inside the read,
	 * before evhttp); NULL = a plain socket bufferevent. */
	struct bufferevent *(*transport_new)(struct event_base *base, void *arg);
	void *transport_arg;
	/* Told of every guarded connection evhttp frees (NULL = nobody). */
	void (*on_close)(struct evhttp_connection *evcon, void *arg);
	void *on_close_arg;
};

/* Guard the evhttp's connections on sock (set up with
 * evhttp_bind_socket_with_handle, evhttp_accept_socket_with_handle or
 * evhttp_bind_listener). Sets the evhttp's bevcb and max headers size; the
 * caller must not set a bevcb of its own. */
int httpguard_attach(struct evhttp *http, struct evhttp_bound_socket *sock, const struct httpguard_conf *conf,
		     struct httpguard **ret);
/* Just before evhttp_free() (which frees the listener): connections still
 * open let go of the guard when evhttp_free() frees them. NULL is fine. */
void httpguard_free(struct httpguard *g);

/* evhttp_connection_set_closecb() for a guarded connection (the guard holds
 * evhttp's one slot and passes the call on); cb NULL clears it. An evcon
 * no guard knows gets evhttp_connection_set_closecb(). */
void httpguard_set_closecb(struct evhttp_connection *evcon, void (*cb)(struct evhttp_connection *, void *), void *arg);

/* Connections open now (accepted and not yet freed, refused ones included). */
unsigned httpguard_open(const struct httpguard *g);

/* ---- descriptors ---- */

/* Raise RLIMIT_NOFILE's soft limit to the hard one, at start. Returns the
 * soft limit now in force, or -errno. */
long httpguard_nofile_raise(void);

/* The connections a server may hold: want, or fewer if the descriptor limit
 * minus reserve (kept for the daemon's own files, sockets, database
 * connections) does not leave fds_per_conn for each of them. At least 1. */
unsigned httpguard_fd_cap(unsigned want, unsigned fds_per_conn, unsigned reserve);
