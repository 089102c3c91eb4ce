/* The DHCP server's config swap (dhcp_server_apply): open what the new
 * config needs while the old one serves, then switch; external DHCP
 * detection is (re)scheduled per interface here. See server.h. */
#include "rack/dhcp/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "rack/dhcp/server_internal.h"

/* ---- external DHCP detection (external.c) ---------------------------------- */

static uint32_t server_ext_interval(void *arg)
{
	const struct dhcp_server *s = arg;
	return s->loaded ? s->loaded->external_probe_interval_s : 0;
}

static bool server_ext_is_own_addr(void *arg, uint32_t addr)
{
	return dhcp_server_is_own_addr(arg, addr);
}

static bool server_ext_warn_allowed(void *arg)
{
	return dhcp_server_warn_allowed(arg);
}

static void server_ext_result(void *arg, const char *ifname, uint16_t vid, uint64_t vlan_id, const uint32_t *servers,
			      size_t n)
{
	struct dhcp_server *s = arg;
	if (s->ops && s->ops->on_external)
		s->ops->on_external(s->arg, ifname, vid, vlan_id, servers, n);
}

static const struct dhcp_ext_ops server_ext_ops = {
    .interval_s = server_ext_interval,
    .is_own_addr = server_ext_is_own_addr,
    .warn_allowed = server_ext_warn_allowed,
    .on_result = server_ext_result,
};

static void server_log_iface(const struct dhcp_iface *ifc, const struct dhcp_sock *sock)
{
	char addr[INET_ADDRSTRLEN] = "none";

	if (sock->local_addr) {
		struct in_addr a = {htonl(sock->local_addr)};
		inet_ntop(AF_INET, &a, addr, sizeof(addr));
	}
	log_info("dhcp: serving %s (vid %u: %zu subnet%s, %zu relayed; address %s)", ifc->name, ifc->vid,
		 ifc->n_subnets, ifc->n_subnets == 1 ? "" : "s", ifc->n_relayed, addr);
}

/* Sockets for the new config, before anything changes. */
struct apply_plan {
	struct dhcp_sock **next;
	bool *opened; /* next[i] is new */
	int *new_arp; /* ARP socket opened for a kept next[i], else -1 */
	int new_icmp;
	size_t n;
};

static void plan_rollback(struct dhcp_server *s, struct apply_plan *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		if (pl->opened[i])
			s->io.sock_free(pl->next[i]);
		if (pl->new_arp[i] >= 0)
			close(pl->new_arp[i]);
	}
	if (pl->new_icmp >= 0)
		close(pl->new_icmp);
}

static int plan_build(struct dhcp_server *s, const struct dhcp_config *cfg, struct apply_plan *pl, char *why,
		      size_t why_len)
{
	bool probe = cfg->probe;

	for (size_t i = 0; i < cfg->n_ifaces; i++) {
		const char *name = cfg->ifaces[i].name;
		struct dhcp_sock *sock = dhcp_server_sock(s, name);
		int r = 0;
		if (sock) {
			pl->next[i] = sock;
			if (probe && sock->arp_fd < 0)
				r = dhcp_sock_open_arp(&s->net, sock, &pl->new_arp[i], why, why_len);
		} else {
			r = s->io.sock_open(&s->net, name, probe, &pl->next[i], why, why_len);
			pl->opened[i] = r == 0;
		}
		pl->n = i + 1;
		if (r < 0)
			return r;
	}
	if (probe && s->probes.icmp_fd < 0) {
		int r = dhcp_probe_icmp_open(&s->probes, &pl->new_icmp);
		if (r < 0) {
			snprintf(why, why_len, "cannot open the ICMP probe socket: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

static void plan_commit(struct dhcp_server *s, struct dhcp_loaded *l, struct apply_plan *pl)
{
	const struct dhcp_config *cfg = l ? &l->cfg : NULL;

	for (size_t i = 0; i < s->n_socks; i++) {
		bool kept = false;
		for (size_t j = 0; j < pl->n && !kept; j++)
			kept = pl->next[j] == s->socks[i];
		if (!kept) {
			log_info("dhcp: no longer serving %s", s->socks[i]->name);
			dhcp_server_forget_sock(s, s->socks[i]);
			s->io.sock_free(s->socks[i]);
		}
	}
	free(s->socks);
	s->socks = pl->next;
	s->n_socks = pl->n;
	pl->next = NULL;
	if (pl->new_icmp >= 0)
		dhcp_probe_icmp_attach(&s->probes, pl->new_icmp);
	for (size_t i = 0; i < s->n_socks; i++) {
		struct dhcp_sock *sock = s->socks[i];
		if (pl->new_arp[i] >= 0)
			dhcp_sock_attach_arp(sock, pl->new_arp[i]);
		if (!cfg->probe)
			dhcp_sock_attach_arp(sock, -1);
		sock->vid = cfg->ifaces[i].vid;
		sock->vlan_id = l->vlan_ids ? l->vlan_ids[i] : 0;
		dhcp_sock_refresh(sock);
		if (l->external_probe_interval_s > 0)
			dhcp_ext_schedule(sock, DHCP_SRV_EXT_FIRST_S, &server_ext_ops, s);
		else
			dhcp_ext_stop(sock);
		server_log_iface(&cfg->ifaces[i], sock);
	}
	if (!cfg->probe)
		dhcp_probe_icmp_attach(&s->probes, -1);
}

int dhcp_server_apply(struct dhcp_server *s, struct dhcp_loaded *cfg, char *why, size_t why_len)
{
	size_t n = cfg ? cfg->cfg.n_ifaces : 0;
	struct apply_plan pl = {.new_icmp = -1};
	int r = -ENOMEM;

	if (why_len)
		why[0] = '\0';
	pl.next = calloc(n + 1, sizeof(*pl.next));
	pl.opened = calloc(n + 1, sizeof(*pl.opened));
	pl.new_arp = malloc((n + 1) * sizeof(*pl.new_arp));
	if (!pl.next || !pl.opened || !pl.new_arp) {
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		pl.new_arp[i] = -1;
	if (cfg) {
		r = plan_build(s, &cfg->cfg, &pl, why, why_len);
		if (r < 0) {
			plan_rollback(s, &pl);
			log_warn("dhcp: config %llu not applied: %s", (unsigned long long)cfg->cfg.version, why);
			goto out;
		}
		plan_commit(s, cfg, &pl);
	} else {
		for (size_t i = 0; i < s->n_socks; i++) {
			dhcp_server_forget_sock(s, s->socks[i]);
			s->io.sock_free(s->socks[i]);
		}
		s->n_socks = 0;
		dhcp_probe_icmp_attach(&s->probes, -1);
		log_info("dhcp: not serving any interface");
	}
	struct dhcp_loaded *old = s->loaded;
	s->loaded = cfg;
	dhcp_loaded_free(old);
	dhcp_server_ha_applied(s);
	if (cfg)
		log_info("dhcp: config %llu applied (%zu interface%s, probe %s, external detection %s)",
			 (unsigned long long)cfg->cfg.version, n, n == 1 ? "" : "s", cfg->cfg.probe ? "on" : "off",
			 cfg->external_probe_interval_s ? "on" : "off");
	r = 0;
out:
	free(pl.next);
	free(pl.opened);
	free(pl.new_arp);
	return r;
}
