/* The session layer's own state, shared by sessions.c (the transport)
 * and session_trust.c (what a rack may send). Not for features: they see
 * struct rack_session through session.h only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct pending;
struct early_msg;
struct region;
struct rpc_stream;
struct session_check;
struct rack_scope;
struct rack_config_row;

struct rack_session {
	struct rack_session *next;
	struct region *r;
	struct rpc_stream *stream;
	char rack_id[64];
	uint64_t serial;
	int64_t last_heartbeat_us;
	uint64_t rack_config_version;
	struct pending *pending;
	bool closed;
	/* The identity check of a new session: messages wait in early. */
	struct session_check *check;
	struct early_msg *early, **early_tail;
	size_t n_early, early_bytes;
	/* db_rack_seen: one job queued at a time; again = another heartbeat
	 * came meanwhile. */
	bool seen_queued, seen_again;
	bool started; /* checked, welcomed: counted in n, told to features */
	/* What it may report on (scope.h): the config it acknowledged, and
	 * the one sent last while it is not acknowledged yet. */
	struct rack_scope *scope, *scope_sent;
	/* Refused messages (refusal_note). */
	int64_t refused_since_us; /* 0: no window open */
	unsigned refused_lines;	  /* logged in full in this window */
	uint64_t refused_held;
	char refused_last[256];
};

/* Sum up a window of refused messages that is over (force: whatever it
 * holds). */
void session_refusal_flush(struct rack_session *s, int64_t now, bool force);
/* m checked against the contract and the rack's scope before dispatch:
 * m itself, tmp (a copy holding only the lease events it may report,
 * *ret_kept to free), or NULL (refused and answered). */
const Ironrack__V1__RackMessage *session_trust_admit(struct rack_session *s, const Ironrack__V1__RackMessage *m,
						     Ironrack__V1__RackMessage *tmp, Ironrack__V1__LeaseReport *tmp_rep,
						     Ironrack__V1__LeaseEvent ***ret_kept);
/* What a stored snapshot lets the rack report on (nothing, logged, if its
 * DHCP config does not unpack). */
struct rack_scope *session_trust_scope_of(const char *rack_id, const struct rack_config_row *row);
