#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ironrack/v1/region.pb-c.h"
#include "region/rpc/scope.h"

/* A rack serving VLAN 7 (id 70) on eth1: subnet 5 10.55.0.0/24 on the link,
 * subnet 6 10.66.0.0/23 relayed to it. */
static struct rack_scope *scope_lab(void)
{
	Ironrack__V1__DhcpConfig cfg = IRONRACK__V1__DHCP_CONFIG__INIT;
	Ironrack__V1__DhcpInterface in = IRONRACK__V1__DHCP_INTERFACE__INIT, *inp = &in;
	Ironrack__V1__DhcpSubnet a = IRONRACK__V1__DHCP_SUBNET__INIT, b = IRONRACK__V1__DHCP_SUBNET__INIT,
				 bad = IRONRACK__V1__DHCP_SUBNET__INIT;
	Ironrack__V1__DhcpSubnet *on_link[] = {&a, &bad}, *relayed[] = {&b};

	a.id = 5;
	a.cidr = "10.55.0.0/24";
	b.id = 6;
	b.cidr = "10.66.0.0/23";
	bad.id = 9;
	bad.cidr = "not a cidr";
	in.name = "eth1";
	in.vid = 7;
	in.vlan_id = 70;
	in.subnets = on_link;
	in.n_subnets = 2;
	in.relayed = relayed;
	in.n_relayed = 1;
	cfg.enabled = true;
	cfg.interfaces = &inp;
	cfg.n_interfaces = 1;

	/* Through the packed form, as a stored snapshot holds it. */
	uint8_t buf[512];
	size_t len = ironrack__v1__dhcp_config__pack(&cfg, buf);
	struct rack_scope *s = NULL;
	assert_int_equal(rack_scope_from_packed(buf, len, 3, &s), 0);
	assert_non_null(s);
	assert_int_equal(s->version, 3);
	return s;
}

static void test_scope_leases(void **state)
{
	(void)state;
	struct rack_scope *s = scope_lab();
	const struct rack_scope *one[] = {s};
	char why[160];

	assert_int_equal(rack_scope_check_lease(one, 1, 5, "10.55.0.100", why, sizeof(why)), 0);
	assert_int_equal(rack_scope_check_lease(one, 1, 6, "10.66.1.7", why, sizeof(why)), 0);
	/* subnet_id 0: whichever served subnet holds it. */
	assert_int_equal(rack_scope_check_lease(one, 1, 0, "10.66.0.7", why, sizeof(why)), 0);
	assert_int_equal(rack_scope_check_lease(one, 1, 0, "10.77.0.7", why, sizeof(why)), -EACCES);
	assert_string_equal(why, "10.77.0.7 is in no subnet this rack serves");
	/* Another rack's subnet. */
	assert_int_equal(rack_scope_check_lease(one, 1, 12, "10.12.0.5", why, sizeof(why)), -EACCES);
	assert_string_equal(why, "subnet 12 is unknown or not served by this rack");
	/* A served subnet, an address outside it. */
	assert_int_equal(rack_scope_check_lease(one, 1, 5, "10.66.0.7", why, sizeof(why)), -EACCES);
	assert_string_equal(why, "10.66.0.7 is outside subnet 5 (10.55.0.0/24)");
	assert_int_equal(rack_scope_check_lease(one, 1, 6, "10.66.2.0", why, sizeof(why)), -EACCES);
	/* A subnet whose cidr did not parse serves nothing. */
	assert_int_equal(rack_scope_check_lease(one, 1, 9, "10.55.0.1", why, sizeof(why)), -EACCES);
	assert_int_equal(rack_scope_check_lease(one, 1, 5, "10.55.0", why, sizeof(why)), -EINVAL);
	rack_scope_free(s);
}

static void test_scope_vlans_and_union(void **state)
{
	(void)state;
	struct rack_scope *s = scope_lab();
	struct rack_scope *none = rack_scope_new(NULL, 4);
	const struct rack_scope *both[] = {none, s}, *only_none[] = {none, NULL};
	char why[160];

	assert_true(rack_scope_has_vlan(both, 2, 70));
	assert_false(rack_scope_has_vlan(both, 2, 7)); /* the VID is not the id */
	assert_false(rack_scope_has_vlan(only_none, 2, 70));
	assert_int_equal(rack_scope_check_lease(both, 2, 5, "10.55.0.9", why, sizeof(why)), 0);
	assert_int_equal(rack_scope_check_lease(only_none, 2, 5, "10.55.0.9", why, sizeof(why)), -EACCES);
	/* A disabled config serves nothing. */
	Ironrack__V1__DhcpConfig off = IRONRACK__V1__DHCP_CONFIG__INIT;
	struct rack_scope *d = rack_scope_new(&off, 5);
	assert_int_equal(d->n_vlans + d->n_subnets, 0);
	rack_scope_free(d);
	/* No DHCP part at all, and one that does not unpack. */
	assert_int_equal(rack_scope_from_packed(NULL, 0, 1, &d), 0);
	assert_int_equal(d->n_subnets, 0);
	rack_scope_free(d);
	static const uint8_t junk[] = {0x12, 0xff, 0xff};
	assert_int_equal(rack_scope_from_packed(junk, sizeof(junk), 1, &d), -EBADMSG);
	assert_null(d);
	rack_scope_free(none);
	rack_scope_free(s);
}

/* Discovery events: only a VLAN the rack serves, on the interface serving
 * it; another rack (serving nothing here) is refused the same report. */
static void test_scope_neighbours(void **state)
{
	(void)state;
	struct rack_scope *s = scope_lab();
	struct rack_scope *other = rack_scope_new(NULL, 1);
	const struct rack_scope *mine[] = {s, NULL}, *theirs[] = {other, NULL};
	char why[160];

	assert_int_equal(rack_scope_check_neighbour(mine, 2, "eth1", 70, why, sizeof(why)), 0);
	assert_int_equal(rack_scope_check_neighbour(mine, 2, "eth0", 70, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "VLAN 70 is not served by this rack on eth0");
	assert_int_equal(rack_scope_check_neighbour(mine, 2, "eth1", 7, why, sizeof(why)), -EACCES);
	assert_int_equal(rack_scope_check_neighbour(mine, 2, "eth1", 71, why, sizeof(why)), -EACCES);
	assert_int_equal(rack_scope_check_neighbour(theirs, 2, "eth1", 70, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "VLAN 70"));
	/* Observed only: decided where it is stored, against the rack's own
	 * addresses. */
	assert_int_equal(rack_scope_check_neighbour(theirs, 2, "eth9", 0, why, sizeof(why)), -ENOENT);
	/* The config being sent counts too, as for leases. */
	const struct rack_scope *sent[] = {other, s};
	assert_int_equal(rack_scope_check_neighbour(sent, 2, "eth1", 70, why, sizeof(why)), 0);
	rack_scope_free(other);
	rack_scope_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scope_leases),
	    cmocka_unit_test(test_scope_vlans_and_union),
	    cmocka_unit_test(test_scope_neighbours),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
