/* Building OFFER / ACK / NAK messages: header fields, options by scope,
 * PXE boot information, option order, and where the reply goes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rack/dhcp/engine_internal.h"

#define CHECK(expr)                                                                                                    \
	do {                                                                                                           \
		int rc_ = (expr);                                                                                      \
		if (rc_ < 0)                                                                                           \
			return rc_;                                                                                    \
	} while (0)

static int set_ips_host(struct dhcp4_msg *m, uint8_t code, const uint32_t *ips, size_t n)
{
	uint32_t net[64];
	if (n == 0)
		return 0;
	if (n > 63)
		n = 63;
	for (size_t i = 0; i < n; i++)
		net[i] = htonl(ips[i]);
	return dhcp4_msg_set_ips(m, code, net, n);
}

/* from_snippet[code]: the option's value came from a snippet (it is left
 * out first when the reply does not fit). */
static int set_snippets(struct dhcp4_msg *m, const struct dhcp_snippets *sn, bool from_snippet[256])
{
	for (size_t i = 0; i < sn->n; i++) {
		CHECK(dhcp4_msg_option_set(m, sn->v[i].code, sn->v[i].data, sn->v[i].len));
		from_snippet[sn->v[i].code] = true;
	}
	return 0;
}

/* Option 121. RFC 3442: a client that gets 121 ignores option 3, so the
 * default route through the router goes into 121 too. */
static int set_routes(struct dhcp4_msg *m, const struct dhcp_subnet *s)
{
	struct dhcp4_route r[51];
	uint8_t buf[51 * 9];
	size_t n = 0;

	if (s->n_routes == 0)
		return 0;
	for (size_t i = 0; i < s->n_routes && n < 50; i++, n++) {
		r[n].dest = htonl(s->routes[i].dest);
		r[n].prefix_len = s->routes[i].prefix_len;
		r[n].gateway = htonl(s->routes[i].gateway);
	}
	if (s->router) {
		r[n].dest = 0;
		r[n].prefix_len = 0;
		r[n].gateway = htonl(s->router);
		n++;
	}
	int len = dhcp4_routes_encode(r, n, buf, sizeof(buf));
	if (len < 0)
		return len;
	return dhcp4_msg_option_set(m, DHCP4_OPT_CLASSLESS_ROUTES, buf, (size_t)len);
}

static void fmt_ip(uint32_t a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

/* PXE: next-server, boot file and the option 60 echo.
 *   - iPXE (user class "iPXE") gets its script over HTTP, so it does not
 *     chain-load iPXE again (the loop);
 *   - otherwise the file for the option 93 architecture (BIOS when absent);
 *     an HTTP entry (UEFI HTTP boot) becomes a URL and option 60 says
 *     "HTTPClient", as the UEFI spec requires for the client to accept it;
 *   - an architecture disabled on the subnet, or without a file, gets an
 *     address and no boot information. */
static int set_pxe(const struct dhcp_config *cfg, const struct dhcp4_msg *req, const struct dhcp_grant *g,
		   struct dhcp4_msg *m)
{
	const struct dhcp_pxe *pxe = &cfg->pxe;
	uint16_t port = pxe->http_port ? pxe->http_port : DHCP_HTTP_BOOT_PORT;
	bool http_client = dhcp4_msg_vendor_class_has_prefix(req, "HTTPClient");
	bool pxe_client = dhcp4_msg_vendor_class_has_prefix(req, "PXEClient");
	char file[DHCP4_FILE_LEN + 1], srv[16];
	uint16_t arch = DHCP4_ARCH_BIOS;
	bool http;

	if (!pxe->enabled || (!http_client && !pxe_client && !dhcp4_msg_has_option(req, DHCP4_OPT_CLIENT_ARCH)))
		return 0;
	fmt_ip(g->server_id, srv);
	if (dhcp4_msg_has_user_class(req, "iPXE")) {
		char mac[18];
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", req->chaddr[0], req->chaddr[1],
			 req->chaddr[2], req->chaddr[3], req->chaddr[4], req->chaddr[5]);
		snprintf(file, sizeof(file), "http://%s:%u/ipxe/%s.ipxe", srv, port, mac);
		http = true;
	} else {
		uint16_t arches[4];
		if (dhcp4_msg_client_arch(req, arches, 4) > 0)
			arch = arches[0];
		if (dhcp_subnet_arch_disabled(g->subnet, arch))
			return 0;
		const struct dhcp_boot_file *bf = dhcp_pxe_boot_file(pxe, arch);
		if (!bf)
			return 0;
		http = bf->http || http_client;
		if (http)
			snprintf(file, sizeof(file), "http://%s:%u/%s", srv, port, bf->file);
		else
			snprintf(file, sizeof(file), "%s", bf->file);
	}
	memset(m->file, 0, sizeof(m->file));
	memcpy(m->file, file, strlen(file));
	m->siaddr = htonl(g->server_id);
	if (http_client)
		CHECK(dhcp4_msg_set_string(m, DHCP4_OPT_VENDOR_CLASS, "HTTPClient"));
	else if (pxe_client)
		CHECK(dhcp4_msg_set_string(m, DHCP4_OPT_VENDOR_CLASS, "PXEClient"));
	if (dhcp4_msg_requests(req, DHCP4_OPT_TFTP_SERVER) && !http)
		CHECK(dhcp4_msg_set_string(m, DHCP4_OPT_TFTP_SERVER, srv));
	if (dhcp4_msg_requests(req, DHCP4_OPT_BOOTFILE))
		CHECK(dhcp4_msg_set_string(m, DHCP4_OPT_BOOTFILE, file));
	return 0;
}

/* Order: message type, server id, lease times; then what the client asked
 * for in its parameter request list, in its order (some PXE ROMs and old
 * clients read only what comes early); then the rest as built; option 82
 * last (RFC 3046: relay agents look for it at the end). Stable. */
static unsigned option_rank(const struct dhcp4_msg *req, uint8_t code, size_t built_pos)
{
	static const uint8_t head[] = {DHCP4_OPT_MSG_TYPE, DHCP4_OPT_SERVER_ID, DHCP4_OPT_LEASE_TIME,
				       DHCP4_OPT_RENEWAL_TIME, DHCP4_OPT_REBINDING_TIME};
	size_t prl_len;
	const uint8_t *prl = dhcp4_msg_param_list(req, &prl_len);

	for (size_t i = 0; i < sizeof(head); i++)
		if (code == head[i])
			return (unsigned)i;
	if (code == DHCP4_OPT_RELAY_INFO)
		return 100000;
	for (size_t i = 0; prl && i < prl_len; i++)
		if (prl[i] == code)
			return 10 + (unsigned)i;
	return 1000 + (unsigned)built_pos;
}

static void order_options(const struct dhcp4_msg *req, struct dhcp4_msg *m)
{
	unsigned rank[DHCP4_OPTIONS_MAX];
	for (size_t i = 0; i < m->n_options; i++)
		rank[i] = option_rank(req, m->options[i].code, i);
	for (size_t i = 1; i < m->n_options; i++) {
		struct dhcp4_option o = m->options[i];
		unsigned r = rank[i];
		size_t j = i;
		for (; j > 0 && rank[j - 1] > r; j--) {
			m->options[j] = m->options[j - 1];
			rank[j] = rank[j - 1];
		}
		m->options[j] = o;
		rank[j] = r;
	}
}

/* RFC 2131 4.1, RFC 3046. A client on our link that has an address
 * (RENEWING, INFORM) is answered at layer 2 too, at its chaddr: the
 * kernel's neighbour entry for ciaddr may still name the address's
 * previous holder. */
static void set_dest(const struct dhcp4_msg *req, uint8_t type, bool on_link, struct dhcp_decision *ret)
{
	const struct dhcp4_msg *m = &ret->reply;

	ret->max_size = dhcp4_msg_reply_max_size(req);
	ret->dest_port = DHCP4_CLIENT_PORT;
	if (req->giaddr) {
		ret->dest = DHCP_DEST_RELAY;
		ret->dest_addr = ntohl(req->giaddr);
		ret->dest_port = DHCP4_SERVER_PORT;
	} else if (type == DHCP4_NAK) {
		ret->dest = DHCP_DEST_BROADCAST;
		ret->dest_addr = 0xffffffffu;
	} else if (req->ciaddr) {
		ret->dest = on_link ? DHCP_DEST_CHADDR : DHCP_DEST_CIADDR;
		ret->dest_addr = ntohl(req->ciaddr);
	} else if ((req->flags & DHCP4_FLAG_BROADCAST) || m->yiaddr == 0) {
		ret->dest = DHCP_DEST_BROADCAST;
		ret->dest_addr = 0xffffffffu;
	} else {
		ret->dest = DHCP_DEST_CHADDR;
		ret->dest_addr = ntohl(m->yiaddr);
	}
}

static int echo_relay_info(const struct dhcp4_msg *req, struct dhcp4_msg *m)
{
	size_t len;
	const uint8_t *rai = dhcp4_msg_option(req, DHCP4_OPT_RELAY_INFO, &len);
	if (!rai || !req->giaddr)
		return 0;
	return dhcp4_msg_option_set(m, DHCP4_OPT_RELAY_INFO, rai, len);
}

/* RFC 6842 3: a server MUST return option 61, unaltered, in its reply
 * when the client sent one (a client may drop replies without it). */
static int echo_client_id(const struct dhcp4_msg *req, struct dhcp4_msg *m)
{
	size_t len;
	const uint8_t *id = dhcp4_msg_option(req, DHCP4_OPT_CLIENT_ID, &len);
	return id ? dhcp4_msg_option_set(m, DHCP4_OPT_CLIENT_ID, id, len) : 0;
}

/* ---- fitting the client's maximum message size ----
 *
 * RFC 2131 4.3.1: what does not fit is left out, not the whole reply.
 * Classes, most important first: what the protocol needs (type, server
 * id, lease time, the echoed client id and relay information); what the
 * client asked for, in its parameter request list's order; the server's
 * other options as built; snippets the client did not ask for. Within
 * that order each option is kept if it still fits with everything kept
 * before it, so one huge option does not push out the small ones after
 * it. */

static bool option_required(uint8_t code)
{
	return code == DHCP4_OPT_MSG_TYPE || code == DHCP4_OPT_SERVER_ID || code == DHCP4_OPT_LEASE_TIME ||
	       code == DHCP4_OPT_CLIENT_ID || code == DHCP4_OPT_RELAY_INFO || code == DHCP4_OPT_MESSAGE;
}

static unsigned fit_rank(const struct dhcp4_msg *req, uint8_t code, size_t built_pos, const bool from_snippet[256])
{
	size_t prl_len;
	const uint8_t *prl = dhcp4_msg_param_list(req, &prl_len);

	if (option_required(code))
		return 0;
	for (size_t i = 0; prl && i < prl_len; i++)
		if (prl[i] == code)
			return 1 + (unsigned)i;
	return (from_snippet[code] ? 2000u : 1000u) + (unsigned)built_pos;
}

static void fit_select(struct dhcp4_msg *m, const struct dhcp4_option *all, size_t n, const bool *keep)
{
	m->n_options = 0;
	for (size_t i = 0; i < n; i++)
		if (keep[i])
			m->options[m->n_options++] = all[i];
}

/* Keep the options of m that fit max_size (m's order stays). Returns how
 * many were left out; -EMSGSIZE if even the required ones do not fit. */
static int fit_reply(const struct dhcp4_msg *req, struct dhcp4_msg *m, size_t max_size, const bool from_snippet[256])
{
	struct dhcp4_option all[DHCP4_OPTIONS_MAX];
	unsigned rank[DHCP4_OPTIONS_MAX];
	bool keep[DHCP4_OPTIONS_MAX];
	size_t order[DHCP4_OPTIONS_MAX], k = 0, n = m->n_options;
	int left_out = 0;

	if (dhcp4_msg_encoded_len(m, max_size) >= 0)
		return 0;
	memcpy(all, m->options, n * sizeof(all[0]));
	for (size_t i = 0; i < n; i++) {
		rank[i] = fit_rank(req, all[i].code, i, from_snippet);
		keep[i] = rank[i] == 0;
		if (!keep[i]) {
			size_t j = k++;
			for (; j > 0 && rank[order[j - 1]] > rank[i]; j--)
				order[j] = order[j - 1];
			order[j] = i;
		}
	}
	/* Left-out values stay in the arena, unreferenced: the encoder
	 * writes only listed options. */
	fit_select(m, all, n, keep);
	if (dhcp4_msg_encoded_len(m, max_size) < 0)
		return -EMSGSIZE;
	for (size_t j = 0; j < k; j++) {
		keep[order[j]] = true;
		fit_select(m, all, n, keep);
		if (dhcp4_msg_encoded_len(m, max_size) < 0) {
			keep[order[j]] = false;
			left_out++;
		}
	}
	fit_select(m, all, n, keep);
	return left_out;
}

static int set_lease_options(const struct dhcp_grant *g, struct dhcp4_msg *m)
{
	if (!g->lease_time)
		return 0;
	CHECK(dhcp4_msg_set_u32(m, DHCP4_OPT_LEASE_TIME, g->lease_time));
	CHECK(dhcp4_msg_set_u32(m, DHCP4_OPT_RENEWAL_TIME, g->lease_time / 2));
	return dhcp4_msg_set_u32(m, DHCP4_OPT_REBINDING_TIME, (uint32_t)((uint64_t)g->lease_time * 7 / 8));
}

static int set_subnet_options(const struct dhcp_subnet *s, struct dhcp4_msg *m)
{
	uint32_t rtr = s->router;
	CHECK(dhcp4_msg_set_ip(m, DHCP4_OPT_SUBNET_MASK, htonl(dhcp_subnet_mask(s))));
	CHECK(set_ips_host(m, DHCP4_OPT_ROUTER, &rtr, rtr ? 1 : 0));
	CHECK(set_ips_host(m, DHCP4_OPT_DNS, s->dns, s->n_dns));
	if (s->domain)
		CHECK(dhcp4_msg_set_string(m, DHCP4_OPT_DOMAIN_NAME, s->domain));
	if (s->mtu && s->mtu != DHCP_MTU_DEFAULT)
		CHECK(dhcp4_msg_set_u16(m, DHCP4_OPT_MTU, s->mtu));
	CHECK(dhcp4_msg_set_ip(m, DHCP4_OPT_BROADCAST, htonl(dhcp_subnet_broadcast(s))));
	CHECK(set_ips_host(m, DHCP4_OPT_NTP, s->ntp, s->n_ntp));
	return set_routes(m, s);
}

int dhcp_reply_build(const struct dhcp_config *cfg, const struct dhcp4_msg *req, const struct dhcp_client *c,
		     const struct dhcp_grant *g, uint8_t type, struct dhcp_decision *ret)
{
	struct dhcp4_msg *m = &ret->reply;

	dhcp4_msg_reply_init(m, req, type);
	m->yiaddr = htonl(g->yiaddr);
	if (type == DHCP4_ACK)
		m->ciaddr = req->ciaddr;
	CHECK(dhcp4_msg_set_ip(m, DHCP4_OPT_SERVER_ID, htonl(g->server_id)));
	CHECK(set_lease_options(g, m));
	CHECK(set_subnet_options(g->subnet, m));
	if (g->host && g->host->hostname)
		CHECK(dhcp4_msg_set_string(m, DHCP4_OPT_HOSTNAME, g->host->hostname));
	CHECK(set_pxe(cfg, req, g, m));
	/* Narrowest scope last, so it replaces what wider scopes and the
	 * built-in options set (same code keeps its place, new value). */
	bool from_snippet[256] = {false};
	CHECK(set_snippets(m, &cfg->snippets, from_snippet));
	CHECK(set_snippets(m, &g->subnet->snippets, from_snippet));
	if (g->range)
		CHECK(set_snippets(m, &g->range->snippets, from_snippet));
	if (g->host)
		CHECK(set_snippets(m, &g->host->snippets, from_snippet));
	CHECK(echo_client_id(req, m));
	CHECK(echo_relay_info(req, m));
	order_options(req, m);
	set_dest(req, type, g->on_link, ret);
	int left_out = fit_reply(req, m, ret->max_size, from_snippet);
	if (left_out < 0)
		return left_out;
	ret->n_left_out = (unsigned)left_out;
	return 0;
}

int dhcp_reply_nak(const struct dhcp4_msg *req, uint32_t server_id, const char *why, struct dhcp_decision *ret)
{
	struct dhcp4_msg *m = &ret->reply;

	dhcp4_msg_reply_init(m, req, DHCP4_NAK);
	/* RFC 2131 4.3.2: a NAK through a relay carries the broadcast bit, so
	 * the relay broadcasts it (the client has no address to unicast to). */
	if (req->giaddr)
		m->flags |= DHCP4_FLAG_BROADCAST;
	CHECK(dhcp4_msg_set_ip(m, DHCP4_OPT_SERVER_ID, htonl(server_id)));
	CHECK(dhcp4_msg_set_string(m, DHCP4_OPT_MESSAGE, why));
	CHECK(echo_client_id(req, m));
	CHECK(echo_relay_info(req, m));
	set_dest(req, DHCP4_NAK, false, ret);
	ret->reason = why;
	return DHCP_NAK;
}
