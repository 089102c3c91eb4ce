/* The region's DhcpConfig (protobuf-c) -> struct dhcp_config, in one arena.
 *
 * Everything the region sends is text or wide integers; here it becomes the
 * engine's host-order integers and bounded fields, strictly: a dotted quad
 * with leading zeros, a CIDR with host bits, an IPv6 address, an
 * architecture above 65535 or an oversized snippet is an error naming the
 * object it belongs to, never silently fixed. What the structs alone can
 * tell (overlaps, ranges vs. reservations, reserved option codes) is left
 * to dhcp_config_validate(), which runs last. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/net.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/dhcp/ha_hash.h"
#include "rack/dhcp/ha_state.h"
#include "rack/dhcp/load.h"

/* ---- arena: a bump allocator over malloc'ed chunks ---- */

#define ARENA_CHUNK 16384

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[]; /* aligned for anything */
};

struct arena {
	struct arena_chunk *head;
};

/* Zeroed memory for n bytes, or NULL (n == 0 or out of memory). */
static void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	if (n == 0)
		return NULL;
	if (n > SIZE_MAX - align)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = calloc(1, sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free(struct arena *a)
{
	if (!a)
		return;
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
}

/* ---- the loader ---- */

struct loader {
	struct arena *arena;
	char *why;
	size_t why_len;
};

/* protobuf-c gives "" for unset strings; hand-built messages may hold NULL. */
static const char *str(const char *s)
{
	return s ? s : "";
}

__attribute__((format(printf, 3, 4))) static int fail(struct loader *ld, const char *where, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ld->why, ld->why_len, "dhcp: %s%s%s", where, where[0] ? ": " : "", msg);
	return -EINVAL;
}

static int nomem(struct loader *ld)
{
	snprintf(ld->why, ld->why_len, "dhcp: out of memory loading the config");
	return -ENOMEM;
}

/* n elements of size, zeroed, in the arena; *ret = NULL for n == 0. */
static int alloc_array(struct loader *ld, size_t n, size_t size, void *ret)
{
	void *p = NULL;
	if (n) {
		if (n > SIZE_MAX / size)
			return nomem(ld);
		p = arena_alloc(ld->arena, n * size);
		if (!p)
			return nomem(ld);
	}
	memcpy(ret, &p, sizeof(p));
	return 0;
}

/* A copy of s in the arena; "" gives NULL when empty_is_null. */
static int copy_str(struct loader *ld, const char *s, bool empty_is_null, const char **ret)
{
	s = str(s);
	if (!s[0] && empty_is_null) {
		*ret = NULL;
		return 0;
	}
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(ld->arena, n);
	if (!p)
		return nomem(ld);
	memcpy(p, s, n);
	*ret = p;
	return 0;
}

static const char *ip_str(uint32_t a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
	return buf;
}

/* A dotted quad (what names it in messages: "router", "address", ...).
 * allow_empty: "" gives 0 (not set). */
static int parse_ip(struct loader *ld, const char *where, const char *what, const char *s, bool allow_empty,
		    uint32_t *ret)
{
	struct ipaddr a;
	s = str(s);
	if (!s[0]) {
		if (allow_empty) {
			*ret = 0;
			return 0;
		}
		return fail(ld, where, "%s is missing", what);
	}
	if (ipaddr_parse(s, &a) < 0)
		return fail(ld, where, "%s '%.64s' is not an IPv4 address", what, s);
	if (a.family != AF_INET)
		return fail(ld, where, "%s %.64s is IPv6; DHCPv4 takes IPv4 addresses only", what, s);
	*ret = (uint32_t)a.bytes[0] << 24 | (uint32_t)a.bytes[1] << 16 | (uint32_t)a.bytes[2] << 8 | a.bytes[3];
	return 0;
}

/* A CIDR with no host bits. */
static int parse_cidr(struct loader *ld, const char *where, const char *what, const char *s, uint32_t *ret_net,
		      uint8_t *ret_len)
{
	struct ipprefix p = {0};
	char norm[IPPREFIX_STRLEN];
	s = str(s);
	if (!s[0])
		return fail(ld, where, "%s is missing", what);
	if (!strchr(s, '/'))
		return fail(ld, where, "%s '%.64s' has no prefix length", what, s);
	int rc = ipprefix_parse(s, true, &p);
	if (p.addr.family == AF_INET6)
		return fail(ld, where, "%s %.64s is IPv6; DHCPv4 takes IPv4 subnets only", what, s);
	if (rc < 0 && p.addr.family == AF_INET && ipprefix_parse(s, false, &p) >= 0)
		return fail(ld, where, "%s %.64s has host bits set (%s?)", what, s,
			    ipprefix_format(&p, norm, sizeof(norm)));
	if (rc < 0 || p.addr.family != AF_INET)
		return fail(ld, where, "%s '%.64s' is not an IPv4 CIDR", what, s);
	*ret_net = (uint32_t)p.addr.bytes[0] << 24 | (uint32_t)p.addr.bytes[1] << 16 | (uint32_t)p.addr.bytes[2] << 8 |
		   p.addr.bytes[3];
	*ret_len = p.len;
	return 0;
}

static int load_snippets(struct loader *ld, const char *where, Ironrack__V1__DhcpOption *const *pb, size_t n,
			 struct dhcp_snippets *ret)
{
	struct dhcp_snippet *v;
	int rc = alloc_array(ld, n, sizeof(*v), &v);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const Ironrack__V1__DhcpOption *o = pb[i];
		if (!o)
			return fail(ld, where, "snippet %zu is missing", i);
		if (o->code > 255)
			return fail(ld, where, "snippet option code %u is not 0..255", o->code);
		if (o->data.len > DHCP4_SNIPPET_MAX)
			return fail(ld, where, "snippet option %u is %zu bytes, more than %u", o->code, o->data.len,
				    DHCP4_SNIPPET_MAX);
		if (o->data.len && !o->data.data)
			return fail(ld, where, "snippet option %u has no data", o->code);
		v[i].code = (uint8_t)o->code;
		v[i].len = (uint16_t)o->data.len;
		if (o->data.len) {
			uint8_t *d = arena_alloc(ld->arena, o->data.len);
			if (!d)
				return nomem(ld);
			memcpy(d, o->data.data, o->data.len);
			v[i].data = d;
		}
	}
	ret->v = v;
	ret->n = n;
	return 0;
}

static int load_addr_list(struct loader *ld, const char *where, const char *what, char *const *pb, size_t n,
			  const uint32_t **ret, size_t *ret_n)
{
	uint32_t *v;
	int rc = alloc_array(ld, n, sizeof(*v), &v);
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = parse_ip(ld, where, what, pb[i], false, &v[i]);
	if (rc < 0)
		return rc;
	*ret = v;
	*ret_n = n;
	return 0;
}

static int load_ranges(struct loader *ld, const char *where, const Ironrack__V1__DhcpSubnet *pb, struct dhcp_subnet *s)
{
	struct dhcp_range *v;
	int rc = alloc_array(ld, pb->n_ranges, sizeof(*v), &v);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < pb->n_ranges; i++) {
		const Ironrack__V1__DhcpRange *r = pb->ranges[i];
		char w[256], a[16], b[16];
		if (!r)
			return fail(ld, where, "range %zu is missing", i);
		snprintf(w, sizeof(w), "%s range %llu", where, (unsigned long long)r->id);
		if (r->id > UINT32_MAX)
			return fail(ld, w, "range id does not fit 32 bits");
		v[i].id = (uint32_t)r->id;
		if ((rc = parse_ip(ld, w, "first address", r->first, false, &v[i].first)) < 0 ||
		    (rc = parse_ip(ld, w, "last address", r->last, false, &v[i].last)) < 0)
			return rc;
		ip_str(v[i].first, a);
		ip_str(v[i].last, b);
		if (v[i].first > v[i].last)
			return fail(ld, where, "range %s-%s is reversed", a, b);
		if (!dhcp_subnet_contains(s, v[i].first) || !dhcp_subnet_contains(s, v[i].last))
			return fail(ld, where, "range %s-%s is outside the subnet", a, b);
		snprintf(w, sizeof(w), "%s range %s-%s", where, a, b);
		rc = load_snippets(ld, w, r->options, r->n_options, &v[i].snippets);
		if (rc < 0)
			return rc;
	}
	s->ranges = v;
	s->n_ranges = pb->n_ranges;
	return 0;
}

static int load_hosts(struct loader *ld, const char *where, const Ironrack__V1__DhcpSubnet *pb, struct dhcp_subnet *s)
{
	struct dhcp_host *v;
	int rc = alloc_array(ld, pb->n_hosts, sizeof(*v), &v);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < pb->n_hosts; i++) {
		const Ironrack__V1__DhcpHost *h = pb->hosts[i];
		char w[256], a[16], m[MAC_STRLEN];
		if (!h)
			return fail(ld, where, "host %zu is missing", i);
		if (mac_parse(str(h->mac), v[i].mac) < 0)
			return fail(ld, where, "host %zu: MAC '%.32s' is not aa:bb:cc:dd:ee:ff", i, str(h->mac));
		snprintf(w, sizeof(w), "%s host %s", where, mac_format(v[i].mac, m, sizeof(m)));
		if ((rc = parse_ip(ld, w, "address", h->address, false, &v[i].addr)) < 0)
			return rc;
		if (!dhcp_subnet_contains(s, v[i].addr))
			return fail(ld, w, "address %s is outside the subnet", ip_str(v[i].addr, a));
		if ((rc = copy_str(ld, h->hostname, true, &v[i].hostname)) < 0 ||
		    (rc = load_snippets(ld, w, h->options, h->n_options, &v[i].snippets)) < 0)
			return rc;
	}
	s->hosts = v;
	s->n_hosts = pb->n_hosts;
	return 0;
}

static int load_routes(struct loader *ld, const char *where, const Ironrack__V1__DhcpSubnet *pb, struct dhcp_subnet *s)
{
	struct dhcp_route *v;
	int rc = alloc_array(ld, pb->n_routes, sizeof(*v), &v);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < pb->n_routes; i++) {
		const Ironrack__V1__DhcpRoute *r = pb->routes[i];
		char w[256];
		if (!r)
			return fail(ld, where, "route %zu is missing", i);
		snprintf(w, sizeof(w), "%s route %.50s", where, str(r->destination));
		if ((rc = parse_cidr(ld, w, "destination", r->destination, &v[i].dest, &v[i].prefix_len)) < 0 ||
		    (rc = parse_ip(ld, w, "gateway", r->gateway, false, &v[i].gateway)) < 0)
			return rc;
	}
	s->routes = v;
	s->n_routes = pb->n_routes;
	return 0;
}

static int load_arches(struct loader *ld, const char *where, const Ironrack__V1__DhcpSubnet *pb, struct dhcp_subnet *s)
{
	uint16_t *v;
	int rc = alloc_array(ld, pb->n_disabled_arches, sizeof(*v), &v);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < pb->n_disabled_arches; i++) {
		if (pb->disabled_arches[i] > 65535)
			return fail(ld, where, "disabled architecture %u is not 0..65535", pb->disabled_arches[i]);
		v[i] = (uint16_t)pb->disabled_arches[i];
	}
	s->disabled_arches = v;
	s->n_disabled_arches = pb->n_disabled_arches;
	return 0;
}

/* ifwhere: "interface eth1"; kind: "subnet" or "relayed subnet". */
static int load_subnet(struct loader *ld, const char *ifwhere, const char *kind, size_t idx,
		       const Ironrack__V1__DhcpSubnet *pb, struct dhcp_subnet *s)
{
	char w[128], a[16];
	int rc;

	if (!pb)
		return fail(ld, ifwhere, "%s %zu is missing", kind, idx);
	snprintf(w, sizeof(w), "%s %s id %llu", ifwhere, kind, (unsigned long long)pb->id);
	if (pb->id > UINT32_MAX)
		return fail(ld, w, "subnet id does not fit 32 bits");
	s->id = (uint32_t)pb->id;
	if ((rc = parse_cidr(ld, w, "CIDR", pb->cidr, &s->network, &s->prefix_len)) < 0)
		return rc;
	snprintf(w, sizeof(w), "%s %s %s/%u", ifwhere, kind, ip_str(s->network, a), s->prefix_len);
	if ((rc = parse_ip(ld, w, "rack address", pb->server_address, true, &s->server_addr)) < 0 ||
	    (rc = parse_ip(ld, w, "router", pb->router, true, &s->router)) < 0)
		return rc;
	if (s->server_addr && !dhcp_subnet_contains(s, s->server_addr))
		return fail(ld, w, "rack address %s is outside the subnet", ip_str(s->server_addr, a));
	if (s->router && !dhcp_subnet_contains(s, s->router))
		return fail(ld, w, "router %s is outside the subnet", ip_str(s->router, a));
	if (pb->mtu > 65535)
		return fail(ld, w, "MTU %u is above 65535", pb->mtu);
	s->mtu = (uint16_t)pb->mtu;
	s->lease_time = pb->lease_time;
	s->match_client_id = pb->match_client_id;
	if ((rc = load_addr_list(ld, w, "DNS server", pb->dns, pb->n_dns, &s->dns, &s->n_dns)) < 0 ||
	    (rc = load_addr_list(ld, w, "NTP server", pb->ntp, pb->n_ntp, &s->ntp, &s->n_ntp)) < 0 ||
	    (rc = copy_str(ld, pb->domain, true, &s->domain)) < 0 || (rc = load_routes(ld, w, pb, s)) < 0 ||
	    (rc = load_ranges(ld, w, pb, s)) < 0 || (rc = load_hosts(ld, w, pb, s)) < 0 ||
	    (rc = load_snippets(ld, w, pb->options, pb->n_options, &s->snippets)) < 0 ||
	    (rc = load_arches(ld, w, pb, s)) < 0)
		return rc;
	return 0;
}

static int load_subnets(struct loader *ld, const char *ifwhere, const char *kind, Ironrack__V1__DhcpSubnet *const *pb,
			size_t n, const struct dhcp_subnet **ret, size_t *ret_n)
{
	struct dhcp_subnet *v;
	int rc = alloc_array(ld, n, sizeof(*v), &v);
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = load_subnet(ld, ifwhere, kind, i, pb[i], &v[i]);
	if (rc < 0)
		return rc;
	*ret = v;
	*ret_n = n;
	return 0;
}

static int load_iface(struct loader *ld, size_t idx, const Ironrack__V1__DhcpInterface *pb, struct dhcp_iface *ifc,
		      uint64_t *ret_vlan_id)
{
	char w[64];
	int rc;

	if (!pb)
		return fail(ld, "", "interface %zu is missing", idx);
	if (!str(pb->name)[0])
		return fail(ld, "", "interface %zu has no name", idx);
	snprintf(w, sizeof(w), "interface %.20s", pb->name);
	if (pb->vid > 4094)
		return fail(ld, w, "VLAN id %u is not 0..4094", pb->vid);
	ifc->vid = (uint16_t)pb->vid;
	*ret_vlan_id = pb->vlan_id;
	if ((rc = copy_str(ld, pb->name, false, &ifc->name)) < 0 ||
	    (rc = load_subnets(ld, w, "subnet", pb->subnets, pb->n_subnets, &ifc->subnets, &ifc->n_subnets)) < 0 ||
	    (rc = load_subnets(ld, w, "relayed subnet", pb->relayed, pb->n_relayed, &ifc->relayed, &ifc->n_relayed)) <
		0)
		return rc;
	return 0;
}

static int load_pxe(struct loader *ld, const Ironrack__V1__DhcpPxe *pb, struct dhcp_pxe *pxe)
{
	if (!pb)
		return 0; /* no PXE section: PXE off */
	pxe->enabled = pb->enabled;
	if (pb->http_port > 65535)
		return fail(ld, "PXE", "HTTP port %u is not 0..65535", pb->http_port);
	pxe->http_port = (uint16_t)pb->http_port;
	pxe->lease_time = pb->lease_time;
	struct dhcp_boot_file *v;
	int rc = alloc_array(ld, pb->n_files, sizeof(*v), &v);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < pb->n_files; i++) {
		const Ironrack__V1__DhcpBootFile *f = pb->files[i];
		if (!f)
			return fail(ld, "PXE", "boot file %zu is missing", i);
		if (f->arch > 65535)
			return fail(ld, "PXE", "boot file %.64s: architecture %u is not 0..65535", str(f->file),
				    f->arch);
		v[i].arch = (uint16_t)f->arch;
		v[i].http = f->http;
		if ((rc = copy_str(ld, f->file, true, &v[i].file)) < 0)
			return rc;
	}
	pxe->files = v;
	pxe->n_files = pb->n_files;
	return 0;
}

/* The HA pair of each served VLAN that has one (docs/dhcp-ha.md). A pair
 * whose VLAN is not served here is the HA service's business only. */
static int load_ha(struct loader *ld, const Ironrack__V1__DhcpConfig *pb, struct dhcp_iface *ifaces,
		   const uint64_t *vlan_ids)
{
	for (size_t i = 0; i < pb->n_ha; i++) {
		const Ironrack__V1__DhcpHaPair *p = pb->ha[i];
		if (!p)
			return fail(ld, "", "HA pair %zu is missing", i);
		for (size_t k = 0; k < pb->n_interfaces; k++) {
			if (vlan_ids[k] != p->vlan_id)
				continue;
			char w[64];
			snprintf(w, sizeof(w), "interface %.20s", ifaces[k].name);
			if (p->role != HA_ROLE_PRIMARY && p->role != HA_ROLE_SECONDARY)
				return fail(ld, w, "HA role %u is not 1 (primary) or 2 (secondary)", p->role);
			if (ifaces[k].ha)
				return fail(ld, w, "VLAN %u has two HA pairs", p->vid);
			if (p->takeover_secs > 65535)
				return fail(ld, w, "HA takeover after %u s is not 0..65535", p->takeover_secs);
			struct dhcp_ha *ha;
			int rc = alloc_array(ld, 1, sizeof(*ha), &ha);
			if (rc < 0)
				return rc;
			*ha = (struct dhcp_ha){
			    .role = (uint8_t)p->role,
			    .takeover_secs = p->takeover_secs ? (uint16_t)p->takeover_secs : DHCP_HA_TAKEOVER_SECS,
			    .state = HA_RECOVER,
			    .mclt_s = DHCP_HA_MCLT,
			    .timeout_s = DHCP_HA_TIMEOUT,
			    .skew_s = DHCP_HA_MAX_SKEW,
			};
			ifaces[k].ha = ha;
		}
	}
	return 0;
}

static int load_all(struct loader *ld, const Ironrack__V1__DhcpConfig *pb, struct dhcp_loaded *l)
{
	struct dhcp_config *cfg = &l->cfg;
	struct dhcp_iface *ifaces;
	int rc = alloc_array(ld, pb->n_interfaces, sizeof(*ifaces), &ifaces);
	if (rc < 0)
		return rc;
	cfg->ifaces = ifaces;
	cfg->n_ifaces = pb->n_interfaces;
	if (pb->n_interfaces) {
		l->vlan_ids = calloc(pb->n_interfaces, sizeof(*l->vlan_ids));
		if (!l->vlan_ids)
			return nomem(ld);
	}
	for (size_t i = 0; i < pb->n_interfaces; i++) {
		rc = load_iface(ld, i, pb->interfaces[i], &ifaces[i], &l->vlan_ids[i]);
		if (rc < 0)
			return rc;
	}
	if ((rc = load_ha(ld, pb, ifaces, l->vlan_ids)) < 0)
		return rc;
	if ((rc = load_snippets(ld, "global", pb->options, pb->n_options, &cfg->snippets)) < 0 ||
	    (rc = load_pxe(ld, pb->pxe, &cfg->pxe)) < 0)
		return rc;
	cfg->lease_time = pb->lease_time;
	cfg->offer_hold = pb->offer_hold;
	cfg->quarantine_time = pb->quarantine_time;
	cfg->probe = pb->probe;
	l->external_probe_interval_s = pb->external_probe_interval_s;

	char vwhy[384];
	rc = dhcp_config_validate(cfg, vwhy, sizeof(vwhy));
	if (rc < 0) {
		snprintf(ld->why, ld->why_len, "dhcp: %s", vwhy);
		return -EINVAL;
	}
	return 0;
}

int dhcp_load(const struct Ironrack__V1__DhcpConfig *pb, uint64_t version, struct dhcp_loaded **ret, char *why,
	      size_t why_len)
{
	char dummy[1];
	struct loader ld = {.why = why_len ? why : dummy, .why_len = why_len ? why_len : sizeof(dummy)};
	ld.why[0] = '\0';
	*ret = NULL;
	if (!pb || !pb->enabled)
		return 0;

	struct dhcp_loaded *l = calloc(1, sizeof(*l));
	ld.arena = calloc(1, sizeof(*ld.arena));
	if (!l || !ld.arena) {
		free(l);
		free(ld.arena);
		return nomem(&ld);
	}
	l->arena = ld.arena;
	l->cfg.version = version;
	int rc = load_all(&ld, pb, l);
	if (rc < 0) {
		dhcp_loaded_free(l);
		return rc;
	}
	*ret = l;
	return 0;
}

void dhcp_loaded_free(struct dhcp_loaded *l)
{
	if (!l)
		return;
	arena_free(l->arena);
	free(l->vlan_ids);
	free(l);
}
