#include "rack/dhcp/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- lookups ---- */

uint32_t dhcp_subnet_mask(const struct dhcp_subnet *s)
{
	return s->prefix_len == 0 ? 0 : ~(uint32_t)0 << (32 - s->prefix_len);
}

uint32_t dhcp_subnet_broadcast(const struct dhcp_subnet *s)
{
	return s->network | ~dhcp_subnet_mask(s);
}

bool dhcp_subnet_contains(const struct dhcp_subnet *s, uint32_t addr)
{
	return (addr & dhcp_subnet_mask(s)) == s->network;
}

const struct dhcp_range *dhcp_subnet_range_of(const struct dhcp_subnet *s, uint32_t addr)
{
	for (size_t i = 0; i < s->n_ranges; i++)
		if (addr >= s->ranges[i].first && addr <= s->ranges[i].last)
			return &s->ranges[i];
	return NULL;
}

const struct dhcp_host *dhcp_subnet_host_by_mac(const struct dhcp_subnet *s, const uint8_t mac[6])
{
	for (size_t i = 0; i < s->n_hosts; i++)
		if (memcmp(s->hosts[i].mac, mac, 6) == 0)
			return &s->hosts[i];
	return NULL;
}

const struct dhcp_host *dhcp_subnet_host_by_addr(const struct dhcp_subnet *s, uint32_t addr)
{
	for (size_t i = 0; i < s->n_hosts; i++)
		if (s->hosts[i].addr == addr)
			return &s->hosts[i];
	return NULL;
}

bool dhcp_subnet_arch_disabled(const struct dhcp_subnet *s, uint16_t arch)
{
	for (size_t i = 0; i < s->n_disabled_arches; i++)
		if (s->disabled_arches[i] == arch)
			return true;
	return false;
}

const struct dhcp_iface *dhcp_config_iface(const struct dhcp_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_ifaces; i++)
		if (strcmp(cfg->ifaces[i].name, name) == 0)
			return &cfg->ifaces[i];
	return NULL;
}

const struct dhcp_subnet *dhcp_iface_subnet_of(const struct dhcp_iface *ifc, uint32_t addr)
{
	for (size_t i = 0; i < ifc->n_subnets; i++)
		if (dhcp_subnet_contains(&ifc->subnets[i], addr))
			return &ifc->subnets[i];
	return NULL;
}

const struct dhcp_subnet *dhcp_config_subnet_of(const struct dhcp_config *cfg, uint32_t addr)
{
	for (size_t i = 0; i < cfg->n_ifaces; i++) {
		const struct dhcp_iface *ifc = &cfg->ifaces[i];
		const struct dhcp_subnet *s = dhcp_iface_subnet_of(ifc, addr);
		if (s)
			return s;
		for (size_t j = 0; j < ifc->n_relayed; j++)
			if (dhcp_subnet_contains(&ifc->relayed[j], addr))
				return &ifc->relayed[j];
	}
	return NULL;
}

const struct dhcp_boot_file *dhcp_pxe_boot_file(const struct dhcp_pxe *pxe, uint16_t arch)
{
	for (size_t i = 0; i < pxe->n_files; i++)
		if (pxe->files[i].arch == arch)
			return &pxe->files[i];
	return NULL;
}

uint32_t dhcp_config_lease_time(const struct dhcp_config *cfg, const struct dhcp_subnet *s)
{
	if (s && s->lease_time)
		return s->lease_time;
	return cfg->lease_time ? cfg->lease_time : DHCP_DEFAULT_LEASE_TIME;
}

uint32_t dhcp_config_pxe_lease_time(const struct dhcp_config *cfg)
{
	return cfg->pxe.lease_time ? cfg->pxe.lease_time : DHCP_PXE_LEASE_TIME;
}

uint32_t dhcp_config_offer_hold(const struct dhcp_config *cfg)
{
	return cfg->offer_hold ? cfg->offer_hold : DHCP_DEFAULT_OFFER_HOLD;
}

uint32_t dhcp_config_quarantine_time(const struct dhcp_config *cfg)
{
	return cfg->quarantine_time ? cfg->quarantine_time : DHCP_DEFAULT_QUARANTINE;
}

/* ---- validation ---- */

struct vctx {
	char *why;
	size_t len;
};

__attribute__((format(printf, 2, 3))) static int fail(struct vctx *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->why, v->len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Dotted quad into a small buffer; several per message, so the caller
 * passes distinct buffers. */
static const char *ip(uint32_t a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
	return buf;
}

/* Codes the engine writes or reads itself; a snippet must not fight it. */
static bool is_reserved_code(uint8_t code)
{
	switch (code) {
	case 0:	  /* pad */
	case 255: /* end */
	case 50:  /* requested address */
	case 51:  /* lease time */
	case 52:  /* overload */
	case 53:  /* message type */
	case 54:  /* server id */
	case 55:  /* parameter request list */
	case 57:  /* max message size */
	case 58:  /* T1 */
	case 59:  /* T2 */
	case 61:  /* client id */
	case 82:  /* relay agent information, echoed as received */
		return true;
	default:
		return false;
	}
}

static int check_snippets(struct vctx *v, const struct dhcp_snippets *sn, const char *scope)
{
	for (size_t i = 0; i < sn->n; i++) {
		const struct dhcp_snippet *o = &sn->v[i];
		if (is_reserved_code(o->code))
			return fail(v, "%s snippet: option %u is managed by the DHCP server", scope, o->code);
		if (o->len > DHCP4_SNIPPET_MAX)
			return fail(v, "%s snippet: option %u is %u bytes, more than %u", scope, o->code, o->len,
				    DHCP4_SNIPPET_MAX);
		if (o->len > 0 && !o->data)
			return fail(v, "%s snippet: option %u has no value", scope, o->code);
		for (size_t j = 0; j < i; j++)
			if (sn->v[j].code == o->code)
				return fail(v, "%s snippet: option %u given twice", scope, o->code);
	}
	return 0;
}

/* RFC 1123 host label(s): letters, digits, '-', '.'; no leading '-' or '.'. */
static bool is_good_hostname(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > DHCP_HOSTNAME_MAX || h[0] == '-' || h[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return false;
	return true;
}

static bool is_good_text(const char *t, size_t max)
{
	size_t n = strlen(t);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)t[i]))
			return false;
	return true;
}

static int check_ranges(struct vctx *v, const struct dhcp_subnet *s, const char *name)
{
	char a[16], b[16], c[16];
	uint32_t net = s->network, bcast = dhcp_subnet_broadcast(s);

	for (size_t i = 0; i < s->n_ranges; i++) {
		const struct dhcp_range *r = &s->ranges[i];
		if (r->first > r->last)
			return fail(v, "%s: range %s-%s is reversed", name, ip(r->first, a), ip(r->last, b));
		if (!dhcp_subnet_contains(s, r->first) || !dhcp_subnet_contains(s, r->last))
			return fail(v, "%s: range %s-%s is outside the subnet", name, ip(r->first, a), ip(r->last, b));
		if (r->first == net || r->last == bcast)
			return fail(v, "%s: range %s-%s includes the network or broadcast address", name,
				    ip(r->first, a), ip(r->last, b));
		if (s->router && s->router >= r->first && s->router <= r->last)
			return fail(v, "%s: range %s-%s includes the router %s", name, ip(r->first, a), ip(r->last, b),
				    ip(s->router, c));
		if (s->server_addr && s->server_addr >= r->first && s->server_addr <= r->last)
			return fail(v, "%s: range %s-%s includes the rack's address %s", name, ip(r->first, a),
				    ip(r->last, b), ip(s->server_addr, c));
		for (size_t j = 0; j < i; j++) {
			const struct dhcp_range *q = &s->ranges[j];
			if (r->first <= q->last && q->first <= r->last)
				return fail(v, "%s: ranges %s-%s and %s-... overlap", name, ip(q->first, a),
					    ip(q->last, b), ip(r->first, c));
		}
		int rc = check_snippets(v, &r->snippets, name);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int check_hosts(struct vctx *v, const struct dhcp_subnet *s, const char *name)
{
	char a[16];
	for (size_t i = 0; i < s->n_hosts; i++) {
		const struct dhcp_host *h = &s->hosts[i];
		if (!dhcp_subnet_contains(s, h->addr) || h->addr == s->network || h->addr == dhcp_subnet_broadcast(s))
			return fail(v, "%s: reservation %s is not a host address of the subnet", name, ip(h->addr, a));
		if (dhcp_subnet_range_of(s, h->addr))
			return fail(v, "%s: reservation %s is inside a dynamic range", name, ip(h->addr, a));
		if (h->addr == s->router || h->addr == s->server_addr)
			return fail(v, "%s: reservation %s is the router's or the rack's address", name,
				    ip(h->addr, a));
		if (h->hostname && !is_good_hostname(h->hostname))
			return fail(v, "%s: reservation %s has a bad hostname", name, ip(h->addr, a));
		if ((h->mac[0] & 1) || memcmp(h->mac, "\0\0\0\0\0\0", 6) == 0)
			return fail(v, "%s: reservation %s has a multicast or zero MAC", name, ip(h->addr, a));
		for (size_t j = 0; j < i; j++) {
			if (s->hosts[j].addr == h->addr)
				return fail(v, "%s: address %s reserved twice", name, ip(h->addr, a));
			if (memcmp(s->hosts[j].mac, h->mac, 6) == 0)
				return fail(v, "%s: one MAC has two reservations (%s)", name, ip(h->addr, a));
		}
		int rc = check_snippets(v, &h->snippets, name);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int check_subnet(struct vctx *v, const struct dhcp_subnet *s)
{
	char name[24], a[16], b[16];
	snprintf(name, sizeof(name), "%s/%u", ip(s->network, a), s->prefix_len);

	if (s->prefix_len < 8 || s->prefix_len > 30)
		return fail(v, "%s: prefix length must be 8..30", name);
	if (s->network & ~dhcp_subnet_mask(s))
		return fail(v, "%s: host bits set", name);
	if (s->router && !dhcp_subnet_contains(s, s->router))
		return fail(v, "%s: router %s is outside the subnet", name, ip(s->router, b));
	if (s->server_addr && !dhcp_subnet_contains(s, s->server_addr))
		return fail(v, "%s: rack address %s is outside the subnet", name, ip(s->server_addr, b));
	if (s->mtu && s->mtu < 68)
		return fail(v, "%s: MTU %u is below 68", name, s->mtu);
	if ((s->n_dns && !s->dns) || (s->n_ntp && !s->ntp) || (s->n_routes && !s->routes) ||
	    (s->n_ranges && !s->ranges) || (s->n_hosts && !s->hosts) || (s->n_disabled_arches && !s->disabled_arches))
		return fail(v, "%s: list with a count but no entries", name);
	if (s->n_dns > 63 || s->n_ntp > 63 || s->n_routes > 50)
		return fail(v, "%s: too many DNS, NTP servers or routes for one option", name);
	if (s->domain && !is_good_hostname(s->domain))
		return fail(v, "%s: bad domain name", name);
	for (size_t i = 0; i < s->n_routes; i++) {
		const struct dhcp_route *r = &s->routes[i];
		uint32_t m = r->prefix_len == 0 ? 0 : ~(uint32_t)0 << (32 - r->prefix_len);
		if (r->prefix_len > 32 || (r->dest & ~m))
			return fail(v, "%s: route %s/%u has host bits set or a bad length", name, ip(r->dest, a),
				    r->prefix_len);
	}
	int rc = check_ranges(v, s, name);
	if (rc >= 0)
		rc = check_hosts(v, s, name);
	if (rc >= 0)
		rc = check_snippets(v, &s->snippets, name);
	return rc;
}

static bool subnets_overlap(const struct dhcp_subnet *x, const struct dhcp_subnet *y)
{
	unsigned len = x->prefix_len < y->prefix_len ? x->prefix_len : y->prefix_len;
	uint32_t m = len == 0 ? 0 : ~(uint32_t)0 << (32 - len);
	return (x->network & m) == (y->network & m);
}

/* Every subnet of the config, on-link and relayed, through one index. */
static const struct dhcp_subnet *nth_subnet(const struct dhcp_config *cfg, size_t n)
{
	for (size_t i = 0; i < cfg->n_ifaces; i++) {
		const struct dhcp_iface *ifc = &cfg->ifaces[i];
		if (n < ifc->n_subnets)
			return &ifc->subnets[n];
		n -= ifc->n_subnets;
		if (n < ifc->n_relayed)
			return &ifc->relayed[n];
		n -= ifc->n_relayed;
	}
	return NULL;
}

static int check_pxe(struct vctx *v, const struct dhcp_pxe *pxe)
{
	for (size_t i = 0; i < pxe->n_files; i++) {
		const struct dhcp_boot_file *f = &pxe->files[i];
		/* The file field is 128 bytes; a URL goes in option 67 too, but
		 * keep both within the field so every client can use it. */
		if (!f->file || !is_good_text(f->file, 100))
			return fail(v, "PXE: boot file for architecture %u is missing or malformed", f->arch);
		for (size_t j = 0; j < i; j++)
			if (pxe->files[j].arch == f->arch)
				return fail(v, "PXE: two boot files for architecture %u", f->arch);
	}
	return 0;
}

int dhcp_config_validate(const struct dhcp_config *cfg, char *why, size_t why_len)
{
	struct vctx v = {why, why_len};
	int rc;

	if (why_len)
		why[0] = '\0';
	if (cfg->n_ifaces && !cfg->ifaces)
		return fail(&v, "interface list with a count but no entries");
	for (size_t i = 0; i < cfg->n_ifaces; i++) {
		const struct dhcp_iface *ifc = &cfg->ifaces[i];
		if (!ifc->name || !is_good_text(ifc->name, 15))
			return fail(&v, "interface %zu: missing or bad name", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->ifaces[j].name, ifc->name) == 0)
				return fail(&v, "interface %s listed twice", ifc->name);
		if ((ifc->n_subnets && !ifc->subnets) || (ifc->n_relayed && !ifc->relayed))
			return fail(&v, "%s: subnet list with a count but no entries", ifc->name);
	}
	const struct dhcp_subnet *s;
	for (size_t i = 0; (s = nth_subnet(cfg, i)); i++) {
		rc = check_subnet(&v, s);
		if (rc < 0)
			return rc;
		const struct dhcp_subnet *t;
		for (size_t j = 0; j < i && (t = nth_subnet(cfg, j)); j++) {
			if (subnets_overlap(s, t)) {
				char a[16], b[16];
				return fail(&v, "subnets %s/%u and %s/%u overlap", ip(t->network, a), t->prefix_len,
					    ip(s->network, b), s->prefix_len);
			}
		}
	}
	rc = check_snippets(&v, &cfg->snippets, "global");
	if (rc >= 0)
		rc = check_pxe(&v, &cfg->pxe);
	return rc;
}
