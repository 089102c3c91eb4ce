/* Shared between rack/tftp/server.c (the listening socket, requests,
 * refusals), rack/tftp/transfer.c (one transfer's socket and timer) and
 * rack/tftp/worker.c (the threads transfers run on). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/wire/tftp.h"
#include "rack/tftp/cache.h"
#include "rack/tftp/clients.h"
#include "rack/tftp/engine.h"
#include "rack/tftp/root.h"
#include "rack/tftp/server.h"

struct event;
struct event_base;

#define TFTP_PEER_STRLEN 64 /* "[v6 address%scope]:port" */
#define TFTP_NAME_LOGLEN 160

/* Largest windowsize granted: beyond a few dozen blocks a window only
 * overruns the client's socket buffer (RFC 7440's measurements flatten out
 * at 16-32), while the sender's loop would push it in one go. */
#define TFTP_SERVER_MAX_WINDOWSIZE 64
/* Largest timeout option acknowledged, in seconds. A boot ROM that wants
 * more than this on a LAN is rare; a request for 255 s is how one host
 * held hundreds of slots for 25 minutes each. */
#define TFTP_SERVER_MAX_TIMEOUT_S 10
/* A transfer that makes no progress for this long is given up, whatever
 * its timeouts: 1 + 2 + 4 + 8 + 8 s of the default backoff fit. */
#define TFTP_SERVER_MAX_STALL_MS 30000

struct tftp_xfer;

/* A transfer's place in a mailbox (worker.c). */
struct tftp_qlink {
	struct tftp_qlink *next;
};

/* Transfers one thread hands to another's loop: a locked list, and an
 * eventfd the receiving loop watches. */
struct tftp_mailbox {
	pthread_mutex_t mu;
	struct tftp_qlink *head, *tail;
	int efd;
	struct event *ev;
};

/* One transfer thread. Its loop owns the transfers it runs; the daemon's
 * loop only gives them and takes them back. */
struct tftp_worker {
	struct tftp_server *srv;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct tftp_mailbox inbox; /* transfers to run; wakes it to stop too */
	bool stopping;		   /* atomic */
	/* The worker's thread only: */
	struct tftp_xfer *xfers; /* running here */
	bool gso;		 /* UDP_SEGMENT works; cleared the first time the kernel refuses it */
	/* The daemon's loop only: */
	unsigned load; /* transfers given and not taken back */
};

struct tftp_server {
	struct event_base *base;
	int fd;
	int family;
	struct event *ev;
	int nsfd;
	struct tftp_root root;
	struct tftp_cache *cache;
	struct tftp_limits lim;
	unsigned max_transfers;
	unsigned n_transfers;
	unsigned max_per_client;     /* transfers and held requests per client address */
	struct tftp_clients clients; /* what each address holds of those */
	struct tftp_worker *workers;
	const struct tftp_worker_ops *worker_ops;
	unsigned n_workers;
	struct tftp_mailbox done; /* transfers the workers have ended */
	struct tftp_hook hook;	  /* take == NULL: no hook */
	struct tftp_held *held;	  /* requests the hook keeps */
	unsigned n_held;
	/* Refusals are logged at most this many per second. */
	int64_t log_second;
	unsigned log_lines;
	unsigned log_suppressed;
};

/* One request as received on the listening socket. */
struct tftp_request {
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct sockaddr_storage local; /* address the client sent to, port 0 */
	socklen_t local_len;
	int ifindex;
	char peer_text[TFTP_PEER_STRLEN];
	char name_text[TFTP_NAME_LOGLEN]; /* file name, escaped for logs */
};

/* A read request the hook has taken and not answered yet. */
struct tftp_held {
	struct tftp_server *srv;
	struct tftp_held *prev, *next;
	struct tftp_request req;
	struct tftp_client_key client;
	enum tftp_mode mode;
	struct tftp_options opts;
	void *ctx;
	size_t filename_len;
	char filename[TFTP_ROOT_NAME_MAX + 1]; /* as sent: may start with '/' */
};

/* transfer.c */

/* The daemon's loop: open the transfer's socket and give it, with file
 * (the reference passes to the transfer), to a worker. On failure the
 * reference is put back and -errno returned; the caller answers the
 * client. */
int tftp_xfer_start(struct tftp_server *s, const struct tftp_request *req, const struct tftp_packet *rrq,
		    struct tftp_file *file);
/* What the workers do with the transfers they are given: worker.c moves
 * qlinks between loops and calls these; it knows nothing of transfers. */
struct tftp_worker_ops {
	/* The worker's loop: start a transfer given to it. */
	void (*run)(struct tftp_worker *w, struct tftp_qlink *l);
	/* The worker's loop, at shutdown: end a transfer given but not
	 * started, or every one running on w (logged, nothing sent). */
	void (*abort)(struct tftp_qlink *l, const char *why);
	void (*abort_all)(struct tftp_worker *w, const char *why);
	/* The daemon's loop: a transfer its worker has ended. */
	void (*reap)(struct tftp_server *s, struct tftp_qlink *l);
};
extern const struct tftp_worker_ops tftp_xfer_ops;

/* worker.c */

/* Workers for tftp_workers = 0: the CPUs this process may run on, at most 8. */
unsigned tftp_workers_auto(void);
/* Start n (at least 1) workers, running what they are given with ops,
 * and the mailbox of ended transfers. On failure (logged)
 * tftp_workers_stop() cleans up. */
int tftp_workers_start(struct tftp_server *s, unsigned n, const struct tftp_worker_ops *ops);
/* Every worker ends its transfers (logged) and exits; they are reaped. */
void tftp_workers_stop(struct tftp_server *s);
/* The worker with the fewest transfers. */
struct tftp_worker *tftp_worker_pick(struct tftp_server *s);
/* The daemon's loop gives w a transfer (its qlink). */
void tftp_worker_give(struct tftp_worker *w, struct tftp_qlink *l);
/* w's loop hands an ended transfer back to the daemon's loop. */
void tftp_worker_hand_back(struct tftp_worker *w, struct tftp_qlink *l);

/* "198.51.100.2:41234", "[2001:db8::1]:41234"; v4-mapped shown as v4. */
void tftp_format_peer(const struct sockaddr *sa, char *buf, size_t len);
/* Quote untrusted text for a log line: printable ASCII kept, the rest as
 * \xNN, cut with "..." to fit. */
void tftp_log_escape(const char *s, size_t len, char *buf, size_t buflen);
