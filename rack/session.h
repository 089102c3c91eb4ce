/* The rack's session with the region as a transport: Register, then one
 * long-lived Session stream. The session itself knows only the stream's
 * envelope (Welcome, heartbeats, request ids, Status replies, deadlines);
 * what a message means belongs to the feature that registered for it in
 * rack/registry.c, nginx-style:
 *
 *   - rack_commands[]:      {command case, handler} — the region's commands
 *   - rack_config_parts[]:  {name, check, commit, abort} — one per feature
 *                           that takes a part of the RackConfig snapshot
 *   - rack_session_hooks[]: {name, on_connected, on_disconnected}
 *   - rack_reply_routes[]:  {name, on_status} — where the region's Status
 *                           replies to rack-initiated messages go
 *   - rack_answer_routes[]: {route, on_answer} — a reply route's replies
 *                           that carry an AgentAnswer body
 *
 * Adding a feature (power, discovery, HA) = a row in each table it needs.
 * Handlers run on the rack's event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct rack;

/* ---- what the session offers features ---- */

/* Queue m on the stream (packed before returning). -ENOTCONN when there
 * is no session; other -errno when the stream refuses it. */
int rack_session_send(struct rack *rack, Ironrack__V1__RackMessage *m);
bool rack_session_is_connected(const struct rack *rack);

struct rack_reply_route;
/* A request id for a rack-initiated message whose Status reply the region
 * routes back to route (which must be a row of rack_reply_routes[]). */
uint64_t rack_session_request_id(struct rack *rack, const struct rack_reply_route *route);

/* Answer a region command: with a result, or with a failed status. */
void rack_session_reply_result(struct rack *rack, uint64_t request_id, Ironrack__V1__CommandResult *res);
void rack_session_reply_status(struct rack *rack, uint64_t request_id, int code, const char *message);

/* ---- the tables features register in (rack/registry.c) ---- */

/* A command from the region. The handler answers once, now or later, with
 * rack_session_reply_result/_status(rack, in->request_id, ...); in and
 * its command live only during the call. */
struct rack_command {
	Ironrack__V1__Command__CommandCase command_case;
	void (*run)(struct rack *rack, const Ironrack__V1__RegionMessage *in);
};

/* One feature's part of a RackConfig snapshot. A snapshot is applied in
 * two steps so that a bad part leaves everything as it was:
 *   check:  validate cfg, build what commit needs in *ret_state. Returns
 *           RPC_OK or the status the region gets, with a reason in msg.
 *           A part whose check cannot be separated from taking effect
 *           (DHCP: opening the sockets of a new interface is the check)
 *           takes effect here and sits after every part that only checks.
 *   commit: the snapshot is stored; serve it (owns state).
 *   abort:  a later part or the store refused the snapshot (frees state;
 *           NULL when the part keeps no state). */
struct rack_config_part {
	const char *name;
	int (*check)(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void **ret_state, char *msg,
		     size_t msg_len);
	void (*commit)(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void *state);
	void (*abort)(struct rack *rack, void *state);
};

/* The session came up (after Hello), the region answered it (Welcome), or
 * the session went down. Any may be NULL. */
struct rack_session_hook {
	const char *name;
	void (*on_connected)(struct rack *rack);
	void (*on_disconnected)(struct rack *rack);
	void (*on_welcome)(struct rack *rack, const Ironrack__V1__Welcome *w);
};

/* The region's Status reply to a message sent with
 * rack_session_request_id(rack, route). st is never NULL. */
struct rack_reply_route {
	const char *name;
	void (*on_status)(struct rack *rack, uint64_t request_id, const Ironrack__V1__Status *st);
};

extern const struct rack_command *const rack_commands[];
extern const size_t rack_commands_n;
extern const struct rack_config_part *const rack_config_parts[];
extern const size_t rack_config_parts_n;
extern const struct rack_session_hook *const rack_session_hooks[];
extern const size_t rack_session_hooks_n;
extern const struct rack_reply_route *const rack_reply_routes[];
extern const size_t rack_reply_routes_n;

/* A reply route whose replies may carry an AgentAnswer (with the Status):
 * those go to on_answer; a route without a row here gets their Status
 * alone. */
struct rack_answer_route {
	const struct rack_reply_route *route;
	void (*on_answer)(struct rack *rack, uint64_t request_id, const Ironrack__V1__Status *st,
			  const Ironrack__V1__AgentAnswer *answer);
};
extern const struct rack_answer_route *const rack_answer_routes[];
extern const size_t rack_answer_routes_n;

/* Lifecycle (rack/main.c). */
void rack_session_start(struct rack *rack);
void rack_session_stop(struct rack *rack);
