/* The served DHCP configuration (rack/dhcp/config.c): validation, which
 * decides whether a pushed config is applied or refused with a message,
 * and the lookups the engine uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "rack/dhcp/config.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static const uint8_t v[] = "x";
static const struct dhcp_snippet sn_ok[] = {{224, 1, v}};
static const struct dhcp_range ranges[] = {{.id = 1, .first = IP(192, 0, 2, 100), .last = IP(192, 0, 2, 199)}};
static const struct dhcp_host hosts[] = {
    {.mac = {0x52, 0x54, 0, 0, 0, 1}, .addr = IP(192, 0, 2, 10), .hostname = "node1"},
};
static const struct dhcp_subnet relayed[] = {
    {.id = 2, .network = IP(198, 18, 0, 0), .prefix_len = 24},
};
static const uint16_t no_arm[] = {DHCP4_ARCH_EFI_ARM64};
static const struct dhcp_boot_file files[] = {{DHCP4_ARCH_BIOS, "pxelinux.0", false},
					      {DHCP4_ARCH_EFI_X64_HTTP, "ipxe.efi", true}};

/* A valid config that each test bends in one place. */
struct fx {
	struct dhcp_config c;
	struct dhcp_iface ifc;
	struct dhcp_subnet s;
	struct dhcp_range r[2];
	struct dhcp_host h;
	char why[256];
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->r[0] = ranges[0];
	f->h = hosts[0];
	f->s = (struct dhcp_subnet){.id = 1,
				    .network = IP(192, 0, 2, 0),
				    .prefix_len = 24,
				    .server_addr = IP(192, 0, 2, 1),
				    .router = IP(192, 0, 2, 254),
				    .ranges = f->r,
				    .n_ranges = 1,
				    .hosts = &f->h,
				    .n_hosts = 1,
				    .snippets = {sn_ok, 1},
				    .disabled_arches = no_arm,
				    .n_disabled_arches = 1};
	f->ifc =
	    (struct dhcp_iface){.name = "eth0", .subnets = &f->s, .n_subnets = 1, .relayed = relayed, .n_relayed = 1};
	f->c = (struct dhcp_config){
	    .version = 1, .ifaces = &f->ifc, .n_ifaces = 1, .pxe = {.enabled = true, .files = files, .n_files = 2}};
}

static int validate(struct fx *f)
{
	return dhcp_config_validate(&f->c, f->why, sizeof(f->why));
}

static void expect_refused(struct fx *f, const char *needle)
{
	assert_int_equal(validate(f), -EINVAL);
	if (!strstr(f->why, needle))
		fail_msg("reason \"%s\" does not mention \"%s\"", f->why, needle);
}

static void test_valid(void **state)
{
	struct fx f;
	fx_init(&f);
	assert_int_equal(validate(&f), 0);
	assert_string_equal(f.why, "");
	struct dhcp_config empty = {0};
	assert_int_equal(dhcp_config_validate(&empty, f.why, sizeof(f.why)), 0);
}

static void test_ranges(void **state)
{
	struct fx f;
	fx_init(&f);
	f.s.n_ranges = 2;
	f.r[1] = (struct dhcp_range){.id = 2, .first = IP(192, 0, 2, 150), .last = IP(192, 0, 2, 210)};
	expect_refused(&f, "overlap");
	f.r[1].first = IP(192, 0, 3, 1), f.r[1].last = IP(192, 0, 3, 9);
	expect_refused(&f, "outside the subnet");
	f.r[1].first = IP(192, 0, 2, 230), f.r[1].last = IP(192, 0, 2, 255);
	expect_refused(&f, "broadcast");
	f.r[1].first = IP(192, 0, 2, 240), f.r[1].last = IP(192, 0, 2, 230);
	expect_refused(&f, "reversed");
	f.r[1].first = IP(192, 0, 2, 250), f.r[1].last = IP(192, 0, 2, 254);
	expect_refused(&f, "router");
	f.r[1].first = IP(192, 0, 2, 230), f.r[1].last = IP(192, 0, 2, 240);
	assert_int_equal(validate(&f), 0);
}

static void test_reservations(void **state)
{
	struct fx f;
	fx_init(&f);
	f.h.addr = IP(192, 0, 2, 150); /* MAAS assigns static addresses outside dynamic ranges */
	expect_refused(&f, "inside a dynamic range");
	f.h.addr = IP(10, 0, 0, 1);
	expect_refused(&f, "not a host address");
	f.h.addr = IP(192, 0, 2, 255);
	expect_refused(&f, "not a host address");
	f.h.addr = IP(192, 0, 2, 1);
	expect_refused(&f, "rack");
	f.h.addr = IP(192, 0, 2, 10);
	f.h.hostname = "bad name";
	expect_refused(&f, "hostname");
	f.h.hostname = "node1";
	f.h.mac[0] = 0x01;
	expect_refused(&f, "multicast");
	f.h.mac[0] = 0x52;

	struct dhcp_host two[2] = {f.h, f.h};
	f.s.hosts = two;
	f.s.n_hosts = 2;
	two[1].addr = IP(192, 0, 2, 11);
	expect_refused(&f, "two reservations");
	two[1].mac[5] = 2;
	two[1].addr = IP(192, 0, 2, 10);
	expect_refused(&f, "reserved twice");
	two[1].addr = IP(192, 0, 2, 11);
	assert_int_equal(validate(&f), 0);
}

static void test_subnets(void **state)
{
	struct fx f;
	fx_init(&f);
	f.s.network = IP(192, 0, 2, 1);
	expect_refused(&f, "host bits");
	fx_init(&f);
	f.s.prefix_len = 31;
	expect_refused(&f, "prefix length");
	fx_init(&f);
	f.s.router = IP(192, 0, 3, 1);
	expect_refused(&f, "router");
	fx_init(&f);
	f.s.mtu = 40;
	expect_refused(&f, "MTU");
	fx_init(&f);
	f.s.domain = "bad domain";
	expect_refused(&f, "domain");
	fx_init(&f);
	struct dhcp_route bad_route = {IP(10, 0, 0, 1), 8, IP(192, 0, 2, 254)};
	f.s.routes = &bad_route;
	f.s.n_routes = 1;
	expect_refused(&f, "route");
	fx_init(&f);
	f.s.n_dns = 2; /* a count without a list */
	expect_refused(&f, "count");

	/* an on-link subnet overlapping a relayed one: subnet selection would be ambiguous */
	fx_init(&f);
	struct dhcp_subnet wide = {.id = 9, .network = IP(198, 16, 0, 0), .prefix_len = 14};
	struct dhcp_subnet both[2] = {f.s, wide};
	f.ifc.subnets = both;
	f.ifc.n_subnets = 2;
	expect_refused(&f, "overlap");

	fx_init(&f);
	struct dhcp_iface two[2] = {f.ifc, f.ifc};
	two[1].n_subnets = two[1].n_relayed = 0;
	f.c.ifaces = two;
	f.c.n_ifaces = 2;
	expect_refused(&f, "twice");
}

static void test_snippets_and_pxe(void **state)
{
	struct fx f;
	static const struct dhcp_snippet owned[] = {{DHCP4_OPT_SERVER_ID, 4, v}};
	static const struct dhcp_snippet dup[] = {{224, 1, v}, {224, 1, v}};
	static const struct dhcp_snippet nodata[] = {{224, 3, NULL}};
	static const struct dhcp_snippet big[] = {{224, DHCP4_SNIPPET_MAX + 1, v}};
	static const struct dhcp_snippet flag[] = {{DHCP4_OPT_RAPID_COMMIT, 0, NULL}};

	fx_init(&f);
	f.c.snippets = (struct dhcp_snippets){owned, 1};
	expect_refused(&f, "option 54");
	f.c.snippets = (struct dhcp_snippets){dup, 2};
	expect_refused(&f, "twice");
	f.c.snippets = (struct dhcp_snippets){nodata, 1};
	expect_refused(&f, "no value");
	f.c.snippets = (struct dhcp_snippets){big, 1};
	expect_refused(&f, "bytes");
	f.c.snippets = (struct dhcp_snippets){flag, 1};
	assert_int_equal(validate(&f), 0);
	f.h.snippets = (struct dhcp_snippets){owned, 1};
	expect_refused(&f, "option 54");

	fx_init(&f);
	struct dhcp_boot_file bf[2] = {files[0], files[0]};
	f.c.pxe.files = bf;
	expect_refused(&f, "two boot files");
	bf[1] = (struct dhcp_boot_file){DHCP4_ARCH_EFI_X64, "boot x64.efi", false};
	expect_refused(&f, "boot file");
}

static void test_lookups(void **state)
{
	struct fx f;
	fx_init(&f);
	assert_ptr_equal(dhcp_config_iface(&f.c, "eth0"), &f.ifc);
	assert_null(dhcp_config_iface(&f.c, "eth1"));
	assert_ptr_equal(dhcp_config_subnet_of(&f.c, IP(192, 0, 2, 77)), &f.s);
	assert_ptr_equal(dhcp_config_subnet_of(&f.c, IP(198, 18, 0, 5)), &relayed[0]);
	assert_null(dhcp_config_subnet_of(&f.c, IP(203, 0, 113, 1)));
	assert_null(dhcp_iface_subnet_of(&f.ifc, IP(198, 18, 0, 5))); /* relayed is not on-link */
	assert_int_equal(dhcp_subnet_mask(&f.s), IP(255, 255, 255, 0));
	assert_int_equal(dhcp_subnet_broadcast(&f.s), IP(192, 0, 2, 255));
	assert_ptr_equal(dhcp_subnet_range_of(&f.s, IP(192, 0, 2, 199)), &f.r[0]);
	assert_null(dhcp_subnet_range_of(&f.s, IP(192, 0, 2, 200)));
	assert_ptr_equal(dhcp_subnet_host_by_mac(&f.s, hosts[0].mac), &f.h);
	assert_ptr_equal(dhcp_subnet_host_by_addr(&f.s, IP(192, 0, 2, 10)), &f.h);
	assert_true(dhcp_subnet_arch_disabled(&f.s, DHCP4_ARCH_EFI_ARM64));
	assert_false(dhcp_subnet_arch_disabled(&f.s, DHCP4_ARCH_EFI_X64));
	assert_string_equal(dhcp_pxe_boot_file(&f.c.pxe, DHCP4_ARCH_EFI_X64_HTTP)->file, "ipxe.efi");
	assert_null(dhcp_pxe_boot_file(&f.c.pxe, DHCP4_ARCH_EFI_ARM32));

	assert_int_equal(dhcp_config_lease_time(&f.c, &f.s), DHCP_DEFAULT_LEASE_TIME);
	f.c.lease_time = 1200;
	assert_int_equal(dhcp_config_lease_time(&f.c, &f.s), 1200);
	f.s.lease_time = 60;
	assert_int_equal(dhcp_config_lease_time(&f.c, &f.s), 60);
	assert_int_equal(dhcp_config_pxe_lease_time(&f.c), DHCP_PXE_LEASE_TIME);
	assert_int_equal(dhcp_config_offer_hold(&f.c), DHCP_DEFAULT_OFFER_HOLD);
	assert_int_equal(dhcp_config_quarantine_time(&f.c), DHCP_DEFAULT_QUARANTINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_reservations),
	    cmocka_unit_test(test_subnets),
	    cmocka_unit_test(test_snippets_and_pxe),
	    cmocka_unit_test(test_lookups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
