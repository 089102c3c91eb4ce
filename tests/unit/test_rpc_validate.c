#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironrack/v1/region.pb-c.h"
#include "region/rpc/validate.h"

static void test_rpcv_every_field_has_a_row(void **state)
{
	(void)state;
	char missing[512];
	size_t n = rpcv_rows_missing(missing, sizeof(missing));
	if (n)
		fail_msg("fields without a row: %s", missing);
}

static void test_rpcv_values(void **state)
{
	(void)state;
	assert_true(rpcv_is_ifname("eth0"));
	assert_true(rpcv_is_ifname("enp0s31f6.100"));
	assert_true(rpcv_is_ifname("abcdefghijklmno"));
	assert_false(rpcv_is_ifname("abcdefghijklmnop"));
	assert_false(rpcv_is_ifname(""));
	assert_false(rpcv_is_ifname(".."));
	assert_false(rpcv_is_ifname("eth/0"));
	assert_false(rpcv_is_ifname("eth0:1"));
	assert_false(rpcv_is_ifname("eth 0"));
	assert_false(rpcv_is_ifname("eth0\n"));
	assert_true(rpcv_is_mac("02:00:00:00:00:01"));
	assert_false(rpcv_is_mac("02:00:00:00:00:1"));
	assert_false(rpcv_is_mac("02:00:00:00:00:01\n"));
	assert_true(rpcv_is_ipv4("10.0.0.1"));
	assert_false(rpcv_is_ipv4("10.0.0"));
	assert_false(rpcv_is_ipv4("10.0.0.256"));
	assert_false(rpcv_is_ipv4("::1"));
	assert_true(rpcv_is_ip("::1"));
	assert_true(rpcv_is_ip("192.0.2.1"));
	assert_false(rpcv_is_ip("192.0.2.1:80"));
	assert_true(rpcv_is_cidr("192.0.2.10/24"));
	assert_true(rpcv_is_cidr("2001:db8::1/64"));
	assert_true(rpcv_is_cidr("10.0.0.1/0"));
	assert_false(rpcv_is_cidr("192.0.2.10"));
	assert_false(rpcv_is_cidr("192.0.2.10/33"));
	assert_false(rpcv_is_cidr("192.0.2.10/024"));
	assert_false(rpcv_is_cidr("192.0.2.10/"));
	assert_false(rpcv_is_cidr("192.0.2.10/2x"));
	assert_false(rpcv_is_cidr("2001:db8::1/129"));
	assert_false(rpcv_is_cidr("not-an-ip/24"));
	assert_true(rpcv_is_text("caf\xc3\xa9", 5, true));
	assert_false(rpcv_is_text("caf\xc3\xa9", 4, true));
	assert_false(rpcv_is_text("a\xff", 10, false));
	assert_false(rpcv_is_text("\xc0\xaf", 10, false));
	assert_true(rpcv_is_text("a\nb", 10, false));
	assert_false(rpcv_is_text("a\nb", 10, true));
	assert_false(rpcv_is_text("a\xc2\x85", 10, true));
}

/* A Register the region takes, and every way one field can break it. */
struct reg {
	Ironrack__V1__RegisterRequest req;
	Ironrack__V1__Interface ifs[2], *ifp[2];
	char *addrs[2];
};

static void reg_init(struct reg *r)
{
	ironrack__v1__register_request__init(&r->req);
	r->req.hostname = "rack-host";
	r->req.version = "1.0";
	for (int i = 0; i < 2; i++) {
		ironrack__v1__interface__init(&r->ifs[i]);
		r->ifp[i] = &r->ifs[i];
	}
	r->ifs[0].name = "eth0";
	r->ifs[0].mac = "02:00:00:00:00:01";
	r->addrs[0] = "192.0.2.10/24";
	r->addrs[1] = "2001:db8::10/64";
	r->ifs[0].addresses = r->addrs;
	r->ifs[0].n_addresses = 2;
	r->ifs[1].name = "eth1";
	r->ifs[1].vlan = 4094;
	r->req.interfaces = r->ifp;
	r->req.n_interfaces = 2;
}

static void expect(const ProtobufCMessage *m, int rc, const char *field, const char *needle)
{
	struct rpcv_error err;
	char text[256];
	assert_int_equal(rpc_validate(m, &err), rc);
	if (rc == 0)
		return;
	rpcv_error_text(&err, text, sizeof(text));
	assert_string_equal(err.field, field);
	if (!strstr(text, needle))
		fail_msg("'%s' does not say '%s'", text, needle);
}

static void test_rpcv_register(void **state)
{
	(void)state;
	struct reg r;
	char big[400];
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	static const struct {
		const char *what;
		int idx; /* 0 hostname, 1 if name, 2 mac, 3 address, 4 vlan, 5 version */
		const char *value;
		uint32_t vlan;
		const char *field, *needle;
	} cases[] = {
	    {"long hostname", 0, NULL, 0, "hostname", "longer than 255"},
	    {"hostname with a newline", 0, "evil\nenrolled rack", 0, "hostname", "control characters"},
	    {"hostname not UTF-8", 0, "caf\xe9", 0, "hostname", "UTF-8"},
	    {"long interface name", 1, "abcdefghijklmnop", 0, "interfaces[1].name", "interface name"},
	    {"empty interface name", 1, "", 0, "interfaces[1].name", "empty"},
	    {"bad MAC", 2, "02:00:00:00:00", 0, "interfaces[0].mac", "aa:bb"},
	    {"address without prefix", 3, "192.0.2.10", 0, "interfaces[0].addresses[1]", "address/prefix"},
	    {"malformed address", 3, "192.0.2.300/24", 0, "interfaces[0].addresses[1]", "address/prefix"},
	    {"vlan", 4, NULL, 4095, "interfaces[1].vlan", "0..4094"},
	    {"long version", 5, NULL, 0, "version", "longer than 64"},
	};
	reg_init(&r);
	expect(&r.req.base, 0, "", "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reg_init(&r);
		const char *v = cases[i].value ? cases[i].value : big;
		switch (cases[i].idx) {
		case 0:
			r.req.hostname = (char *)v;
			break;
		case 1:
			r.ifs[1].name = (char *)v;
			break;
		case 2:
			r.ifs[0].mac = (char *)v;
			break;
		case 3:
			r.addrs[1] = (char *)v;
			break;
		case 4:
			r.ifs[1].vlan = cases[i].vlan;
			break;
		case 5:
			r.req.version = (char *)v;
			break;
		}
		print_message("%s\n", cases[i].what);
		expect(&r.req.base, -EINVAL, cases[i].field, cases[i].needle);
	}
	/* Counts. */
	reg_init(&r);
	r.req.n_interfaces = RPCV_IFACES_MAX + 1;
	expect(&r.req.base, -EINVAL, "interfaces", "more than 1024");
}

static void test_rpcv_session_bodies(void **state)
{
	(void)state;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	Ironrack__V1__LeaseReport rep = IRONRACK__V1__LEASE_REPORT__INIT;
	Ironrack__V1__LeaseEvent ev = IRONRACK__V1__LEASE_EVENT__INIT, *evp = &ev;
	Ironrack__V1__ExternalDhcpReport ext = IRONRACK__V1__EXTERNAL_DHCP_REPORT__INIT;
	Ironrack__V1__Status st = IRONRACK__V1__STATUS__INIT;
	char *servers[] = {"10.0.0.1", "10.0.0.999"};

	ev.kind = IRONRACK__V1__LEASE_EVENT__KIND__GRANTED;
	ev.address = "10.0.0.5";
	ev.mac = "02:00:00:00:00:09";
	ev.interface = "eth1";
	rep.events = &evp;
	rep.n_events = 1;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_LEASE_REPORT;
	m.lease_report = &rep;
	expect(&m.base, 0, "", "");
	ev.reason = "gremlins";
	expect(&m.base, -EINVAL, "lease_report.events[0].reason", "values");
	ev.reason = "decline";
	ev.address = "10.0.0.5\n";
	expect(&m.base, -EINVAL, "lease_report.events[0].address", "IPv4");
	ev.address = "";
	expect(&m.base, -EINVAL, "lease_report.events[0].address", "empty");
	ev.address = "10.0.0.5";
	ev.kind = 9;
	expect(&m.base, -EINVAL, "lease_report.events[0].kind", "1..4");
	ev.kind = 1;
	rep.n_events = RPCV_LEASE_EVENTS + 1;
	expect(&m.base, -EINVAL, "lease_report.events", "more than");
	rep.n_events = 1;

	/* Only the body the oneof holds is read. */
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_EXTERNAL_DHCP;
	m.external_dhcp = &ext;
	ext.interface = "eth1";
	ext.servers = servers;
	ext.n_servers = 1;
	expect(&m.base, 0, "", "");
	ext.n_servers = 2;
	expect(&m.base, -EINVAL, "external_dhcp.servers[1]", "IPv4");
	ext.n_servers = 1;
	ext.vid = 5000;
	expect(&m.base, -EINVAL, "external_dhcp.vid", "0..4094");
	ext.vid = 0;

	m.status = &st;
	st.code = 3;
	st.message = "fine";
	expect(&m.base, 0, "", "");
	st.code = -1;
	expect(&m.base, -EINVAL, "status.code", "0..16");
}

/* Discovery's NeighbourReport: every field a rack's table can fill. */
static void test_rpcv_neighbour_report(void **state)
{
	(void)state;
	Ironrack__V1__RackMessage m = IRONRACK__V1__RACK_MESSAGE__INIT;
	Ironrack__V1__NeighbourReport rep = IRONRACK__V1__NEIGHBOUR_REPORT__INIT;
	Ironrack__V1__NeighbourEvent ev = IRONRACK__V1__NEIGHBOUR_EVENT__INIT, *evp = &ev;

	ev.kind = IRONRACK__V1__NEIGHBOUR_EVENT__KIND__MOVED;
	ev.interface = "eth0";
	ev.vid = 44;
	ev.vlan_id = 3;
	ev.address = "10.44.0.10";
	ev.mac = "02:00:00:00:44:aa";
	ev.old_mac = "02:00:00:00:44:0a";
	ev.hostname = "labhost.local";
	ev.first_seen_unix_ms = 1;
	ev.last_seen_unix_ms = 2;
	rep.events = &evp;
	rep.n_events = 1;
	rep.dropped = 12345;
	m.body_case = IRONRACK__V1__RACK_MESSAGE__BODY_NEIGHBOUR_REPORT;
	m.neighbour_report = &rep;
	expect(&m.base, 0, "", "");
	ev.address = "fe80::1";
	expect(&m.base, 0, "", "");
	ev.mac = "";
	ev.old_mac = ""; /* known by name only */
	expect(&m.base, 0, "", "");
	ev.address = "10.44.0.300";
	expect(&m.base, -EINVAL, "neighbour_report.events[0].address", "IP address");
	ev.address = "";
	expect(&m.base, -EINVAL, "neighbour_report.events[0].address", "empty");
	ev.address = "10.44.0.10";
	ev.old_mac = "02:00:00:00:44";
	expect(&m.base, -EINVAL, "neighbour_report.events[0].old_mac", "aa:bb");
	ev.old_mac = "";
	ev.interface = "";
	expect(&m.base, -EINVAL, "neighbour_report.events[0].interface", "empty");
	ev.interface = "eth0/1";
	expect(&m.base, -EINVAL, "neighbour_report.events[0].interface", "interface name");
	ev.interface = "eth0";
	ev.hostname = "evil\x1b[2J.local";
	expect(&m.base, -EINVAL, "neighbour_report.events[0].hostname", "control");
	ev.hostname = "";
	ev.vid = 4095;
	expect(&m.base, -EINVAL, "neighbour_report.events[0].vid", "0..4094");
	ev.vid = 0;
	ev.kind = 0;
	expect(&m.base, -EINVAL, "neighbour_report.events[0].kind", "1..4");
	ev.kind = 4;
	ev.last_seen_unix_ms = -5;
	expect(&m.base, -EINVAL, "neighbour_report.events[0].last_seen_unix_ms", "must be");
	ev.last_seen_unix_ms = 2;
	rep.n_events = RPCV_NEIGH_EVENTS + 1;
	expect(&m.base, -EINVAL, "neighbour_report.events", "more than 4096");
}

static void test_rpcv_packed(void **state)
{
	(void)state;
	struct rpcv_error err;
	Ironrack__V1__EnrolRequest e = IRONRACK__V1__ENROL_REQUEST__INIT;
	uint8_t buf[512];

	e.secret = "s";
	e.hostname = "host\x1b[2J";
	size_t len = ironrack__v1__enrol_request__pack(&e, buf);
	assert_int_equal(rpc_validate_packed(&ironrack__v1__enrol_request__descriptor, buf, len, &err), -EINVAL);
	assert_string_equal(err.field, "hostname");
	e.hostname = "host";
	len = ironrack__v1__enrol_request__pack(&e, buf);
	assert_int_equal(rpc_validate_packed(&ironrack__v1__enrol_request__descriptor, buf, len, &err), 0);
	/* Not a message at all. */
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
	assert_int_equal(rpc_validate_packed(&ironrack__v1__enrol_request__descriptor, junk, sizeof(junk), &err),
			 -EBADMSG);
	/* A message the region never receives. */
	assert_int_equal(rpc_validate_packed(&ironrack__v1__welcome__descriptor, buf, 0, &err), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rpcv_every_field_has_a_row),
	    cmocka_unit_test(test_rpcv_values),
	    cmocka_unit_test(test_rpcv_register),
	    cmocka_unit_test(test_rpcv_session_bodies),
	    cmocka_unit_test(test_rpcv_neighbour_report),
	    cmocka_unit_test(test_rpcv_packed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
