/* The DHCP config a rack serves, built from the network model: the model
 * comes from the database as one JSON document (region/db/dhcp_db.c) and
 * is turned into ironrack.v1.DhcpConfig here, then packed. The same model
 * always packs to the same bytes (every list is in id order), so a rebuild
 * that changes nothing stores no new snapshot. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/wire/dhcp4.h"
#include "region/db/dhcp_db.h"
#include "region/dhcp/internal.h"
#include "region/region.h"

/* Every allocation of one build, freed together once it is packed.
 * Strings are borrowed from the JSON document, which outlives the pack. */
struct dhcp_arena {
	void **ptrs;
	size_t n, cap;
};

static void *arena_alloc(struct dhcp_arena *a, size_t size)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		a->ptrs = xreallocarray(a->ptrs, a->cap, sizeof(*a->ptrs));
	}
	void *p = xcalloc(1, size ? size : 1);
	a->ptrs[a->n++] = p;
	return p;
}

static void arena_free(struct dhcp_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->ptrs[i]);
	free(a->ptrs);
}

static char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return (char *)(s ? s : "");
}

static uint64_t jint(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

static Ironrack__V1__DhcpOption **build_options(struct dhcp_arena *a, json_t *arr, size_t *ret_n)
{
	size_t n = json_array_size(arr), k = 0;
	Ironrack__V1__DhcpOption **out = arena_alloc(a, n * sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		const char *hex = jstr(e, "data");
		size_t len = strlen(hex) / 2;
		uint8_t *data = arena_alloc(a, len);
		if (hex_decode(hex, strlen(hex), data, len) < 0)
			continue;
		Ironrack__V1__DhcpOption *o = arena_alloc(a, sizeof(*o));
		ironrack__v1__dhcp_option__init(o);
		o->code = (uint32_t)jint(e, "code");
		o->data.data = data;
		o->data.len = len;
		out[k++] = o;
	}
	*ret_n = k;
	return out;
}

static char **build_strings(struct dhcp_arena *a, json_t *arr, size_t *ret_n)
{
	size_t n = json_array_size(arr);
	char **out = arena_alloc(a, n * sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		out[i] = (char *)(s ? s : "");
	}
	*ret_n = n;
	return out;
}

static void build_ranges(struct dhcp_arena *a, json_t *arr, Ironrack__V1__DhcpSubnet *s)
{
	s->n_ranges = json_array_size(arr);
	s->ranges = arena_alloc(a, s->n_ranges * sizeof(*s->ranges));
	for (size_t i = 0; i < s->n_ranges; i++) {
		json_t *e = json_array_get(arr, i);
		Ironrack__V1__DhcpRange *g = arena_alloc(a, sizeof(*g));
		ironrack__v1__dhcp_range__init(g);
		g->id = jint(e, "id");
		g->first = jstr(e, "first");
		g->last = jstr(e, "last");
		g->options = build_options(a, json_object_get(e, "options"), &g->n_options);
		s->ranges[i] = g;
	}
}

static void build_hosts(struct dhcp_arena *a, json_t *arr, Ironrack__V1__DhcpSubnet *s)
{
	s->n_hosts = json_array_size(arr);
	s->hosts = arena_alloc(a, s->n_hosts * sizeof(*s->hosts));
	for (size_t i = 0; i < s->n_hosts; i++) {
		json_t *e = json_array_get(arr, i);
		Ironrack__V1__DhcpHost *h = arena_alloc(a, sizeof(*h));
		ironrack__v1__dhcp_host__init(h);
		h->mac = jstr(e, "mac");
		h->address = jstr(e, "address");
		h->hostname = jstr(e, "hostname");
		h->options = build_options(a, json_object_get(e, "options"), &h->n_options);
		s->hosts[i] = h;
	}
}

static void build_routes(struct dhcp_arena *a, json_t *arr, Ironrack__V1__DhcpSubnet *s)
{
	s->n_routes = json_array_size(arr);
	s->routes = arena_alloc(a, s->n_routes * sizeof(*s->routes));
	for (size_t i = 0; i < s->n_routes; i++) {
		json_t *e = json_array_get(arr, i);
		Ironrack__V1__DhcpRoute *rt = arena_alloc(a, sizeof(*rt));
		ironrack__v1__dhcp_route__init(rt);
		rt->destination = jstr(e, "destination");
		rt->gateway = jstr(e, "gateway");
		s->routes[i] = rt;
	}
}

/* server: the rack's address for subnets on the link, NULL for relayed
 * subnets (the rack answers through the relay with its own address). */
static Ironrack__V1__DhcpSubnet *build_subnet(struct dhcp_arena *a, json_t *e, const char *server,
					      struct dhcp_build_stats *st)
{
	Ironrack__V1__DhcpSubnet *s = arena_alloc(a, sizeof(*s));
	ironrack__v1__dhcp_subnet__init(s);
	s->id = jint(e, "id");
	s->cidr = jstr(e, "cidr");
	/* The rack's own address in this subnet where it has one. */
	s->server_address = server ? (*jstr(e, "server") ? jstr(e, "server") : (char *)server) : "";
	s->router = jstr(e, "router");
	s->dns = build_strings(a, json_object_get(e, "dns"), &s->n_dns);
	s->domain = jstr(e, "domain");
	s->ntp = build_strings(a, json_object_get(e, "ntp"), &s->n_ntp);
	s->mtu = (uint32_t)jint(e, "mtu"); /* its own VLAN's, also behind a relay */
	build_routes(a, json_object_get(e, "routes"), s);
	s->lease_time = (uint32_t)jint(e, "lease_time");
	s->match_client_id = json_is_true(json_object_get(e, "match_client_id"));
	build_ranges(a, json_object_get(e, "ranges"), s);
	build_hosts(a, json_object_get(e, "hosts"), s);
	s->options = build_options(a, json_object_get(e, "options"), &s->n_options);
	json_t *arches = json_object_get(e, "disabled_arches");
	s->n_disabled_arches = json_array_size(arches);
	s->disabled_arches = arena_alloc(a, s->n_disabled_arches * sizeof(*s->disabled_arches));
	for (size_t i = 0; i < s->n_disabled_arches; i++)
		s->disabled_arches[i] = (uint32_t)json_integer_value(json_array_get(arches, i));
	st->subnets++;
	st->hosts += s->n_hosts;
	return s;
}

/* ---- does a reply fit the 576 bytes every client takes? ----
 *
 * The rack leaves out what does not fit a client's maximum message size
 * (unrequested snippets first), so a config whose options cannot fit 576
 * bytes still serves addresses, but a client that sends no larger option
 * 57 (dhclient, udhcpc, many PXE ROMs) misses options: the operator hears
 * of it when the config is built. */

static size_t fit_len(const struct dhcp4_msg *m);

static void fit_set(struct dhcp4_msg *m, uint32_t code, size_t len)
{
	static const uint8_t zero[256]; /* only the length matters */
	if (len > sizeof(zero))
		len = sizeof(zero);
	dhcp4_msg_option_set(m, (uint8_t)code, zero, len);
}

static void fit_options(struct dhcp4_msg *m, Ironrack__V1__DhcpOption *const *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dhcp4_msg_option_set(m, (uint8_t)o[i]->code, o[i]->data.data, o[i]->data.len);
}

/* What every reply to a client of s carries before snippets: RFC 2131's
 * options, the lease times, a 7-byte client id echoed, the subnet's own. */
static void fit_subnet(struct dhcp4_msg *m, const Ironrack__V1__DhcpSubnet *s)
{
	static const uint32_t fixed[][2] = {{53, 1}, {54, 4}, {51, 4}, {58, 4}, {59, 4}, {61, 7}, {1, 4}, {28, 4}};
	size_t routes = 0;

	dhcp4_msg_init(m);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		fit_set(m, fixed[i][0], fixed[i][1]);
	if (*s->router)
		fit_set(m, 3, 4);
	if (s->n_dns)
		fit_set(m, 6, 4 * s->n_dns);
	if (*s->domain)
		fit_set(m, 15, strlen(s->domain));
	if (s->n_ntp)
		fit_set(m, 42, 4 * s->n_ntp);
	if (s->mtu && s->mtu != 1500)
		fit_set(m, 26, 2);
	for (size_t i = 0; i < s->n_routes; i++) {
		const char *slash = strchr(s->routes[i]->destination, '/');
		unsigned plen = slash ? (unsigned)atoi(slash + 1) : 32;
		routes += 1 + (plen > 32 ? 4 : (plen + 7) / 8) + 4;
	}
	if (routes)
		fit_set(m, 121, routes + (*s->router ? 5 : 0));
}

bool region_dhcp_option_fits(uint8_t code, const uint8_t *data, size_t len, size_t *ret_need)
{
	static const Ironrack__V1__DhcpSubnet bare = IRONRACK__V1__DHCP_SUBNET__INIT;
	struct dhcp4_msg *m = xmalloc(sizeof(*m));
	fit_subnet(m, &bare);
	dhcp4_msg_option_set(m, code, data, len);
	bool ok = dhcp4_msg_encoded_len(m, DHCP4_MIN_MAX_SIZE) >= 0;
	*ret_need = fit_len(m);
	free(m);
	return ok;
}

/* The reply's length without overload, for the message. */
static size_t fit_len(const struct dhcp4_msg *m)
{
	size_t n = DHCP4_IP_UDP_LEN + DHCP4_OPTIONS_OFFSET + 1;
	for (size_t i = 0; i < m->n_options; i++)
		n += 2 * (m->options[i].len ? (m->options[i].len + 254u) / 255u : 1u) + m->options[i].len;
	return n;
}

/* Append a warning to why when a reply of s (with global, subnet, and one
 * range's or host's snippets) cannot fit 576 bytes. */
static void fit_check(const Ironrack__V1__DhcpSubnet *s, Ironrack__V1__DhcpOption *const *global, size_t n_global,
		      char *why, size_t why_len)
{
	struct dhcp4_msg *base = xmalloc(sizeof(*base)), *m = xmalloc(sizeof(*m));
	const char *where = NULL;
	size_t worst = 0;

	fit_subnet(base, s);
	fit_options(base, global, n_global);
	fit_options(base, s->options, s->n_options);
	if (dhcp4_msg_encoded_len(base, DHCP4_MIN_MAX_SIZE) < 0) {
		where = "";
		worst = fit_len(base);
	}
	for (size_t i = 0; !where && i < s->n_ranges + s->n_hosts; i++) {
		Ironrack__V1__DhcpOption *const *o =
		    i < s->n_ranges ? s->ranges[i]->options : s->hosts[i - s->n_ranges]->options;
		size_t n = i < s->n_ranges ? s->ranges[i]->n_options : s->hosts[i - s->n_ranges]->n_options;
		if (!n)
			continue;
		*m = *base;
		fit_options(m, o, n);
		if (dhcp4_msg_encoded_len(m, DHCP4_MIN_MAX_SIZE) < 0) {
			where = i < s->n_ranges ? " (with a range's snippets)" : " (with a host's snippets)";
			worst = fit_len(m);
		}
	}
	if (where) {
		size_t used = strlen(why);
		if (used + 1 < why_len)
			snprintf(
			    why + used, why_len - used,
			    "%ssubnet %s: a reply with its options and snippets%s needs %zu bytes, more than the 576 "
			    "every client takes; clients that send no larger option 57 get it without the options "
			    "that do not fit (unrequested snippets first)",
			    used ? "; " : "", s->cidr, where, worst);
	}
	free(base);
	free(m);
}

static Ironrack__V1__DhcpSubnet **build_subnets(struct dhcp_arena *a, json_t *arr, const char *server,
						struct dhcp_build_stats *st, size_t *ret_n)
{
	size_t n = json_array_size(arr);
	Ironrack__V1__DhcpSubnet **out = arena_alloc(a, n * sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = build_subnet(a, json_array_get(arr, i), server, st);
	*ret_n = n;
	return out;
}

/* Active discovery: the subnets of the link the rack may ARP-scan. */
static void build_scans(struct dhcp_arena *a, json_t *arr, Ironrack__V1__DhcpInterface *ifc)
{
	size_t n = json_array_size(arr);
	ifc->scans = arena_alloc(a, n * sizeof(*ifc->scans));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		Ironrack__V1__DiscoveryScan *d = arena_alloc(a, sizeof(*d));
		ironrack__v1__discovery_scan__init(d);
		d->subnet_id = jint(e, "id");
		d->cidr = jstr(e, "cidr");
		d->source = jstr(e, "source");
		d->own = build_strings(a, json_object_get(e, "own"), &d->n_own);
		d->interval_s = (uint32_t)jint(e, "interval");
		ifc->scans[ifc->n_scans++] = d;
	}
}

static void why_append(char *why, size_t why_len, const char *fmt, const char *label, uint64_t id)
{
	size_t used = strlen(why);
	if (used + 1 < why_len)
		snprintf(why + used, why_len - used, fmt, used ? "; " : "", label, (unsigned long long)id);
}

static void build_interfaces(struct dhcp_arena *a, json_t *vlans, Ironrack__V1__DhcpConfig *cfg,
			     struct dhcp_build_stats *st, char *why, size_t why_len)
{
	size_t n = json_array_size(vlans);
	cfg->interfaces = arena_alloc(a, n * sizeof(*cfg->interfaces));
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(vlans, i);
		char label[320];
		snprintf(label, sizeof(label), "VLAN %llu of %s", (unsigned long long)jint(v, "vid"),
			 jstr(v, "fabric"));
		if (!json_is_string(json_object_get(v, "iface"))) {
			why_append(
			    why, why_len,
			    "%s%s (id %llu) is not served: the rack has no address in a managed IPv4 subnet of it",
			    label, jint(v, "id"));
			continue;
		}
		Ironrack__V1__DhcpInterface *ifc = arena_alloc(a, sizeof(*ifc));
		ironrack__v1__dhcp_interface__init(ifc);
		ifc->name = jstr(v, "iface");
		ifc->vid = (uint32_t)jint(v, "vid");
		ifc->vlan_id = jint(v, "id");
		ifc->subnets = build_subnets(a, json_object_get(v, "subnets"), jstr(v, "address"), st, &ifc->n_subnets);
		ifc->relayed = build_subnets(a, json_object_get(v, "relayed"), NULL, st, &ifc->n_relayed);
		build_scans(a, json_object_get(v, "scans"), ifc);
		cfg->interfaces[cfg->n_interfaces++] = ifc;
		st->vlans++;
	}
}

/* The HA pairs of the rack (docs/dhcp-ha.md). */
static void build_ha(struct dhcp_arena *a, json_t *arr, long auto_down, Ironrack__V1__DhcpConfig *cfg)
{
	size_t n = json_array_size(arr);
	if (!n)
		return;
	cfg->ha = arena_alloc(a, n * sizeof(*cfg->ha));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		Ironrack__V1__DhcpHaPair *p = arena_alloc(a, sizeof(*p));
		ironrack__v1__dhcp_ha_pair__init(p);
		p->vlan_id = jint(e, "vlan_id");
		p->vid = (uint32_t)jint(e, "vid");
		p->role = (uint32_t)jint(e, "role");
		p->partner_rack_id = jstr(e, "partner");
		p->partner_address = jstr(e, "address");
		p->partner_down_by = jstr(e, "partner_down_by");
		p->partner_down_witness = json_is_true(json_object_get(e, "partner_down_witness"));
		/* the VLAN's own wait, else regiond.conf's */
		json_t *w = json_object_get(e, "auto_down");
		p->auto_down_ms = (uint32_t)((json_is_integer(w) ? json_integer_value(w) : auto_down) * 1000);
		cfg->ha[cfg->n_ha++] = p;
	}
}

static void build_pxe(struct dhcp_arena *a, const struct dhcp_build_conf *c, Ironrack__V1__DhcpPxe *pxe)
{
	ironrack__v1__dhcp_pxe__init(pxe);
	pxe->enabled = c->pxe;
	pxe->lease_time = (uint32_t)c->pxe_lease_time;
	if (!pxe->enabled)
		return;
	pxe->files = arena_alloc(a, c->n_files * sizeof(*pxe->files));
	for (size_t i = 0; i < c->n_files; i++) {
		Ironrack__V1__DhcpBootFile *f = arena_alloc(a, sizeof(*f));
		ironrack__v1__dhcp_boot_file__init(f);
		f->arch = c->files[i].arch;
		f->file = c->files[i].file;
		f->http = c->files[i].http;
		pxe->files[pxe->n_files++] = f;
	}
}

int dhcp_build(struct db *db, const struct dhcp_build_conf *c, const char *rack_id, uint8_t **ret, size_t *ret_len,
	       struct dhcp_build_stats *st, char *why, size_t why_len)
{
	char *text = NULL;
	json_error_t jerr;

	*ret = NULL;
	*ret_len = 0;
	memset(st, 0, sizeof(*st));
	if (why_len)
		why[0] = '\0';
	int rc = dhcp_db_rack_model(db, rack_id, &text);
	if (rc < 0) {
		snprintf(why, why_len, "cannot read the network model: %s", db_last_error(db));
		return rc;
	}
	json_t *model = json_loads(text, 0, &jerr);
	free(text);
	if (!json_is_object(model)) {
		json_decref(model);
		snprintf(why, why_len, "the network model query gave malformed JSON: %s", jerr.text);
		return -EBADMSG;
	}
	struct dhcp_arena a = {0};
	Ironrack__V1__DhcpConfig cfg = IRONRACK__V1__DHCP_CONFIG__INIT;
	Ironrack__V1__DhcpPxe pxe;
	build_interfaces(&a, json_object_get(model, "vlans"), &cfg, st, why, why_len);
	build_ha(&a, json_object_get(model, "ha"), c->ha_auto_down, &cfg);
	/* No interface and no HA pair: the rack serves no DHCP, and its config
	 * is empty (like that of a rack that never had any). */
	if (cfg.n_interfaces > 0 || cfg.n_ha > 0) {
		cfg.enabled = cfg.n_interfaces > 0;
		cfg.options = build_options(&a, json_object_get(model, "options"), &cfg.n_options);
		for (size_t i = 0; i < cfg.n_interfaces; i++) {
			const Ironrack__V1__DhcpInterface *ifc = cfg.interfaces[i];
			for (size_t j = 0; j < ifc->n_subnets + ifc->n_relayed; j++)
				fit_check(j < ifc->n_subnets ? ifc->subnets[j] : ifc->relayed[j - ifc->n_subnets],
					  cfg.options, cfg.n_options, why, why_len);
		}
		build_pxe(&a, c, &pxe);
		cfg.pxe = &pxe;
		cfg.lease_time = (uint32_t)c->lease_time;
		cfg.probe = c->probe;
		cfg.external_probe_interval_s = (uint32_t)c->external_probe_interval;
		size_t len = ironrack__v1__dhcp_config__get_packed_size(&cfg);
		uint8_t *buf = xmalloc(len ? len : 1);
		ironrack__v1__dhcp_config__pack(&cfg, buf);
		*ret = buf;
		*ret_len = len;
	}
	arena_free(&a);
	json_decref(model);
	return 0;
}

void region_dhcp_build_conf_get(struct region *r, struct dhcp_build_conf *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->pxe = r->conf.dhcp_pxe;
	ret->pxe_lease_time = r->conf.dhcp_pxe_lease_time;
	ret->lease_time = r->conf.dhcp_lease_time;
	ret->probe = r->conf.dhcp_probe;
	ret->external_probe_interval = r->conf.dhcp_external_probe_interval;
	ret->ha_auto_down = r->conf.dhcp_ha_auto_down;
	size_t n = r->dhcp ? r->dhcp->n_files : 0;
	ret->files = xcalloc(n ? n : 1, sizeof(*ret->files));
	for (size_t i = 0; i < n; i++) {
		ret->files[i] = r->dhcp->files[i];
		ret->files[i].file = xstrdup(r->dhcp->files[i].file);
	}
	ret->n_files = n;
}

void region_dhcp_build_conf_done(struct dhcp_build_conf *c)
{
	dhcp_boot_files_free(c->files, c->n_files);
	c->files = NULL;
	c->n_files = 0;
}

int region_dhcp_build_db(struct db *db, const struct dhcp_build_conf *c, const char *rack_id, uint8_t **ret,
			 size_t *ret_len, char *why, size_t why_len)
{
	struct dhcp_build_stats st;
	return dhcp_build(db, c, rack_id, ret, ret_len, &st, why, why_len);
}

int region_dhcp_build(struct region *r, const char *rack_id, uint8_t **ret, size_t *ret_len, char *why, size_t why_len)
{
	if (!r->db) {
		snprintf(why, why_len, "the database is not open here (use region_dhcp_build_db in a job)");
		return -ENOTCONN;
	}
	struct dhcp_build_conf c;
	region_dhcp_build_conf_get(r, &c);
	int rc = region_dhcp_build_db(r->db, &c, rack_id, ret, ret_len, why, why_len);
	region_dhcp_build_conf_done(&c);
	return rc;
}
