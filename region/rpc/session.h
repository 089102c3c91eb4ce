/* The rack session as a transport: what features (region/dhcp, region/boot,
 * rackcfg, and next power, machines, discovery, ha) use to take part in a
 * rack's Session stream without knowing how it is kept.
 *
 * A feature registers rows of {rack message body case, handler} and
 * optional open/close hooks in one struct region_session_feature, listed
 * once in region/rpc/handlers.c. The session layer decodes, keeps
 * liveness, matches replies to requests and dispatches every other
 * message to the row for its body case.
 *
 * Everything here runs on the loop thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct region;
struct rack_session;

/* Names one session of one rack, to answer it later (after a database
 * job): a session that ended meanwhile, or was replaced by a newer one,
 * no longer matches and the answer is dropped (the rack resends). */
struct region_session_ref {
	char rack_id[64];
	uint64_t serial;
};

/* m and everything it points to are freed when the handler returns. */
typedef void (*region_session_handler_fn)(struct rack_session *s, const Ironrack__V1__RackMessage *m);

struct region_session_handler {
	Ironrack__V1__RackMessage__BodyCase body;
	region_session_handler_fn fn;
};

struct region_session_feature {
	const char *name;
	const struct region_session_handler *handlers;
	size_t n_handlers;
	/* A rack's session started (after the Welcome) / ended. NULL: none. */
	void (*on_open)(struct region *r, const char *rack_id);
	void (*on_close)(struct region *r, const char *rack_id);
};

/* handlers.c: every feature, once. */
extern const struct region_session_feature *const region_session_features[];
extern const size_t region_session_features_n;

struct region *region_session_region(const struct rack_session *s);
const char *region_session_rack_id(const struct rack_session *s);
/* The transport's view of the rack: "ipv4:10.0.0.5:41234". */
const char *region_session_peer(const struct rack_session *s);
void region_session_ref_get(const struct rack_session *s, struct region_session_ref *ret);
/* The live session ref names, or NULL. */
struct rack_session *region_session_find(struct region *r, const struct region_session_ref *ref);
/* The connected session of rack_id, or NULL. */
struct rack_session *region_session_of_rack(struct region *r, const char *rack_id);

/* Call fn for every live session (fn may send, not close). Returns how
 * many. */
size_t region_sessions_each(struct region *r, void (*fn)(struct rack_session *s, void *arg), void *arg);

/* The config version the rack last said it holds (Hello, Heartbeat,
 * ConfigAck). */
uint64_t region_session_config_version(const struct rack_session *s);
void region_session_config_version_set(struct rack_session *s, uint64_t version);

/* A config with this DHCP part goes to the rack now: until it acknowledges
 * it, the rack may report on what this one or the one it holds serves
 * (scope.h). rackcfg.c calls it for every config it sends. */
void region_session_scope_sent(struct rack_session *s, uint64_t version, const Ironrack__V1__DhcpConfig *dhcp);

/* Queue a message to the rack; -errno (logged) if the stream is closing. */
int region_session_send(struct rack_session *s, Ironrack__V1__RegionMessage *m);
/* Answer a report (same request_id) with a Status: 0 OK, -EINVAL
 * INVALID_ARGUMENT, -ENOENT NOT_FOUND, -EACCES PERMISSION_DENIED, -EPERM
 * FAILED_PRECONDITION, anything else UNAVAILABLE; why
 * ("" = strerror) says what went wrong. */
void region_session_reply_status(struct rack_session *s, uint64_t request_id, int rc, const char *why);

/* A request the rack answers with the same request_id: cont runs exactly
 * once, with the rack's reply (status 0, or -EREMOTEIO when it carries an
 * error Status, message says), or without one (-ETIMEDOUT at the
 * deadline, -ECANCELED when the session ends or the send fails). */
typedef void (*region_session_cont_fn)(void *arg, int status, const char *message,
				       const Ironrack__V1__RackMessage *reply, int64_t rtt_us);
/* Send m as a request: its request_id and deadline are set here. cont may
 * run before this returns (the send failed). */
void region_session_request(struct rack_session *s, Ironrack__V1__RegionMessage *m, int timeout_ms,
			    region_session_cont_fn cont, void *arg);
/* A request_id for a message nobody waits on (a config offer). */
uint64_t region_session_next_id(struct rack_session *s);
