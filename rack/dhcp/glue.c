/* The DHCP feature wired into the rack: service start/stop, the config
 * part, lease and external-DHCP reports on the session. See glue.h. */
#include "rack/dhcp/glue.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "rack/dhcp/load.h"
#include "rack/dhcp/report.h"
#include "rack/dhcp/server.h"
#include "rack/netns.h"
#include "rack/rack.h"

/* ---- reports to the region ---- */

/* Lease reports go out on the session; they are not kept while it is down
 * (rack/dhcp/report.h: the lease store is the durable queue). */
static int glue_send_lease_report(void *arg, const Ironrack__V1__LeaseReport *rep)
{
	struct rack *rack = arg;
	if (!rack_session_is_connected(rack))
		return -ENOTCONN;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.request_id = rack_session_request_id(rack, &rack_dhcp_lease_route);
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_LEASE_REPORT;
	m.lease_report = (Ironrack__V1__LeaseReport *)rep;
	int rc = rack_session_send(rack, &m);
	if (rc < 0)
		log_warn("dhcp: lease report not sent; a full report follows");
	return rc;
}

static const struct lease_store *glue_lease_store(void *arg)
{
	struct rack *rack = arg;
	return rack->dhcp ? dhcp_server_leases(rack->dhcp) : NULL;
}

static const struct dhcp_report_ops glue_report_ops = {
    .send = glue_send_lease_report,
    .leases = glue_lease_store,
};

static void glue_on_lease_events(void *arg, const char *ifname, const struct dhcp_event *ev, size_t n)
{
	struct rack *rack = arg;
	if (rack->report)
		dhcp_report_add(rack->report, ifname, ev, n);
}

static void glue_on_external(void *arg, const char *ifname, uint16_t vid, uint64_t vlan_id, const uint32_t *servers,
			     size_t n)
{
	struct rack *rack = arg;
	if (!rack_session_is_connected(rack)) {
		log_debug("dhcp: %s: external DHCP probe result not reported: region not connected", ifname);
		return;
	}
	char(*text)[16] = xcalloc(n ? n : 1, sizeof(*text));
	char **ptrs = xcalloc(n ? n : 1, sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		uint32_t a = servers[i];
		snprintf(text[i], sizeof(text[i]), "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
		ptrs[i] = text[i];
	}
	Ironrack__V1__ExternalDhcpReport rep = IRONRACK__V1__EXTERNAL_DHCP_REPORT__INIT;
	rep.interface = (char *)ifname;
	rep.vid = vid;
	rep.vlan_id = vlan_id;
	rep.servers = ptrs;
	rep.n_servers = n;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	m.request_id = rack_session_request_id(rack, &rack_dhcp_external_route); /* answered with a Status */
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_EXTERNAL_DHCP;
	m.external_dhcp = &rep;
	rack_session_send(rack, &m);
	free(text);
	free(ptrs);
}

static const struct dhcp_server_ops glue_server_ops = {
    .on_events = glue_on_lease_events,
    .on_external = glue_on_external,
};

static void glue_log_refused(const char *what, const Ironrack__V1__Status *st)
{
	log_warn("dhcp: region refused a%s report: %s%s%s", what, rpc_status_name(st->code), st->message[0] ? ": " : "",
		 st->message);
}

/* A lease report the region could not apply (database trouble) is made
 * good by a full report. */
static void glue_on_lease_status(struct rack *rack, uint64_t request_id, const Ironrack__V1__Status *st)
{
	if (st->code == RPC_OK)
		return;
	glue_log_refused(" lease", st);
	if (st->code == RPC_UNAVAILABLE && rack->report)
		dhcp_report_resync(rack->report);
}

static void glue_on_external_status(struct rack *rack, uint64_t request_id, const Ironrack__V1__Status *st)
{
	if (st->code != RPC_OK)
		glue_log_refused("n external DHCP", st);
}

const struct rack_reply_route rack_dhcp_lease_route = {"dhcp-lease-report", glue_on_lease_status};
const struct rack_reply_route rack_dhcp_external_route = {"dhcp-external-report", glue_on_external_status};

/* Whatever happened to leases while the region was away: send it all. */
static void glue_on_connected(struct rack *rack)
{
	if (!rack->report)
		return;
	int rc = dhcp_report_connected(rack->report);
	if (rc >= 0)
		log_info("dhcp: full lease report sent: %d address%s", rc, rc == 1 ? "" : "es");
}

static void glue_on_disconnected(struct rack *rack)
{
	if (rack->report)
		dhcp_report_disconnected(rack->report);
}

const struct rack_session_hook rack_dhcp_session_hook = {
    .name = "dhcp",
    .on_connected = glue_on_connected,
    .on_disconnected = glue_on_disconnected,
};

/* ---- configuration ---- */

static void dhcp_count(const struct dhcp_config *c, size_t *ret_subnets, size_t *ret_hosts)
{
	size_t subnets = 0, hosts = 0;
	for (size_t i = 0; i < c->n_ifaces; i++) {
		const struct dhcp_iface *ifc = &c->ifaces[i];
		subnets += ifc->n_subnets + ifc->n_relayed;
		for (size_t j = 0; j < ifc->n_subnets; j++)
			hosts += ifc->subnets[j].n_hosts;
		for (size_t j = 0; j < ifc->n_relayed; j++)
			hosts += ifc->relayed[j].n_hosts;
	}
	*ret_subnets = subnets;
	*ret_hosts = hosts;
}

int rack_dhcp_apply(struct rack *rack, const Ironrack__V1__DhcpConfig *pb, uint64_t version, char *why, size_t why_len)
{
	struct dhcp_loaded *l = NULL;
	int rc = dhcp_load(pb, version, &l, why, why_len);
	if (rc < 0)
		return rc;
	if (!rack->dhcp) {
		if (!l)
			return 0;
		dhcp_loaded_free(l);
		snprintf(why, why_len, "dhcp: the rack's DHCP server is not running");
		return -ENODEV;
	}
	size_t n_ifaces = l ? l->cfg.n_ifaces : 0, subnets = 0, hosts = 0;
	if (l)
		dhcp_count(&l->cfg, &subnets, &hosts);
	char apply_why[400];
	rc = dhcp_server_apply(rack->dhcp, l, apply_why, sizeof(apply_why));
	if (rc < 0) {
		dhcp_loaded_free(l); /* still ours on failure */
		snprintf(why, why_len, "dhcp: %s", apply_why);
		return rc;
	}
	if (l)
		log_info("dhcp: config version %llu: %zu interface%s, %zu subnet%s, %zu reservation%s",
			 (unsigned long long)version, n_ifaces, n_ifaces == 1 ? "" : "s", subnets,
			 subnets == 1 ? "" : "s", hosts, hosts == 1 ? "" : "s");
	else
		log_info("dhcp: config version %llu: DHCP disabled", (unsigned long long)version);
	return 0;
}

/* Applied in the check: a config the rack cannot serve (an interface it
 * cannot open) is refused before it is stored, and the old one keeps
 * serving. */
static int glue_config_check(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void **ret_state, char *msg,
			     size_t msg_len)
{
	int rc = rack_dhcp_apply(rack, cfg->dhcp, cfg->version, msg, msg_len);
	if (rc >= 0)
		return RPC_OK;
	return rc == -EINVAL ? RPC_INVALID_ARGUMENT : rc == -ENOMEM ? RPC_INTERNAL : RPC_FAILED_PRECONDITION;
}

static void glue_config_commit(struct rack *rack, const Ironrack__V1__RackConfig *cfg, void *state)
{
}

const struct rack_config_part rack_dhcp_config_part = {
    .name = "dhcp",
    .check = glue_config_check,
    .commit = glue_config_commit,
};

/* ---- the service ---- */

int rack_dhcp_lease_dir(const struct rack *rack, char *dir, size_t len)
{
	if (rack->conf.dhcp_dir[0] && rack->conf.dhcp_dir[0] != '/') {
		log_err("dhcp_dir '%s' must be an absolute path", rack->conf.dhcp_dir);
		return -EINVAL;
	}
	if (rack->conf.dhcp_dir[0])
		snprintf(dir, len, "%s", rack->conf.dhcp_dir);
	else
		snprintf(dir, len, "%s/dhcp", rack->conf.state_dir);
	return 0;
}

static int glue_lease_dir(const struct rack *rack, char *dir, size_t len)
{
	int rc = rack_dhcp_lease_dir(rack, dir, len);
	if (rc < 0)
		return rc;
	rc = fs_mkdir_p(dir, 0700);
	if (rc < 0)
		log_err("dhcp: cannot create %s: %s", dir, strerror(-rc));
	return rc;
}

static void glue_serve_stored(struct rack *rack)
{
	Ironrack__V1__RackConfig *cfg = NULL;
	int rc = rack_store_read(rack, &cfg);
	if (rc == -ENOENT) {
		log_info("dhcp: no stored config: serving no DHCP until the region sends one");
		return;
	}
	if (rc < 0) {
		log_err("dhcp: cannot read the stored config: %s; serving no DHCP until the region sends one",
			strerror(-rc));
		return;
	}
	char why[512];
	if (rack_dhcp_apply(rack, cfg->dhcp, cfg->version, why, sizeof(why)) < 0)
		log_err("dhcp: stored config version %llu is not served: %s", (unsigned long long)cfg->version, why);
	ironrack__v1__rack_config__free_unpacked(cfg, NULL);
}

/* Like the boot service, DHCP does not wait for the region: it serves the
 * stored config, so a restarted rack serves with the region down. */
int rack_dhcp_start(struct rack *rack)
{
	char dir[PATH_MAX];
	int rc = glue_lease_dir(rack, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	if (rack->conf.netns[0]) {
		rack->dhcp_nsfd = netns_open(rack->conf.netns);
		if (rack->dhcp_nsfd < 0) {
			rc = rack->dhcp_nsfd;
			rack->dhcp_nsfd = -1;
			log_err("dhcp: cannot open network namespace '%s': %s", rack->conf.netns, strerror(-rc));
			return rc;
		}
	}
	rc = dhcp_report_new(rack->base, NULL, &glue_report_ops, rack, &rack->report);
	if (rc < 0) {
		log_err("dhcp: cannot set up lease reports: %s", strerror(-rc));
		return rc;
	}
	struct dhcp_server_conf sc = {
	    .lease_dir = dir,
	    .nsfd = rack->dhcp_nsfd,
	    .probe_timeout_ms = rack->conf.dhcp_probe_timeout,
	    .commit_interval_us = rack->conf.dhcp_commit_interval * 1000,
	    .rx_coalesce_us = rack->conf.dhcp_rx_coalesce,
	    .ha_mclt_s = rack->conf.ha_mclt_s,
	};
	rc = dhcp_server_new(rack->base, &sc, &glue_server_ops, rack, &rack->dhcp);
	if (rc < 0) {
		log_err("dhcp: cannot start the DHCP server (lease store %s): %s", dir, strerror(-rc));
		return rc;
	}
	glue_serve_stored(rack);
	return 0;
}

void rack_dhcp_stop(struct rack *rack)
{
	dhcp_server_free(rack->dhcp);
	rack->dhcp = NULL;
	dhcp_report_free(rack->report);
	rack->report = NULL;
	if (rack->dhcp_nsfd >= 0)
		close(rack->dhcp_nsfd);
	rack->dhcp_nsfd = -1;
}
