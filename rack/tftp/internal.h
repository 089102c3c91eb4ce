/* Shared between rack/tftp/server.c (the listening socket, requests,
 * refusals) and rack/tftp/transfer.c (one transfer's socket and timer). */
#pragma once

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
	struct tftp_xfer *xfers;
	struct tftp_hook hook;	/* take == NULL: no hook */
	struct tftp_held *held; /* requests the hook keeps */
	unsigned n_held;
	bool gso; /* UDP_SEGMENT works; cleared the first time the kernel refuses it */
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

/* Start sending file (the reference passes to the transfer) to the client
 * of req. On failure the reference is put back and -errno returned; the
 * caller answers the client. */
int tftp_xfer_start(struct tftp_server *s, const struct tftp_request *req, const struct tftp_packet *rrq,
		    struct tftp_file *file);
/* End a transfer at shutdown (logged, nothing sent). */
void tftp_xfer_abort(struct tftp_xfer *x, const char *why);

/* "198.51.100.2:41234", "[2001:db8::1]:41234"; v4-mapped shown as v4. */
void tftp_format_peer(const struct sockaddr *sa, char *buf, size_t len);
/* Quote untrusted text for a log line: printable ASCII kept, the rest as
 * \xNN, cut with "..." to fit. */
void tftp_log_escape(const char *s, size_t len, char *buf, size_t buflen);
