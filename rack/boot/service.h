/* The rack's boot-config service: the shell around the boot table and the
 * GetBootConfig answer cache (rack/boot/table.h). It owns the table of the
 * applied snapshot, asks the region about unknown MACs, and tells the TFTP
 * and HTTP shells which config answers a request.
 *
 * A known MAC (in the pushed snapshot) is answered from the table at once
 * and never reaches the region. An unknown MAC is answered from the cache,
 * or else leads to one GetBootConfig call (concurrent requests for the same
 * MAC wait for that one call); the request is held meanwhile. If the region
 * cannot be asked, or fails, or takes longer than BOOT_FETCH_TIMEOUT_MS,
 * the default config (mac "") answers, or, without one, the plain file
 * of that name under the boot root (usually: file not found).
 *
 * One log line per GetBootConfig (MAC and outcome), one per config served
 * (client, file, purpose, where it came from). Everything runs on the
 * daemon's loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rack/boot/render.h"
#include "rack/boot/table.h"

struct rack;
struct tftp_hook;
struct Ironrack__V1__RackConfig;
struct rack_config_part;
struct rack_command;
struct rack_session_hook;

/* Boot configs' part of a RackConfig (rack/session.h). */
extern const struct rack_config_part rack_boot_config_part;
/* BootForget: drop the named MACs' cached GetBootConfig answers (none
 * named: all), answer OK. */
extern const struct rack_command rack_boot_forget_command;
/* On (re)connecting, forget every cached answer: a BootForget sent while
 * the session was down never arrived. */
extern const struct rack_session_hook rack_boot_session_hook;

#define BOOT_FETCH_TIMEOUT_MS 3000 /* GetBootConfig deadline */
#define BOOT_CACHE_ANSWERS    4096 /* GetBootConfig answers kept */
#define BOOT_FETCH_MAX	      64   /* GetBootConfig calls in flight */
#define BOOT_WAITERS_MAX      32   /* requests held on one call */
#define BOOT_RENDER_MAX	      8192 /* largest rendered config */

/* Create rack->boot (empty table) / free it. Call rack_boot_done after the
 * TFTP and HTTP servers are gone. */
int rack_boot_init(struct rack *rack);
void rack_boot_done(struct rack *rack);

/* The boot root (boot_root, else state_dir/boot), created if missing.
 * Logs its own errors. */
int rack_boot_root(const struct rack *rack, char *buf, size_t len);

/* Check a snapshot's boot configs and build its table, without applying
 * it. 0, or -EINVAL (or -E2BIG) with the reason, naming the entry and its
 * MAC, in msg. */
int rack_boot_prepare(const struct Ironrack__V1__RackConfig *cfg, struct boot_table **ret, char *msg, size_t len);
/* Apply a prepared table (ownership passes): it answers every request from
 * now on, and the cached region answers are forgotten. */
void rack_boot_commit(struct rack *rack, struct boot_table *t);
/* At start: the table of the stored snapshot (logged; an invalid one,
 * which a rack never stores, leaves the table empty). */
void rack_boot_load(struct rack *rack, const struct Ironrack__V1__RackConfig *cfg);

/* A request waiting for GetBootConfig. The shell embeds it and fills
 * done; link and mac are the service's. */
struct rack_boot_wait {
	struct boot_wait link;
	uint8_t mac[6];
	/* c: the config to serve, or NULL (serve the plain file); valid only
	 * during the call. source: "region", "default", ... for the log. */
	void (*done)(struct rack_boot_wait *w, const struct boot_config *c, const char *source);
};

/* Which config answers request r (kind != BOOT_FILE_NONE), for a client
 * that wrote to local. Returns 1 when decided now: *ret is the config (or
 * NULL: serve the plain file), valid until the loop runs again, and
 * *ret_source says where it came from. Returns 0 when w waits: w->done is
 * called later from the loop, exactly once, unless rack_boot_cancel(). */
int rack_boot_resolve(struct rack *rack, const struct boot_request *r, const struct sockaddr *local,
		      struct rack_boot_wait *w, const struct boot_config **ret, const char **ret_source);
void rack_boot_cancel(struct rack *rack, struct rack_boot_wait *w);

/* Render c as a file of the given kind for a client that wrote to local
 * (iPXE and GRUB fetch the kernel from http://LOCAL:HTTP_BOOT_PORT/). */
int rack_boot_render(const struct rack *rack, enum boot_file_kind kind, const struct boot_config *c,
		     const struct sockaddr *local, char *buf, size_t len);

/* Log the one line for a config served. */
void rack_boot_log_served(const char *proto, const char *client, const char *name, const struct boot_config *c,
			  const char *source);

/* The hook rack_tftp_start installs in the TFTP server. */
const struct tftp_hook *rack_boot_tftp_hook(struct rack *rack);

/* Forget the cached GetBootConfig answers of n MACs; n == 0: every one.
 * Calls in flight for them go on, but their answers are not kept. */
void rack_boot_forget(struct rack *rack, const uint8_t (*macs)[6], size_t n);
