/* Allocation in the database (docs/deploy.md, "Allocation"): one
 * statement picks a READY machine that meets a filter and moves it to
 * ALLOCATED, skipping rows another transaction holds, so concurrent
 * allocations never hand one machine out twice. The filter's rules are
 * region/machine/alloc.h's, written here in SQL.
 *
 * Every function runs in a database job on the caller's connection and
 * returns >= 0 or -errno: -ENOENT nothing matched (or no such machine),
 * -EAGAIN the machine is no longer in the state the caller expected,
 * -EIO the database failed (db_last_error says why). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region/machine/alloc.h"

struct db;

/* The machine's status message while it is allocated: "allocated to
 * OWNER". */
#define ALLOC_DB_MESSAGE_MAX 512

/* Pick the best-fitting READY machine that meets f (any zone when
 * f->zone is "") and make it ALLOCATED to owner, with a status event
 * "READY → ALLOCATED: event" by actor — in one statement. -ENOENT when no
 * machine matched (or every match was taken meanwhile). */
int alloc_db_take(struct db *db, const struct alloc_filter *f, const char *owner, const char *actor, const char *event,
		  int64_t *ret_id, char ret_hostname[64]);

/* Move READY machine id to ALLOCATED for owner (the same writes as
 * alloc_db_take): -EAGAIN when it is not READY any more. */
int alloc_db_take_id(struct db *db, int64_t id, const char *owner, const char *actor, const char *event);

/* Give ALLOCATED machine id back: ALLOCATED → RELEASING → READY, owner
 * and allocated_at cleared, two status events with event. -EAGAIN when it
 * is not ALLOCATED. */
int alloc_db_give_back(struct db *db, int64_t id, const char *actor, const char *event);

/* Every READY machine (of zone, "" = all zones), at most limit, as the
 * rules see them; m[i]'s strings point into the set. */
struct alloc_db_set {
	struct alloc_machine *m;
	size_t n;
	/* storage behind m */
	char (*hostnames)[64];
	char (*zones)[64];
	char **tag_text;
	const char **tag_ptrs;
};
int alloc_db_ready(struct db *db, const char *zone, long limit, struct alloc_db_set *ret);
void alloc_db_set_done(struct alloc_db_set *s);

/* Is there a zone called name? 1 yes, 0 no. */
int alloc_db_zone_exists(struct db *db, const char *name);
