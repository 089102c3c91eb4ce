/* The rack's TFTP server: the libevent shell around the TFTP codec
 * (common/wire/tftp.h), the transfer engine (engine.h), path confinement
 * (root.h) and the shared file cache (cache.h).
 *
 * Read requests arrive on one UDP socket (port 69 by default). Each
 * transfer gets its own UDP socket on a fresh ephemeral port, bound to the
 * address the client sent its request to and connected to the client, as
 * RFC 1350 wants; the kernel then drops packets from anyone else.
 * Requests are read on the daemon's event loop; transfers run on worker
 * threads, each with an event loop of its own (worker.c). Write requests are refused
 * with ERROR 2; past max_transfers, requests get ERROR 0 "server busy";
 * past max_per_client transfers (and held requests) from one address,
 * ERROR 0 "too many transfers from your address", so that one host cannot
 * take every slot. A transfer whose client stops answering is given up
 * after at most 30 s without progress, and a timeout option above 10 s is
 * not acknowledged (internal.h).
 *
 * One log line when a transfer starts and one when it ends or fails (client
 * address, file, size, blksize, windowsize, duration, rate); one line per
 * refused request naming the client and the reason (rate-limited). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct tftp_server;
struct tftp_held;
struct rack;

/* A hook offered every read request before the boot root is: the rack
 * renders boot configs (pxelinux.cfg/01-<mac>, ...) this way, and may have
 * to ask the region first. take() returns 0 to leave the request to the
 * boot root, or 1 to keep it: then it must answer it exactly once, at once
 * or later from the loop, with tftp_held_serve_data() or
 * tftp_held_serve_root(). Meanwhile the request is held (no reply; a
 * client that retransmits its RRQ is offered again). cancel() tells the
 * hook that the server is going away with h unanswered: forget h. */
struct tftp_hook {
	int (*take)(void *arg, struct tftp_held *h);
	void (*cancel)(void *arg, struct tftp_held *h);
	void *arg;
};

struct tftp_server_conf {
	const char *listen; /* "ADDRESS:PORT", "[V6]:PORT"; ADDRESS a literal ("0.0.0.0", "::") */
	const char *root;   /* boot root directory (must exist) */
	unsigned max_transfers;
	unsigned max_per_client; /* 0 = max_transfers */
	uint32_t max_blksize;
	unsigned workers;	      /* transfer threads; 0 = one per CPU, at most 8 */
	int nsfd;		      /* network namespace for every socket (netns_open), -1 = our own */
	const char *netns_name;	      /* for the log */
	const struct tftp_hook *hook; /* NULL: every request is a file under root */
};

/* Bind the listening socket and start serving. Logs its own errors. */
int tftp_server_new(struct event_base *base, const struct tftp_server_conf *conf, struct tftp_server **ret);
/* Abort running transfers (logged) and close everything. NULL is fine. */
void tftp_server_free(struct tftp_server *s);

/* Transfers in flight. */
unsigned tftp_server_transfers(const struct tftp_server *s);

/* What a held request asked for: the file name without leading '/'s
 * (checked: no NUL, no "..", not too long), the address the client sent
 * it to (port 0), the client as text for logs. */
const char *tftp_held_name(const struct tftp_held *h);
const struct sockaddr *tftp_held_local(const struct tftp_held *h);
const char *tftp_held_peer(const struct tftp_held *h);
/* One pointer of the hook's own per request. */
void tftp_held_set_ctx(struct tftp_held *h, void *ctx);
void *tftp_held_ctx(const struct tftp_held *h);
/* Answer with len bytes of data (copied; converted for netascii) ... */
void tftp_held_serve_data(struct tftp_held *h, const void *data, size_t len);
/* ... or with the file of that name under the boot root, as if the hook
 * had not taken it (ERROR 1 if there is none). h is freed either way. */
void tftp_held_serve_root(struct tftp_held *h);
/* Requests held right now. */
unsigned tftp_server_held(const struct tftp_server *s);
