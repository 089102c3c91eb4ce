/* POST /api/v1/subnets/{id}/scan: an active-discovery scan of one subnet,
 * now (docs/discovery.md, "The active scan"). The database says which
 * rack serves the subnet's VLAN (its primary rack, where DHCP is on); the
 * rack gets a DiscoveryScanRequest on its Session and answers at once,
 * scanning only if the subnet is one its current config lets it scan.
 * The answer is 202: the scan runs on, its findings arrive as discoveries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "common/rpc/rpc.h"
#include "common/util.h"
#include "region/api/discoveries_api.h"
#include "region/api/net_api.h"
#include "region/rpc/session.h"

#define SCAN_TIMEOUT_MS	    10000
#define SCAN_TIMEOUT_MAX_MS 60000

struct scan_state {
	int64_t id;
	long timeout_ms;
	struct disc_scan_who who;
};

struct scan_wait {
	struct api_pending *p;
	int64_t id;
	char cidr[50];
};

static void scan_answered(void *arg, int status, const char *message, const Ironrack__V1__RackMessage *reply,
			  int64_t rtt_us)
{
	struct scan_wait *w = arg;
	struct evhttp_request *req = api_pending_release(w->p);
	const char *rack = w->p->subject;
	const char *why = message && *message ? message : strerror(status < 0 ? -status : EIO);
	int code = reply && reply->status ? reply->status->code : RPC_UNKNOWN;

	if (!req) {
		/* nobody to tell */
	} else if (status == 0) {
		const char *said = reply && reply->status && reply->status->message ? reply->status->message : "";
		api_send_json(req, 202,
			      json_pack("{s:I, s:s, s:s, s:s}", "subnet", (json_int_t)w->id, "cidr", w->cidr, "rack",
					rack, "message", said));
	} else if (status == -EREMOTEIO && (code == RPC_NOT_FOUND || code == RPC_FAILED_PRECONDITION)) {
		api_send_error(req, 409, code == RPC_NOT_FOUND ? "not_scannable" : "discovery_off", NULL,
			       "rack \"%s\" does not scan %s: %s%s", rack, w->cidr, why,
			       code == RPC_NOT_FOUND ? " (a rack scans the subnets of the VLANs it serves in which it "
						       "has an address, once its config holds them)"
						     : "");
	} else if (status == -ETIMEDOUT) {
		api_send_error(req, 504, "timeout", NULL, "rack \"%s\" did not answer within %ld ms", rack,
			       w->p->timeout_ms);
	} else if (status == -ECANCELED) {
		api_send_error(req, 502, "rack_error", NULL, "rack \"%s\": session ended before it answered", rack);
	} else {
		api_send_error(req, 502, "rack_error", NULL, "rack \"%s\": %s", rack, why);
	}
	api_pending_free(w->p);
	free(w);
}

/* On the loop: the rack's session, if it has one, gets the request. */
static void scan_send(struct api_call *call)
{
	struct scan_state *st = call->state;
	struct rack_session *s = region_session_of_rack(call->r, st->who.rack_id);
	if (!s) {
		api_reply_error(call, 409, "rack_disconnected", NULL, "rack \"%s\", which serves %s, is not connected",
				st->who.rack_id, st->who.cidr);
		return;
	}
	struct api_pending *p = api_pending_start(call, st->who.rack_id, st->timeout_ms);
	if (!p)
		return;
	struct scan_wait *w = xcalloc(1, sizeof(*w));
	w->p = p;
	w->id = st->id;
	snprintf(w->cidr, sizeof(w->cidr), "%s", st->who.cidr);
	Ironrack__V1__DiscoveryScanRequest sr = IRONRACK__V1__DISCOVERY_SCAN_REQUEST__INIT;
	sr.subnet_id = (uint64_t)st->id;
	sr.cidr = st->who.cidr;
	sr.requested_by = call->who[0] ? call->who : "the API";
	Ironrack__V1__Command cmd = IRONRACK__V1__COMMAND__INIT;
	cmd.command_case = IRONRACK__V1__COMMAND__COMMAND_DISCOVERY_SCAN;
	cmd.discovery_scan = &sr;
	Ironrack__V1__RegionMessage m = IRONRACK__V1__REGION_MESSAGE__INIT;
	m.body_case = IRONRACK__V1__REGION_MESSAGE__BODY_COMMAND;
	m.command = &cmd;
	/* May call scan_answered before returning. */
	region_session_request(s, &m, (int)st->timeout_ms, scan_answered, w);
}

void api_subnet_scan(struct api_call *call)
{
	struct scan_state *st = xcalloc(1, sizeof(*st));

	if (api_query_long(call, "timeout_ms", SCAN_TIMEOUT_MS, 1, SCAN_TIMEOUT_MAX_MS, &st->timeout_ms) < 0 ||
	    !api_net_lookup(call, NET_SUBNET, 0, &st->id)) {
		free(st);
		return;
	}
	int rc = disc_db_scan_who(call->db, st->id, &st->who);
	const struct disc_scan_who *w = &st->who;
	if (rc == -ENOENT)
		api_reply_error(call, 404, "not_found", NULL, "subnet %s not found", call->match->params[0]);
	else if (rc < 0)
		api_reply_db_error(call, rc);
	else if (w->family != 4)
		api_reply_error(call, 400, "invalid_argument", NULL,
				"subnet %s is IPv6: active discovery scans IPv4 subnets (ARP) only", w->cidr);
	else if (w->prefix < SCAN_PREFIX_MIN_API)
		api_reply_error(call, 400, "invalid_argument", NULL,
				"subnet %s is wider than /%d: a scan probes at most 65,534 addresses", w->cidr,
				SCAN_PREFIX_MIN_API);
	else if (!w->rack_id[0])
		api_reply_error(call, 409, "not_served", NULL,
				"no rack serves VLAN %d of %s, the VLAN of %s: its primary rack scans it, once DHCP is "
				"on there",
				w->vid, w->fabric, w->cidr);
	if (call->status) {
		free(st);
		return;
	}
	call->state = st;
	call->state_free = free;
	call->then = scan_send;
}
