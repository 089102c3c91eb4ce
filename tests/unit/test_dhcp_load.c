/* The region's DhcpConfig -> the engine's structs (rack/dhcp/load.c):
 * every field lands where the engine reads it, and every malformed value
 * is refused with a message that names the object it belongs to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ironrack/v1/region.pb-c.h"
#include "rack/dhcp/load.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* A full config, built from static storage, that each test bends in one place. */
struct fx {
	Ironrack__V1__DhcpConfig cfg;
	Ironrack__V1__DhcpInterface if0, if1, *ifs[2];
	Ironrack__V1__DhcpSubnet s0, rel0, s1, *s0p[1], *rel0p[1], *s1p[1];
	char *dns[2], *ntp[1];
	Ironrack__V1__DhcpRoute route, *routes[1];
	Ironrack__V1__DhcpRange range, range1, *ranges[1], *ranges1[1];
	Ironrack__V1__DhcpHost host, *hosts[1];
	Ironrack__V1__DhcpOption gopt, sopt, ropt, hopt, *gopts[1], *sopts[1], *ropts[1], *hopts[1];
	uint8_t gdata[4], sdata[2], rdata[1], hdata[3];
	uint32_t arches[2];
	Ironrack__V1__DhcpPxe pxe;
	Ironrack__V1__DhcpBootFile f0, f1, *files[2];
	char why[512];
	struct dhcp_loaded *l;
};

static void opt_init(Ironrack__V1__DhcpOption *o, uint32_t code, uint8_t *data, size_t len, uint8_t fill)
{
	ironrack__v1__dhcp_option__init(o);
	memset(data, fill, len);
	o->code = code;
	o->data.data = data;
	o->data.len = len;
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	ironrack__v1__dhcp_config__init(&f->cfg);
	f->cfg.enabled = true;
	f->cfg.lease_time = 1200;
	f->cfg.offer_hold = 30;
	f->cfg.quarantine_time = 900;
	f->cfg.probe = true;
	f->cfg.external_probe_interval_s = 120;
	opt_init(&f->gopt, 224, f->gdata, sizeof(f->gdata), 0xaa);
	f->gopts[0] = &f->gopt;
	f->cfg.options = f->gopts;
	f->cfg.n_options = 1;

	/* eth0: one on-link subnet with everything, one relayed subnet */
	ironrack__v1__dhcp_subnet__init(&f->s0);
	f->s0.id = 7;
	f->s0.cidr = "10.0.0.0/24";
	f->s0.server_address = "10.0.0.2";
	f->s0.router = "10.0.0.1";
	f->dns[0] = "10.0.0.53";
	f->dns[1] = "192.0.2.53";
	f->s0.dns = f->dns;
	f->s0.n_dns = 2;
	f->s0.domain = "maas.example";
	f->ntp[0] = "10.0.0.123";
	f->s0.ntp = f->ntp;
	f->s0.n_ntp = 1;
	f->s0.mtu = 9000;
	ironrack__v1__dhcp_route__init(&f->route);
	f->route.destination = "172.16.0.0/12";
	f->route.gateway = "10.0.0.254";
	f->routes[0] = &f->route;
	f->s0.routes = f->routes;
	f->s0.n_routes = 1;
	f->s0.lease_time = 3600;
	ironrack__v1__dhcp_range__init(&f->range);
	f->range.id = 70;
	f->range.first = "10.0.0.100";
	f->range.last = "10.0.0.199";
	opt_init(&f->ropt, 225, f->rdata, sizeof(f->rdata), 0xbb);
	f->ropts[0] = &f->ropt;
	f->range.options = f->ropts;
	f->range.n_options = 1;
	f->ranges[0] = &f->range;
	f->s0.ranges = f->ranges;
	f->s0.n_ranges = 1;
	ironrack__v1__dhcp_host__init(&f->host);
	f->host.mac = "52:54:00:12:34:56";
	f->host.address = "10.0.0.5";
	f->host.hostname = "node1";
	opt_init(&f->hopt, 226, f->hdata, sizeof(f->hdata), 0xcc);
	f->hopts[0] = &f->hopt;
	f->host.options = f->hopts;
	f->host.n_options = 1;
	f->hosts[0] = &f->host;
	f->s0.hosts = f->hosts;
	f->s0.n_hosts = 1;
	opt_init(&f->sopt, 66, f->sdata, sizeof(f->sdata), 0xdd);
	f->sopts[0] = &f->sopt;
	f->s0.options = f->sopts;
	f->s0.n_options = 1;
	f->arches[0] = 11;
	f->arches[1] = 19;
	f->s0.disabled_arches = f->arches;
	f->s0.n_disabled_arches = 2;
	f->s0p[0] = &f->s0;

	ironrack__v1__dhcp_subnet__init(&f->rel0);
	f->rel0.id = 8;
	f->rel0.cidr = "10.9.0.0/16";
	f->rel0.router = "10.9.0.1";
	f->rel0p[0] = &f->rel0;

	ironrack__v1__dhcp_interface__init(&f->if0);
	f->if0.name = "eth0";
	f->if0.vid = 0;
	f->if0.vlan_id = 5001;
	f->if0.subnets = f->s0p;
	f->if0.n_subnets = 1;
	f->if0.relayed = f->rel0p;
	f->if0.n_relayed = 1;

	/* eth1.20: a minimal subnet */
	ironrack__v1__dhcp_subnet__init(&f->s1);
	f->s1.id = 9;
	f->s1.cidr = "192.168.20.0/24";
	ironrack__v1__dhcp_range__init(&f->range1);
	f->range1.id = 90;
	f->range1.first = "192.168.20.10";
	f->range1.last = "192.168.20.20";
	f->ranges1[0] = &f->range1;
	f->s1.ranges = f->ranges1;
	f->s1.n_ranges = 1;
	f->s1p[0] = &f->s1;
	ironrack__v1__dhcp_interface__init(&f->if1);
	f->if1.name = "eth1.20";
	f->if1.vid = 20;
	f->if1.vlan_id = 5002;
	f->if1.subnets = f->s1p;
	f->if1.n_subnets = 1;

	f->ifs[0] = &f->if0;
	f->ifs[1] = &f->if1;
	f->cfg.interfaces = f->ifs;
	f->cfg.n_interfaces = 2;

	ironrack__v1__dhcp_pxe__init(&f->pxe);
	f->pxe.enabled = true;
	f->pxe.http_port = 8080;
	f->pxe.lease_time = 45;
	ironrack__v1__dhcp_boot_file__init(&f->f0);
	f->f0.arch = 0;
	f->f0.file = "lpxelinux.0";
	ironrack__v1__dhcp_boot_file__init(&f->f1);
	f->f1.arch = 16;
	f->f1.file = "ipxe.efi";
	f->f1.http = true;
	f->files[0] = &f->f0;
	f->files[1] = &f->f1;
	f->pxe.files = f->files;
	f->pxe.n_files = 2;
	f->cfg.pxe = &f->pxe;
}

static int load(struct fx *f)
{
	return dhcp_load(&f->cfg, 42, &f->l, f->why, sizeof(f->why));
}

static void expect_refused(struct fx *f, const char *message)
{
	int rc = load(f);
	if (rc != -EINVAL)
		fail_msg("expected -EINVAL, got %d (why \"%s\")", rc, f->why);
	assert_null(f->l);
	if (!strstr(f->why, message))
		fail_msg("reason \"%s\" does not contain \"%s\"", f->why, message);
}

static void test_round_trip(void **state)
{
	struct fx f;
	fx_init(&f);
	if (load(&f) != 0)
		fail_msg("refused: %s", f.why);
	const struct dhcp_loaded *l = f.l;
	const struct dhcp_config *c = &l->cfg;
	assert_non_null(l);
	assert_int_equal(c->version, 42);
	assert_int_equal(c->lease_time, 1200);
	assert_int_equal(c->offer_hold, 30);
	assert_int_equal(c->quarantine_time, 900);
	assert_true(c->probe);
	assert_int_equal(l->external_probe_interval_s, 120);
	assert_int_equal(c->snippets.n, 1);
	assert_int_equal(c->snippets.v[0].code, 224);
	assert_int_equal(c->snippets.v[0].len, 4);
	assert_memory_equal(c->snippets.v[0].data, "\xaa\xaa\xaa\xaa", 4);
	assert_ptr_not_equal(c->snippets.v[0].data, f.gdata); /* copied, not borrowed */

	assert_int_equal(c->n_ifaces, 2);
	assert_non_null(l->vlan_ids);
	assert_int_equal(l->vlan_ids[0], 5001);
	assert_int_equal(l->vlan_ids[1], 5002);
	const struct dhcp_iface *i0 = &c->ifaces[0], *i1 = &c->ifaces[1];
	assert_string_equal(i0->name, "eth0");
	assert_int_equal(i0->vid, 0);
	assert_string_equal(i1->name, "eth1.20");
	assert_int_equal(i1->vid, 20);

	assert_int_equal(i0->n_subnets, 1);
	const struct dhcp_subnet *s = &i0->subnets[0];
	assert_int_equal(s->id, 7);
	assert_int_equal(s->network, IP(10, 0, 0, 0));
	assert_int_equal(s->prefix_len, 24);
	assert_int_equal(s->server_addr, IP(10, 0, 0, 2));
	assert_int_equal(s->router, IP(10, 0, 0, 1));
	assert_int_equal(s->n_dns, 2);
	assert_int_equal(s->dns[0], IP(10, 0, 0, 53));
	assert_int_equal(s->dns[1], IP(192, 0, 2, 53));
	assert_string_equal(s->domain, "maas.example");
	assert_int_equal(s->n_ntp, 1);
	assert_int_equal(s->ntp[0], IP(10, 0, 0, 123));
	assert_int_equal(s->mtu, 9000);
	assert_int_equal(s->n_routes, 1);
	assert_int_equal(s->routes[0].dest, IP(172, 16, 0, 0));
	assert_int_equal(s->routes[0].prefix_len, 12);
	assert_int_equal(s->routes[0].gateway, IP(10, 0, 0, 254));
	assert_int_equal(s->lease_time, 3600);
	assert_int_equal(s->n_ranges, 1);
	assert_int_equal(s->ranges[0].id, 70);
	assert_int_equal(s->ranges[0].first, IP(10, 0, 0, 100));
	assert_int_equal(s->ranges[0].last, IP(10, 0, 0, 199));
	assert_int_equal(s->ranges[0].snippets.n, 1);
	assert_int_equal(s->ranges[0].snippets.v[0].code, 225);
	assert_int_equal(s->ranges[0].snippets.v[0].len, 1);
	assert_int_equal(s->ranges[0].snippets.v[0].data[0], 0xbb);
	assert_int_equal(s->n_hosts, 1);
	assert_memory_equal(s->hosts[0].mac, "\x52\x54\x00\x12\x34\x56", 6);
	assert_int_equal(s->hosts[0].addr, IP(10, 0, 0, 5));
	assert_string_equal(s->hosts[0].hostname, "node1");
	assert_int_equal(s->hosts[0].snippets.n, 1);
	assert_int_equal(s->hosts[0].snippets.v[0].code, 226);
	assert_memory_equal(s->hosts[0].snippets.v[0].data, "\xcc\xcc\xcc", 3);
	assert_int_equal(s->snippets.n, 1);
	assert_int_equal(s->snippets.v[0].code, 66);
	assert_int_equal(s->snippets.v[0].len, 2);
	assert_int_equal(s->n_disabled_arches, 2);
	assert_int_equal(s->disabled_arches[0], 11);
	assert_int_equal(s->disabled_arches[1], 19);

	assert_int_equal(i0->n_relayed, 1);
	const struct dhcp_subnet *r = &i0->relayed[0];
	assert_int_equal(r->id, 8);
	assert_int_equal(r->network, IP(10, 9, 0, 0));
	assert_int_equal(r->prefix_len, 16);
	assert_int_equal(r->server_addr, 0); /* "" = the arrival interface's address */
	assert_int_equal(r->router, IP(10, 9, 0, 1));
	assert_null(r->domain);
	assert_int_equal(r->n_dns + r->n_ntp + r->n_routes + r->n_ranges + r->n_hosts + r->snippets.n, 0);

	assert_int_equal(i1->n_subnets, 1);
	assert_int_equal(i1->n_relayed, 0);
	assert_int_equal(i1->subnets[0].id, 9);
	assert_int_equal(i1->subnets[0].ranges[0].first, IP(192, 168, 20, 10));
	assert_int_equal(i1->subnets[0].ranges[0].last, IP(192, 168, 20, 20));
	assert_int_equal(i1->subnets[0].mtu, 0);

	assert_true(c->pxe.enabled);
	assert_int_equal(c->pxe.http_port, 8080);
	assert_int_equal(c->pxe.lease_time, 45);
	assert_int_equal(c->pxe.n_files, 2);
	assert_int_equal(c->pxe.files[0].arch, 0);
	assert_string_equal(c->pxe.files[0].file, "lpxelinux.0");
	assert_false(c->pxe.files[0].http);
	assert_int_equal(c->pxe.files[1].arch, 16);
	assert_string_equal(c->pxe.files[1].file, "ipxe.efi");
	assert_true(c->pxe.files[1].http);

	/* The loaded config stands alone: the message can go. */
	char why[256];
	assert_int_equal(dhcp_config_validate(c, why, sizeof(why)), 0);
	dhcp_loaded_free(f.l);
}

/* Through the wire: pack, unpack, load — what the rack really gets. */
static void test_round_trip_packed(void **state)
{
	struct fx f;
	fx_init(&f);
	size_t len = ironrack__v1__dhcp_config__get_packed_size(&f.cfg);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	ironrack__v1__dhcp_config__pack(&f.cfg, buf);
	Ironrack__V1__DhcpConfig *pb = ironrack__v1__dhcp_config__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(pb);
	struct dhcp_loaded *l = NULL;
	assert_int_equal(dhcp_load(pb, 3, &l, f.why, sizeof(f.why)), 0);
	ironrack__v1__dhcp_config__free_unpacked(pb, NULL);
	assert_non_null(l);
	assert_int_equal(l->cfg.ifaces[0].subnets[0].hosts[0].addr, IP(10, 0, 0, 5));
	assert_string_equal(l->cfg.ifaces[1].name, "eth1.20");
	assert_string_equal(l->cfg.pxe.files[1].file, "ipxe.efi");
	assert_memory_equal(l->cfg.snippets.v[0].data, "\xaa\xaa\xaa\xaa", 4);
	dhcp_loaded_free(l);
}

static void test_disabled_or_absent(void **state)
{
	struct fx f;
	fx_init(&f);
	f.l = (struct dhcp_loaded *)&f; /* must be reset */
	assert_int_equal(dhcp_load(NULL, 1, &f.l, f.why, sizeof(f.why)), 0);
	assert_null(f.l);
	f.cfg.enabled = false;
	f.l = (struct dhcp_loaded *)&f;
	assert_int_equal(load(&f), 0);
	assert_null(f.l);
	/* enabled, nothing to serve: a valid, empty config */
	fx_init(&f);
	f.cfg.n_interfaces = 0;
	f.cfg.interfaces = NULL;
	f.cfg.pxe = NULL;
	assert_int_equal(load(&f), 0);
	assert_non_null(f.l);
	assert_int_equal(f.l->cfg.n_ifaces, 0);
	assert_false(f.l->cfg.pxe.enabled);
	dhcp_loaded_free(f.l);
}

/* dhcp_loaded_free() accepts a hand-built one (arena NULL) and NULL. */
static void test_free_hand_built(void **state)
{
	dhcp_loaded_free(NULL);
	struct dhcp_loaded *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	l->vlan_ids = calloc(2, sizeof(*l->vlan_ids));
	dhcp_loaded_free(l); /* under ASan: no leak, no bad free */
}

static void test_bad_address(void **state)
{
	struct fx f;
	fx_init(&f);
	f.s0.router = "10.0.0.256";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24: router '10.0.0.256' is not an IPv4 address");
	fx_init(&f);
	f.s0.router = "10.0.0.01"; /* leading zero: octal to some parsers */
	expect_refused(&f, "router '10.0.0.01' is not an IPv4 address");
	fx_init(&f);
	f.dns[1] = "dns.example";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24: DNS server 'dns.example' is not an IPv4 address");
	fx_init(&f);
	f.range.last = "";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24 range 70: last address is missing");
	fx_init(&f);
	f.host.address = "10.1.0.5";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24 host 52:54:00:12:34:56: address 10.1.0.5 is "
			   "outside the subnet");
	fx_init(&f);
	f.s0.server_address = "10.0.1.2";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24: rack address 10.0.1.2 is outside the subnet");
}

static void test_ipv6(void **state)
{
	struct fx f;
	fx_init(&f);
	f.s1.cidr = "2001:db8::/64";
	expect_refused(&f, "dhcp: interface eth1.20 subnet id 9: CIDR 2001:db8::/64 is IPv6");
	fx_init(&f);
	f.dns[0] = "2001:db8::53";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24: DNS server 2001:db8::53 is IPv6");
	fx_init(&f);
	f.route.gateway = "fe80::1";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24 route 172.16.0.0/12: gateway fe80::1 is IPv6");
}

static void test_bad_cidr(void **state)
{
	struct fx f;
	fx_init(&f);
	f.s0.cidr = "10.0.0.0/33";
	expect_refused(&f, "dhcp: interface eth0 subnet id 7: CIDR '10.0.0.0/33' is not an IPv4 CIDR");
	fx_init(&f);
	f.s0.cidr = "10.0.0.7/24";
	expect_refused(&f, "dhcp: interface eth0 subnet id 7: CIDR 10.0.0.7/24 has host bits set (10.0.0.0/24?)");
	fx_init(&f);
	f.rel0.cidr = "10.9.0.0";
	expect_refused(&f, "dhcp: interface eth0 relayed subnet id 8: CIDR '10.9.0.0' has no prefix length");
	fx_init(&f);
	f.route.destination = "172.16.0.1/12";
	expect_refused(&f, "route 172.16.0.1/12: destination 172.16.0.1/12 has host bits set");
	fx_init(&f);
	f.s1.cidr = "";
	expect_refused(&f, "dhcp: interface eth1.20 subnet id 9: CIDR is missing");
}

static void test_bad_mac(void **state)
{
	struct fx f;
	fx_init(&f);
	f.host.mac = "52:54:00:12:34";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24: host 0: MAC '52:54:00:12:34' is not "
			   "aa:bb:cc:dd:ee:ff");
	fx_init(&f);
	f.host.mac = "52:54:00:12:34:zz";
	expect_refused(&f, "MAC '52:54:00:12:34:zz' is not aa:bb:cc:dd:ee:ff");
	fx_init(&f);
	f.host.mac = "01:00:5e:00:00:01"; /* parses; validate refuses multicast */
	expect_refused(&f, "reservation 10.0.0.5 has a multicast or zero MAC");
}

static void test_overlap(void **state)
{
	struct fx f;
	fx_init(&f);
	f.s1.cidr = "10.0.0.0/16"; /* on eth1.20, containing eth0's 10.0.0.0/24 */
	f.range1.first = "10.0.1.10";
	f.range1.last = "10.0.1.20";
	expect_refused(&f, "dhcp: subnets 10.0.0.0/24 and 10.0.0.0/16 overlap");
	fx_init(&f);
	f.rel0.cidr = "10.0.0.0/25"; /* relayed, same interface */
	f.rel0.router = "";
	expect_refused(&f, "dhcp: subnets 10.0.0.0/24 and 10.0.0.0/25 overlap");
}

static void test_reversed_range(void **state)
{
	struct fx f;
	fx_init(&f);
	f.range.first = "10.0.0.200";
	f.range.last = "10.0.0.100";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24: range 10.0.0.200-10.0.0.100 is reversed");
	fx_init(&f);
	f.range.last = "10.0.1.10";
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24: range 10.0.0.100-10.0.1.10 is outside the subnet");
}

static void test_snippets(void **state)
{
	struct fx f;
	static uint8_t big[DHCP4_SNIPPET_MAX + 1];
	fx_init(&f);
	f.hopt.data.data = big;
	f.hopt.data.len = sizeof(big);
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24 host 52:54:00:12:34:56: snippet option 226 is "
			   "1025 bytes, more than 1024");
	fx_init(&f);
	f.gopt.data.len = DHCP4_SNIPPET_MAX; /* the limit itself is fine */
	f.gopt.data.data = big;
	assert_int_equal(load(&f), 0);
	dhcp_loaded_free(f.l);
	fx_init(&f);
	f.ropt.code = 256;
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24 range 10.0.0.100-10.0.0.199: snippet option code "
			   "256 is not 0..255");
	fx_init(&f);
	f.sopt.code = 53; /* the engine's own option: validate refuses */
	expect_refused(&f, "option 53 is managed by the DHCP server");
}

static void test_bad_numbers(void **state)
{
	struct fx f;
	fx_init(&f);
	f.arches[1] = 65536;
	expect_refused(&f, "dhcp: interface eth0 subnet 10.0.0.0/24: disabled architecture 65536 is not 0..65535");
	fx_init(&f);
	f.f1.arch = 70000;
	expect_refused(&f, "dhcp: PXE: boot file ipxe.efi: architecture 70000 is not 0..65535");
	fx_init(&f);
	f.if1.vid = 4095;
	expect_refused(&f, "dhcp: interface eth1.20: VLAN id 4095 is not 0..4094");
	fx_init(&f);
	f.s0.id = (uint64_t)1 << 32;
	expect_refused(&f, "subnet id does not fit 32 bits");
	fx_init(&f);
	f.s0.mtu = 70000;
	expect_refused(&f, "MTU 70000 is above 65535");
	fx_init(&f);
	f.pxe.http_port = 65536;
	expect_refused(&f, "dhcp: PXE: HTTP port 65536 is not 0..65535");
}

static void test_interfaces(void **state)
{
	struct fx f;
	fx_init(&f);
	f.if1.name = "";
	expect_refused(&f, "dhcp: interface 1 has no name");
	fx_init(&f);
	f.if1.name = "eth0";
	f.s1.cidr = "192.168.20.0/24";
	expect_refused(&f, "dhcp: interface eth0 listed twice");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_round_trip_packed),
	    cmocka_unit_test(test_disabled_or_absent),
	    cmocka_unit_test(test_free_hand_built),
	    cmocka_unit_test(test_bad_address),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_bad_cidr),
	    cmocka_unit_test(test_bad_mac),
	    cmocka_unit_test(test_overlap),
	    cmocka_unit_test(test_reversed_range),
	    cmocka_unit_test(test_snippets),
	    cmocka_unit_test(test_bad_numbers),
	    cmocka_unit_test(test_interfaces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
