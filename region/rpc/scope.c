/* See scope.h. */
#include "region/rpc/scope.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static bool scope_cidr_parse(const char *s, uint32_t *ret_net, uint32_t *ret_mask)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	struct in_addr a;
	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	char *end;
	long len = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || len < 0 || len > 32 || inet_pton(AF_INET, addr, &a) != 1)
		return false;
	*ret_mask = len == 0 ? 0 : 0xffffffffu << (32 - len);
	*ret_net = ntohl(a.s_addr) & *ret_mask;
	return true;
}

static void scope_add_subnets(struct rack_scope *s, Ironrack__V1__DhcpSubnet *const *subs, size_t n, uint64_t vlan_id)
{
	for (size_t i = 0; i < n; i++) {
		struct rack_scope_subnet sn = {.id = subs[i]->id, .vlan_id = vlan_id};
		if (!scope_cidr_parse(subs[i]->cidr, &sn.net, &sn.mask))
			continue;
		s->subnets[s->n_subnets++] = sn;
	}
}

struct rack_scope *rack_scope_new(const Ironrack__V1__DhcpConfig *cfg, uint64_t version)
{
	struct rack_scope *s = xcalloc(1, sizeof(*s));
	s->version = version;
	if (!cfg || !cfg->enabled)
		return s;
	size_t n_sub = 0;
	for (size_t i = 0; i < cfg->n_interfaces; i++)
		n_sub += cfg->interfaces[i]->n_subnets + cfg->interfaces[i]->n_relayed;
	s->vlans = xcalloc(cfg->n_interfaces ? cfg->n_interfaces : 1, sizeof(*s->vlans));
	s->ifnames = xcalloc(cfg->n_interfaces ? cfg->n_interfaces : 1, sizeof(*s->ifnames));
	s->subnets = xcalloc(n_sub ? n_sub : 1, sizeof(*s->subnets));
	for (size_t i = 0; i < cfg->n_interfaces; i++) {
		const Ironrack__V1__DhcpInterface *in = cfg->interfaces[i];
		s->ifnames[s->n_vlans] = xstrdup(in->name ? in->name : "");
		s->vlans[s->n_vlans++] = in->vlan_id;
		scope_add_subnets(s, in->subnets, in->n_subnets, in->vlan_id);
		scope_add_subnets(s, in->relayed, in->n_relayed, in->vlan_id);
	}
	return s;
}

int rack_scope_from_packed(const uint8_t *data, size_t len, uint64_t version, struct rack_scope **ret)
{
	*ret = NULL;
	if (len == 0) {
		*ret = rack_scope_new(NULL, version);
		return 0;
	}
	Ironrack__V1__DhcpConfig *cfg = ironrack__v1__dhcp_config__unpack(NULL, len, data);
	if (!cfg)
		return -EBADMSG;
	*ret = rack_scope_new(cfg, version);
	ironrack__v1__dhcp_config__free_unpacked(cfg, NULL);
	return 0;
}

void rack_scope_free(struct rack_scope *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->ifnames && i < s->n_vlans; i++)
		free(s->ifnames[i]);
	free(s->ifnames);
	free(s->vlans);
	free(s->subnets);
	free(s);
}

bool rack_scope_has_vlan(const struct rack_scope *const *scopes, size_t n, uint64_t vlan_id)
{
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; scopes[k] && i < scopes[k]->n_vlans; i++) {
			if (scopes[k]->vlans[i] == vlan_id)
				return true;
		}
	}
	return false;
}

static void scope_cidr_format(const struct rack_scope_subnet *sn, char *buf, size_t len)
{
	struct in_addr a = {htonl(sn->net)};
	char net[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, net, sizeof(net));
	snprintf(buf, len, "%s/%d", net, sn->mask ? 32 - __builtin_ctz(sn->mask) : 0);
}

int rack_scope_check_lease(const struct rack_scope *const *scopes, size_t n, uint64_t subnet_id, const char *address,
			   char *why, size_t why_len)
{
	struct in_addr a;
	const struct rack_scope_subnet *named = NULL;
	if (!address || inet_pton(AF_INET, address, &a) != 1) {
		snprintf(why, why_len, "address is not an IPv4 address");
		return -EINVAL;
	}
	uint32_t ip = ntohl(a.s_addr);
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; scopes[k] && i < scopes[k]->n_subnets; i++) {
			const struct rack_scope_subnet *sn = &scopes[k]->subnets[i];
			if (subnet_id && sn->id != subnet_id)
				continue;
			if ((ip & sn->mask) == sn->net)
				return 0;
			if (subnet_id)
				named = sn;
		}
	}
	if (named) {
		char cidr[32];
		scope_cidr_format(named, cidr, sizeof(cidr));
		snprintf(why, why_len, "%s is outside subnet %llu (%s)", address, (unsigned long long)subnet_id, cidr);
	} else if (subnet_id) {
		snprintf(why, why_len, "subnet %llu is unknown or not served by this rack",
			 (unsigned long long)subnet_id);
	} else {
		snprintf(why, why_len, "%s is in no subnet this rack serves", address);
	}
	return -EACCES;
}

int rack_scope_check_neighbour(const struct rack_scope *const *scopes, size_t n, const char *ifname, uint64_t vlan_id,
			       char *why, size_t why_len)
{
	if (vlan_id == 0) {
		snprintf(why, why_len, "%s is not a served interface", ifname ? ifname : "");
		return -ENOENT;
	}
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; scopes[k] && i < scopes[k]->n_vlans; i++) {
			if (scopes[k]->vlans[i] == vlan_id && ifname && strcmp(scopes[k]->ifnames[i], ifname) == 0)
				return 0;
		}
	}
	snprintf(why, why_len, "VLAN %llu is not served by this rack on %s", (unsigned long long)vlan_id,
		 ifname ? ifname : "?");
	return -EACCES;
}
