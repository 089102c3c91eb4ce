/* The DHCP engine's view of the client: its identity in a request, and
 * which lease records and reservations are its. See engine.h (client
 * identity) and engine_internal.h. */
#include <errno.h>
#include <string.h>

#include "rack/dhcp/engine_internal.h"

/* ---- client identity and lease records ---- */

int dhcp_client_init(const struct dhcp4_msg *req, struct dhcp_client *c)
{
	memset(c, 0, sizeof(*c));
	c->client_id = dhcp4_msg_client_id(req, &c->client_id_len);
	if (c->client_id && (c->client_id_len == 0 || c->client_id_len > LEASE_CLIENT_ID_MAX))
		c->client_id = NULL;
	if (req->hlen >= 1 && req->hlen <= LEASE_HWADDR_MAX && req->htype != 0) {
		c->htype = req->htype;
		c->hlen = req->hlen;
		memcpy(c->chaddr, req->chaddr, req->hlen);
	} else if (!c->client_id) {
		return -ENOENT;
	}
	c->pxe =
	    dhcp4_msg_vendor_class_has_prefix(req, "PXEClient") || dhcp4_msg_vendor_class_has_prefix(req, "HTTPClient");
	return 0;
}

/* Is the client known by its option 61 in subnet s? Only when it sent
 * one and either has no hardware address or s matches client ids (Kea's
 * match-client-id; off by default, see the top of engine.h). */
bool dhcp_client_by_id(const struct dhcp_client *c, const struct dhcp_subnet *s)
{
	return c->client_id && (!c->hlen || (s && s->match_client_id));
}

const struct dhcp_subnet *dhcp_lease_subnet(const struct ctx *x, const struct lease *l)
{
	for (size_t i = 0; i < x->link.n; i++)
		if (dhcp_subnet_contains(&x->link.v[i], l->addr))
			return &x->link.v[i];
	return dhcp_config_subnet_of(x->cfg, l->addr);
}

/* Where client ids are matched, a client without one is its MAC among
 * the records without one: the MAC's other stacks are other clients. */
bool dhcp_lease_is_client(const struct ctx *x, const struct lease *l)
{
	const struct dhcp_client *c = &x->c;
	const struct dhcp_subnet *s = dhcp_lease_subnet(x, l);
	if (dhcp_client_by_id(c, s))
		return l->client_id_len == c->client_id_len &&
		       memcmp(l->client_id, c->client_id, c->client_id_len) == 0;
	if (s && s->match_client_id && l->client_id_len)
		return false;
	return c->hlen && l->hlen == c->hlen && l->htype == c->htype && memcmp(l->chaddr, c->chaddr, c->hlen) == 0;
}

const struct lease *dhcp_client_lease(const struct ctx *x, const struct dhcp_subnet *s)
{
	const struct dhcp_client *c = &x->c;
	if (dhcp_client_by_id(c, s))
		return lease_store_find_client_id(x->store, c->client_id, c->client_id_len, s->id);
	const struct lease *l = lease_store_find_hwaddr(x->store, c->htype, c->hlen, c->chaddr, s->id);
	return l && s->match_client_id && l->client_id_len ? NULL : l;
}

/* A reservation is by Ethernet MAC. */
const struct dhcp_host *dhcp_client_host(const struct ctx *x, const struct dhcp_subnet **ret_s)
{
	if (x->c.htype != DHCP4_HTYPE_ETHER || x->c.hlen != 6)
		return NULL;
	for (size_t i = 0; i < x->link.n; i++) {
		const struct dhcp_host *h = dhcp_subnet_host_by_mac(&x->link.v[i], x->c.chaddr);
		if (h) {
			*ret_s = &x->link.v[i];
			return h;
		}
	}
	return NULL;
}

const struct dhcp_subnet *dhcp_link_subnet_of(const struct link *k, uint32_t addr)
{
	for (size_t i = 0; i < k->n; i++)
		if (dhcp_subnet_contains(&k->v[i], addr))
			return &k->v[i];
	return NULL;
}

/* Does l hold its address against everyone but its own client? A stale
 * offer (past its hold) holds nothing, even before reclaim drops it. */
bool dhcp_lease_holds(const struct lease *l, int64_t now)
{
	switch (l->state) {
	case LEASE_OFFERED:
		return l->expiry > now;
	case LEASE_ACTIVE:
	case LEASE_DECLINED:
	case LEASE_RESERVED:
		return true;
	default:
		return false;
	}
}
