/* The rack's boot table and its cache of GetBootConfig answers. Pure: no
 * I/O, no clock, no logging; rack/boot/service.c is the shell around them.
 *
 * The boot table holds the boot configs of one configuration snapshot:
 * MAC -> config, plus the default (mac "") for machines the rack does not
 * know. It is built whole from the snapshot's strings and checked with
 * boot_config_check() (common/bootconf.h); one bad entry refuses the whole
 * snapshot, so the rack never serves half of a configuration. Built tables
 * are immutable: applying a snapshot builds a new one and swaps it in.
 *
 * The answer cache keeps what the region said for MACs that are not in the
 * table (GetBootConfig, purpose enlist), so a machine that PXE-boots again
 * does not ask again. It is bounded (least recently used answers go first)
 * and emptied whenever a new snapshot is applied. It also coalesces
 * lookups: while one GetBootConfig for a MAC is in flight, later requests
 * for that MAC wait for the same answer (struct boot_wait) instead of
 * calling again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bootconf.h"

/* Entries (MACs) one snapshot may carry. */
#define BOOT_TABLE_MAX BOOT_CONFIGS_MAX

/* One boot config as the snapshot carries it. */
struct boot_config_text {
	const char *mac; /* "aa:bb:cc:dd:ee:ff" (or with '-'), "" = the default */
	const char *purpose;
	const char *kernel;
	const char *initrd;
	const char *cmdline;
};

/* Why a snapshot's boot configs were refused. */
struct boot_table_error {
	size_t index;	   /* which entry (boot_configs[index]) */
	char mac[18];	   /* the entry's mac as sent (cut to fit), "" for the default */
	const char *field; /* "mac", "purpose", "kernel", "initrd", "cmdline", "" */
	const char *why;   /* static text */
};

struct boot_table;

/* Build a table from n configs (n may be 0: an empty table). -EINVAL with
 * err filled when an entry is invalid or a MAC (or the default) appears
 * twice; -E2BIG over BOOT_TABLE_MAX entries; -ENOMEM. */
int boot_table_build(const struct boot_config_text *in, size_t n, struct boot_table **ret,
		     struct boot_table_error *err);
void boot_table_free(struct boot_table *t); /* NULL is fine */

/* The config for a MAC, or NULL. Valid while the table lives. */
const struct boot_config *boot_table_lookup(const struct boot_table *t, const uint8_t mac[6]);
/* The default config (mac ""), or NULL when the snapshot has none. */
const struct boot_config *boot_table_default(const struct boot_table *t);
/* MACs in the table (the default not counted). */
size_t boot_table_count(const struct boot_table *t);

/* "boot_configs[2] (mac 02:00:00:00:00:05): kernel must be ..." */
void boot_table_error_format(const struct boot_table_error *err, char *buf, size_t len);

/* ---- the GetBootConfig answer cache ---- */

/* A request waiting for an answer. The requester embeds it and owns it;
 * the cache only links it while it waits. */
struct boot_wait {
	struct boot_wait *next;
};

enum boot_cache_state {
	BOOT_CACHE_MISS,    /* nothing known: begin a fetch */
	BOOT_CACHE_HIT,	    /* an answer is cached */
	BOOT_CACHE_PENDING, /* a fetch is in flight: wait for it */
};

struct boot_cache;

/* capacity: answers kept; max_pending: fetches in flight at once;
 * max_waiters: requests waiting on one fetch. */
int boot_cache_new(size_t capacity, size_t max_pending, size_t max_waiters, struct boot_cache **ret);
/* Waiters still linked are dropped (not answered). NULL is fine. */
void boot_cache_free(struct boot_cache *c);

/* HIT: *ret is the answer (valid until the cache next changes) and
 * becomes the most recently used. */
enum boot_cache_state boot_cache_lookup(struct boot_cache *c, const uint8_t mac[6], const struct boot_config **ret);
/* After a MISS: note that a fetch for mac is in flight, with w its first
 * waiter. -EBUSY when max_pending fetches are in flight already, -EEXIST
 * if one is in flight for mac, -ENOMEM. */
int boot_cache_begin(struct boot_cache *c, const uint8_t mac[6], struct boot_wait *w);
/* After PENDING: wait for the fetch in flight. -EBUSY when max_waiters
 * wait already, -ENOENT when no fetch is in flight for mac. */
int boot_cache_wait(struct boot_cache *c, const uint8_t mac[6], struct boot_wait *w);
/* Take w back before its fetch ends (its requester went away). */
void boot_cache_cancel(struct boot_cache *c, const uint8_t mac[6], struct boot_wait *w);
/* The fetch for mac ended. answer (copied) is kept unless it is NULL (the
 * region failed) or the cache was expired since the fetch began; the least
 * recently used answer goes when capacity is exceeded. Returns the waiters
 * in arrival order (linked by next), for the caller to answer; NULL if
 * none. *ret_kept (may be NULL) says whether the answer was kept. */
struct boot_wait *boot_cache_finish(struct boot_cache *c, const uint8_t mac[6], const struct boot_config *answer,
				    bool *ret_kept);
/* A new snapshot: forget every answer. Fetches in flight go on, but what
 * they bring back is not kept. */
void boot_cache_expire(struct boot_cache *c);
/* Forget the answer for one MAC (its machine's state changed what it
 * boots). A fetch in flight for it goes on, but what it brings back is
 * not kept. true when an answer was dropped. */
bool boot_cache_forget(struct boot_cache *c, const uint8_t mac[6]);

size_t boot_cache_count(const struct boot_cache *c);   /* answers kept */
size_t boot_cache_pending(const struct boot_cache *c); /* fetches in flight */
