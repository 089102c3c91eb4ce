/* The rack's TFTP server: the libevent shell around the TFTP codec
 * (common/wire/tftp.h), the transfer engine (engine.h), path confinement
 * (root.h) and the shared file cache (cache.h).
 *
 * Read requests arrive on one UDP socket (port 69 by default). Each
 * transfer gets its own UDP socket on a fresh ephemeral port, bound to the
 * address the client sent its request to and connected to the client, as
 * RFC 1350 wants; the kernel then drops packets from anyone else. All
 * transfers run on the daemon's event loop. Write requests are refused
 * with ERROR 2; past max_transfers, requests get ERROR 0 "server busy".
 *
 * One log line when a transfer starts and one when it ends or fails (client
 * address, file, size, blksize, windowsize, duration, rate); one line per
 * refused request naming the client and the reason (rate-limited). */
#pragma once

#include <stdint.h>

struct event_base;
struct tftp_server;
struct rack;

struct tftp_server_conf {
	const char *listen; /* "ADDRESS:PORT", "[V6]:PORT"; ADDRESS a literal ("0.0.0.0", "::") */
	const char *root;   /* boot root directory (must exist) */
	unsigned max_transfers;
	uint32_t max_blksize;
	int nsfd;		/* network namespace for every socket (netns_open), -1 = our own */
	const char *netns_name; /* for the log */
};

/* Bind the listening socket and start serving. Logs its own errors. */
int tftp_server_new(struct event_base *base, const struct tftp_server_conf *conf, struct tftp_server **ret);
/* Abort running transfers (logged) and close everything. NULL is fine. */
void tftp_server_free(struct tftp_server *s);

/* Transfers in flight. */
unsigned tftp_server_transfers(const struct tftp_server *s);

/* The daemon's glue: start the server from k->conf (tftp_listen, boot_root,
 * tftp_max_transfers, tftp_max_blksize, netns) when tftp_listen is not
 * empty; stop it. */
int rack_tftp_start(struct rack *k);
void rack_tftp_stop(struct rack *k);
