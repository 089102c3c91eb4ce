/* The scan targets of a DhcpConfig (its interfaces' DiscoveryScan lists),
 * checked at the boundary; see scan.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/net.h"
#include "common/util.h"
#include "rack/discovery/scan.h"

static uint32_t v4_of(const struct ipaddr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 | (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

static int parse_v4(const char *s, uint32_t *ret)
{
	struct ipaddr a;
	if (!s || ipaddr_parse(s, &a) < 0 || a.family != AF_INET)
		return -1;
	*ret = v4_of(&a);
	return 0;
}

/* One DiscoveryScan as a target; NULL or the reason it is refused. */
static const char *target_from(const char *ifname, const Ironrack__V1__DiscoveryScan *d, struct scan_target *t)
{
	struct ipprefix p;
	memset(t, 0, sizeof(*t));
	if (!ifname || !ifname[0] || strlen(ifname) >= sizeof(t->ifname))
		return "bad interface name";
	if (!d->cidr || ipprefix_parse(d->cidr, true, &p) < 0 || p.addr.family != AF_INET)
		return "not an IPv4 CIDR";
	if (p.len < SCAN_PREFIX_MIN)
		return "wider than /16";
	if (d->subnet_id == 0)
		return "no subnet id";
	strcpy(t->ifname, ifname);
	t->subnet_id = d->subnet_id;
	t->prefix = p.len;
	t->net = v4_of(&p.addr); /* strict: host bits are clear */
	t->interval_s = d->interval_s;
	if (parse_v4(d->source, &t->source) < 0 || (t->source & ipv4_netmask(p.len)) != t->net)
		return "source address not in the subnet";
	for (size_t i = 0; i < d->n_own; i++) {
		uint32_t a;
		if (parse_v4(d->own[i], &a) < 0)
			return "bad own address";
		if ((a & ipv4_netmask(p.len)) != t->net || a == t->source)
			continue; /* outside it, or the source: nothing to skip */
		if (t->n_own == SCAN_OWN_MAX)
			return "too many own addresses";
		t->own[t->n_own++] = a;
	}
	return NULL;
}

size_t scan_targets_from_dhcp(const Ironrack__V1__DhcpConfig *dhcp, struct scan_target **ret, size_t *ret_skipped,
			      char *why, size_t why_len)
{
	size_t n = 0, skipped = 0, cap = 0;
	struct scan_target *out = NULL;

	*ret = NULL;
	if (why_len)
		why[0] = '\0';
	for (size_t i = 0; dhcp && dhcp->enabled && i < dhcp->n_interfaces; i++) {
		const Ironrack__V1__DhcpInterface *in = dhcp->interfaces[i];
		for (size_t k = 0; k < in->n_scans; k++) {
			const Ironrack__V1__DiscoveryScan *d = in->scans[k];
			struct scan_target t;
			const char *bad = n == SCAN_TARGETS_MAX ? "too many subnets" : target_from(in->name, d, &t);
			for (size_t j = 0; !bad && j < n; j++) {
				if (out[j].subnet_id == t.subnet_id)
					bad = "listed twice";
			}
			if (bad) {
				if (!skipped++ && why_len)
					snprintf(why, why_len, "subnet %llu (%s) on %s: %s",
						 (unsigned long long)d->subnet_id, d->cidr ? d->cidr : "",
						 in->name ? in->name : "", bad);
				continue;
			}
			if (n == cap) {
				cap = cap ? 2 * cap : 8;
				out = xreallocarray(out, cap, sizeof(*out));
			}
			out[n++] = t;
		}
	}
	*ret = out;
	*ret_skipped = skipped;
	return n;
}
