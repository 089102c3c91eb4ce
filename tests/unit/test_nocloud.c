#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region/machine/nocloud.h"

/* With NOCLOUD_SEED_DIR set, every seed a test renders is also written
 * there as NAME.meta-data, NAME.user-data and NAME.network-config, for
 * tests/system/test_nocloud.py to parse as YAML. */
static void dump(const char *name, const struct nocloud_seed *s)
{
	const char *dir = getenv("NOCLOUD_SEED_DIR");
	if (!dir)
		return;
	const char *parts[3][2] = {
	    {"meta-data", s->meta_data}, {"user-data", s->user_data}, {"network-config", s->network_config}};
	for (int i = 0; i < 3; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s.%s", dir, name, parts[i][0]);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(parts[i][1], f);
		assert_int_equal(fclose(f), 0);
	}
}

static struct nocloud_model model(struct nocloud_iface *ifaces, size_t n)
{
	struct nocloud_model m = {.ifaces = ifaces, .n_ifaces = n};
	snprintf(m.instance_id, sizeof(m.instance_id), "ironrack-7-1");
	snprintf(m.hostname, sizeof(m.hostname), "node-7");
	return m;
}

static struct nocloud_iface eth(const char *name, const char *mac)
{
	struct nocloud_iface f = {.kind = NOCLOUD_ETHERNET};
	snprintf(f.name, sizeof(f.name), "%s", name);
	snprintf(f.mac, sizeof(f.mac), "%s", mac);
	return f;
}

static void add_addr(struct nocloud_iface *f, const char *a)
{
	snprintf(f->addrs[f->n_addrs++], sizeof(f->addrs[0]), "%s", a);
}

static void add_dns(struct nocloud_iface *f, const char *a)
{
	snprintf(f->dns[f->n_dns++], sizeof(f->dns[0]), "%s", a);
}

static void add_route(struct nocloud_iface *f, const char *to, const char *via, uint32_t metric)
{
	struct nocloud_route *r = &f->routes[f->n_routes++];
	snprintf(r->to, sizeof(r->to), "%s", to);
	snprintf(r->via, sizeof(r->via), "%s", via);
	r->metric = metric;
}

/* Render m (which must succeed), dump it under name, check the
 * network-config against want and return the seed. */
static struct nocloud_seed build_ok(const struct nocloud_model *m, const char *name, const char *want_net)
{
	struct nocloud_seed s = {0};
	char msg[256] = "";
	int r = nocloud_build(m, &s, msg, sizeof(msg));
	if (r < 0)
		fprintf(stderr, "%s: %s\n", name, msg);
	assert_int_equal(r, 0);
	dump(name, &s);
	if (want_net)
		assert_string_equal(s.network_config, want_net);
	/* Deterministic: the same model, the same bytes. */
	struct nocloud_seed again = {0};
	assert_int_equal(nocloud_build(m, &again, msg, sizeof(msg)), 0);
	assert_string_equal(again.meta_data, s.meta_data);
	assert_string_equal(again.user_data, s.user_data);
	assert_string_equal(again.network_config, s.network_config);
	nocloud_seed_free(&again);
	return s;
}

/* Render m, which must be refused with a message containing want. */
static void build_refused(const struct nocloud_model *m, const char *want)
{
	struct nocloud_seed s = {.meta_data = (char *)"untouched"};
	char msg[256] = "";
	assert_int_equal(nocloud_build(m, &s, msg, sizeof(msg)), -EINVAL);
	if (!strstr(msg, want))
		fprintf(stderr, "message '%s' lacks '%s'\n", msg, want);
	assert_non_null(strstr(msg, want));
	assert_string_equal(s.meta_data, "untouched");
}

static void test_static(void **state)
{
	(void)state;
	struct nocloud_iface f = eth("eth0", "52:54:00:AA:bb:01");
	add_addr(&f, "10.0.0.5/24");
	snprintf(f.gateway4, sizeof(f.gateway4), "10.0.0.1");
	add_dns(&f, "10.0.0.2");
	add_dns(&f, "2001:DB8::53");
	add_route(&f, "10.1.0.0/16", "10.0.0.254", 100);
	add_route(&f, "10.2.0.0/16", "10.0.0.253", 0);
	f.mtu = 9000;
	struct nocloud_model m = model(&f, 1);
	struct nocloud_seed s = build_ok(&m, "static",
					 "version: 2\n"
					 "ethernets:\n"
					 "  \"eth0\":\n"
					 "    match:\n"
					 "      macaddress: \"52:54:00:aa:bb:01\"\n"
					 "    set-name: \"eth0\"\n"
					 "    mtu: 9000\n"
					 "    addresses:\n"
					 "      - \"10.0.0.5/24\"\n"
					 "    routes:\n"
					 "      - to: \"0.0.0.0/0\"\n"
					 "        via: \"10.0.0.1\"\n"
					 "      - to: \"10.1.0.0/16\"\n"
					 "        via: \"10.0.0.254\"\n"
					 "        metric: 100\n"
					 "      - to: \"10.2.0.0/16\"\n"
					 "        via: \"10.0.0.253\"\n"
					 "    nameservers:\n"
					 "      addresses:\n"
					 "        - \"10.0.0.2\"\n"
					 "        - \"2001:db8::53\"\n");
	assert_string_equal(s.meta_data, "instance-id: \"ironrack-7-1\"\nlocal-hostname: \"node-7\"\n");
	assert_string_equal(s.user_data, "");
	nocloud_seed_free(&s);
	nocloud_seed_free(&s); /* cleared: freeing again is harmless */
}

static void test_dhcp(void **state)
{
	(void)state;
	struct nocloud_iface f = eth("eno1", "02:00:00:00:00:01");
	f.dhcp4 = true;
	struct nocloud_model m = model(&f, 1);
	struct nocloud_seed s = build_ok(&m, "dhcp",
					 "version: 2\n"
					 "ethernets:\n"
					 "  \"eno1\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:01\"\n"
					 "    set-name: \"eno1\"\n"
					 "    dhcp4: true\n");
	nocloud_seed_free(&s);
}

/* Both interfaces have a gateway; only the first gets the default route,
 * the second keeps its address and its own static route. */
static void test_two_interfaces_one_default_route(void **state)
{
	(void)state;
	struct nocloud_iface f[3] = {eth("eth0", "02:00:00:00:00:01"), eth("eth1", "02:00:00:00:00:02"),
				     eth("eth2", "02:00:00:00:00:03")};
	add_addr(&f[0], "192.0.2.10/24");
	snprintf(f[0].gateway4, sizeof(f[0].gateway4), "192.0.2.1");
	add_addr(&f[1], "198.51.100.10/25");
	snprintf(f[1].gateway4, sizeof(f[1].gateway4), "198.51.100.1");
	add_route(&f[1], "203.0.113.0/24", "198.51.100.2", 0);
	struct nocloud_model m = model(f, 3);
	struct nocloud_seed s = build_ok(&m, "two",
					 "version: 2\n"
					 "ethernets:\n"
					 "  \"eth0\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:01\"\n"
					 "    set-name: \"eth0\"\n"
					 "    addresses:\n"
					 "      - \"192.0.2.10/24\"\n"
					 "    routes:\n"
					 "      - to: \"0.0.0.0/0\"\n"
					 "        via: \"192.0.2.1\"\n"
					 "  \"eth1\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:02\"\n"
					 "    set-name: \"eth1\"\n"
					 "    addresses:\n"
					 "      - \"198.51.100.10/25\"\n"
					 "    routes:\n"
					 "      - to: \"203.0.113.0/24\"\n"
					 "        via: \"198.51.100.2\"\n"
					 "  \"eth2\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:03\"\n"
					 "    set-name: \"eth2\"\n");
	nocloud_seed_free(&s);

	/* The first interface without a gateway does not take the route. */
	f[0].gateway4[0] = '\0';
	s = build_ok(&m, "two-second", NULL);
	assert_null(strstr(s.network_config, "via: \"192.0.2.1\""));
	const char *eth1 = strstr(s.network_config, "\"eth1\":");
	assert_non_null(eth1);
	assert_non_null(strstr(eth1, "to: \"0.0.0.0/0\"\n        via: \"198.51.100.1\""));
	nocloud_seed_free(&s);
}

static void test_vlan(void **state)
{
	(void)state;
	struct nocloud_iface f[2] = {eth("eth0", "02:00:00:00:00:01"), {.kind = NOCLOUD_VLAN}};
	f[0].dhcp4 = true;
	snprintf(f[1].name, sizeof(f[1].name), "eth0.100");
	snprintf(f[1].parent, sizeof(f[1].parent), "eth0");
	f[1].vlan_id = 100;
	f[1].mtu = 1400;
	add_addr(&f[1], "10.100.0.5/24");
	snprintf(f[1].gateway4, sizeof(f[1].gateway4), "10.100.0.1");
	struct nocloud_model m = model(f, 2);
	struct nocloud_seed s = build_ok(&m, "vlan",
					 "version: 2\n"
					 "ethernets:\n"
					 "  \"eth0\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:01\"\n"
					 "    set-name: \"eth0\"\n"
					 "    dhcp4: true\n"
					 "vlans:\n"
					 "  \"eth0.100\":\n"
					 "    id: 100\n"
					 "    link: \"eth0\"\n"
					 "    mtu: 1400\n"
					 "    addresses:\n"
					 "      - \"10.100.0.5/24\"\n"
					 "    routes:\n"
					 "      - to: \"0.0.0.0/0\"\n"
					 "        via: \"10.100.0.1\"\n");
	nocloud_seed_free(&s);

	f[1].vlan_id = 0;
	build_refused(&m, "id 0 is not within 1-4094");
	f[1].vlan_id = 4095;
	build_refused(&m, "id 4095");
	f[1].vlan_id = 100;
	snprintf(f[1].parent, sizeof(f[1].parent), "eth9");
	build_refused(&m, "its link 'eth9' is not an ethernet or bond");
	snprintf(f[1].parent, sizeof(f[1].parent), "eth0.100");
	build_refused(&m, "its link 'eth0.100'");
}

/* A bond of two ethernets (802.3ad: quoted, else YAML reads a float) with
 * a VLAN on top. */
static void test_bond(void **state)
{
	(void)state;
	struct nocloud_iface f[4] = {eth("eth0", "02:00:00:00:00:01"),
				     eth("eth1", "02:00:00:00:00:02"),
				     {.kind = NOCLOUD_BOND},
				     {.kind = NOCLOUD_VLAN}};
	struct nocloud_iface *b = &f[2], *v = &f[3];
	snprintf(b->name, sizeof(b->name), "bond0");
	snprintf(b->mac, sizeof(b->mac), "02:00:00:00:00:01");
	snprintf(b->members[0], sizeof(b->members[0]), "eth0");
	snprintf(b->members[1], sizeof(b->members[1]), "eth1");
	b->n_members = 2;
	snprintf(b->bond_mode, sizeof(b->bond_mode), "802.3ad");
	b->mtu = 9000;
	add_addr(b, "10.0.0.5/24");
	snprintf(b->gateway4, sizeof(b->gateway4), "10.0.0.1");
	add_dns(b, "10.0.0.2");
	snprintf(v->name, sizeof(v->name), "bond0.20");
	snprintf(v->parent, sizeof(v->parent), "bond0");
	v->vlan_id = 20;
	add_addr(v, "10.20.0.5/24");
	struct nocloud_model m = model(f, 4);
	struct nocloud_seed s = build_ok(&m, "bond",
					 "version: 2\n"
					 "ethernets:\n"
					 "  \"eth0\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:01\"\n"
					 "    set-name: \"eth0\"\n"
					 "  \"eth1\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:02\"\n"
					 "    set-name: \"eth1\"\n"
					 "bonds:\n"
					 "  \"bond0\":\n"
					 "    interfaces:\n"
					 "      - \"eth0\"\n"
					 "      - \"eth1\"\n"
					 "    macaddress: \"02:00:00:00:00:01\"\n"
					 "    parameters:\n"
					 "      mode: \"802.3ad\"\n"
					 "    mtu: 9000\n"
					 "    addresses:\n"
					 "      - \"10.0.0.5/24\"\n"
					 "    routes:\n"
					 "      - to: \"0.0.0.0/0\"\n"
					 "        via: \"10.0.0.1\"\n"
					 "    nameservers:\n"
					 "      addresses:\n"
					 "        - \"10.0.0.2\"\n"
					 "vlans:\n"
					 "  \"bond0.20\":\n"
					 "    id: 20\n"
					 "    link: \"bond0\"\n"
					 "    addresses:\n"
					 "      - \"10.20.0.5/24\"\n");
	nocloud_seed_free(&s);

	/* The bond's MAC and mode may be left to the kernel. */
	b->mac[0] = '\0';
	b->bond_mode[0] = '\0';
	s = build_ok(&m, "bond-plain", NULL);
	assert_null(strstr(s.network_config, "parameters:"));
	assert_null(strstr(s.network_config, "\n    macaddress:"));
	nocloud_seed_free(&s);

	snprintf(b->bond_mode, sizeof(b->bond_mode), "802.3AD");
	build_refused(&m, "mode '802.3AD' is not one of");
	b->bond_mode[0] = '\0';
	snprintf(b->mac, sizeof(b->mac), "ff:ff:ff:ff:ff:ff");
	build_refused(&m, "bond bond0: MAC");
	b->mac[0] = '\0';
	f[1].dhcp4 = true;
	build_refused(&m, "eth1 is a member of bond bond0 and cannot have addresses");
	f[1].dhcp4 = false;
	snprintf(v->parent, sizeof(v->parent), "eth1");
	build_refused(&m, "its link 'eth1'");
	snprintf(v->parent, sizeof(v->parent), "bond0");
	snprintf(b->members[1], sizeof(b->members[1]), "eth0");
	build_refused(&m, "names member eth0 twice");
	snprintf(b->members[1], sizeof(b->members[1]), "bond0.20");
	build_refused(&m, "member 'bond0.20' is not an ethernet");
	b->n_members = 0;
	build_refused(&m, "bond bond0 needs 1-8 members");
}

static void test_ipv6(void **state)
{
	(void)state;
	struct nocloud_iface f[2] = {eth("eth0", "02:00:00:00:00:01"), eth("eth1", "02:00:00:00:00:02")};
	add_addr(&f[0], "2001:DB8:0:0::5/64");
	add_addr(&f[0], "192.0.2.5/24");
	snprintf(f[0].gateway6, sizeof(f[0].gateway6), "2001:db8::1");
	add_route(&f[0], "2001:db8:1::/48", "2001:db8::fe", 0);
	f[1].dhcp6 = true;
	snprintf(f[1].gateway4, sizeof(f[1].gateway4), "198.51.100.1");
	struct nocloud_model m = model(f, 2);
	struct nocloud_seed s = build_ok(&m, "ipv6",
					 "version: 2\n"
					 "ethernets:\n"
					 "  \"eth0\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:01\"\n"
					 "    set-name: \"eth0\"\n"
					 "    addresses:\n"
					 "      - \"2001:db8::5/64\"\n"
					 "      - \"192.0.2.5/24\"\n"
					 "    gateway6: \"2001:db8::1\"\n"
					 "    routes:\n"
					 "      - to: \"2001:db8:1::/48\"\n"
					 "        via: \"2001:db8::fe\"\n"
					 "  \"eth1\":\n"
					 "    match:\n"
					 "      macaddress: \"02:00:00:00:00:02\"\n"
					 "    set-name: \"eth1\"\n"
					 "    dhcp6: true\n"
					 "    routes:\n"
					 "      - to: \"0.0.0.0/0\"\n"
					 "        via: \"198.51.100.1\"\n");
	nocloud_seed_free(&s);

	snprintf(f[0].gateway6, sizeof(f[0].gateway6), "192.0.2.1");
	build_refused(&m, "gateway6 '192.0.2.1' is not an IPv6 address");
	snprintf(f[0].gateway6, sizeof(f[0].gateway6), "2001:db8::1");
	snprintf(f[0].routes[0].via, sizeof(f[0].routes[0].via), "192.0.2.1");
	build_refused(&m, "route to '2001:db8:1::/48' via '192.0.2.1'");
	snprintf(f[0].routes[0].via, sizeof(f[0].routes[0].via), "2001:db8::fe");
	snprintf(f[0].routes[0].to, sizeof(f[0].routes[0].to), "::/0");
	build_refused(&m, "route to '::/0'");
	snprintf(f[0].routes[0].to, sizeof(f[0].routes[0].to), "2001:db8:1::/48");
	/* cloud-init would drop a gateway6 without an IPv6 address: refused. */
	snprintf(f[1].gateway6, sizeof(f[1].gateway6), "2001:db8::1");
	build_refused(&m, "interface eth1: gateway6 without an IPv6 address");
	f[1].gateway6[0] = '\0';
	struct nocloud_seed again = build_ok(&m, "ipv6-again", NULL);
	nocloud_seed_free(&again);
}

/* Names YAML would misread unquoted ("on" is a boolean, "0123" an
 * integer to YAML 1.1) are still names. */
static void test_quoting(void **state)
{
	(void)state;
	struct nocloud_iface f[2] = {eth("on", "00:11:22:33:44:55"), eth("0123", "02:00:00:00:01:23")};
	struct nocloud_model m = model(f, 2);
	snprintf(m.hostname, sizeof(m.hostname), "12345");
	snprintf(m.instance_id, sizeof(m.instance_id), "id-\"with\\quotes\"");
	struct nocloud_seed s = build_ok(&m, "quoting", NULL);
	assert_non_null(strstr(s.network_config, "  \"on\":\n"));
	assert_non_null(strstr(s.network_config, "    set-name: \"on\"\n"));
	assert_non_null(strstr(s.network_config, "      macaddress: \"00:11:22:33:44:55\"\n"));
	assert_non_null(strstr(s.network_config, "  \"0123\":\n"));
	assert_string_equal(s.meta_data, "instance-id: \"id-\\\"with\\\\quotes\\\"\"\nlocal-hostname: \"12345\"\n");
	nocloud_seed_free(&s);
}

static void test_no_interfaces(void **state)
{
	(void)state;
	struct nocloud_model m = model(NULL, 0);
	struct nocloud_seed s = build_ok(&m, "empty", "version: 2\nethernets: {}\n");
	nocloud_seed_free(&s);
}

static const char *const KEY1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b";
static const char *const KEY2 = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= \"q\" #c";

static char *user_data(const char *ud, const char *const *keys, size_t n, const char *name)
{
	struct nocloud_model m = model(NULL, 0);
	m.user_data = ud;
	m.ssh_keys = keys;
	m.n_ssh_keys = n;
	struct nocloud_seed s = build_ok(&m, name, NULL);
	char *r = s.user_data;
	s.user_data = NULL;
	nocloud_seed_free(&s);
	return r;
}

static void user_data_refused(const char *ud, const char *const *keys, size_t n, const char *want)
{
	struct nocloud_model m = model(NULL, 0);
	m.user_data = ud;
	m.ssh_keys = keys;
	m.n_ssh_keys = n;
	build_refused(&m, want);
}

static void test_user_data(void **state)
{
	(void)state;
	const char *const keys[] = {KEY1, KEY2, KEY1};
	char *u;

	/* No keys: the operator's user-data as it is, whatever its type. */
	u = user_data("#!/bin/sh\necho hi\n", NULL, 0, "ud-script");
	assert_string_equal(u, "#!/bin/sh\necho hi\n");
	free(u);
	u = user_data(NULL, NULL, 0, "ud-none");
	assert_string_equal(u, "");
	free(u);

	/* Empty: a cloud-config of the keys (given twice: once). */
	u = user_data("", keys, 3, "ud-empty");
	assert_string_equal(
	    u, "#cloud-config\nssh_authorized_keys:\n"
	       "  - \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b\"\n"
	       "  - \"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= \\\"q\\\" #c\"\n");
	free(u);

	/* cloud-config without the key: appended (a missing last newline added). */
	u = user_data("#cloud-config\npackages: [htop]", keys, 1, "ud-append");
	assert_string_equal(
	    u, "#cloud-config\npackages: [htop]\nssh_authorized_keys:\n"
	       "  - \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b\"\n");
	free(u);

	/* cloud-config with a block list: the keys join it, indented alike;
	 * a key it holds already is not added twice. */
	u = user_data("#cloud-config\nssh_authorized_keys:\n    # mine\n    - ssh-rsa AAAAB3 me@x\n"
		      "runcmd:\n  - [touch, /x]\n",
		      keys, 2, "ud-merge");
	assert_string_equal(
	    u, "#cloud-config\nssh_authorized_keys:\n"
	       "    - \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b\"\n"
	       "    - \"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= \\\"q\\\" #c\"\n"
	       "    # mine\n    - ssh-rsa AAAAB3 me@x\nruncmd:\n  - [touch, /x]\n");
	free(u);
	u = user_data("#cloud-config\r\nssh_authorized_keys:\r\n- ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6U"
		      "OoqKLsabgH5C9okWi0dh2l9GKJl a@b\r\n",
		      keys, 2, "ud-merge-crlf");
	assert_string_equal(
	    u, "#cloud-config\r\nssh_authorized_keys:\r\n"
	       "- \"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= \\\"q\\\" #c\"\n"
	       "- ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b\r\n");
	free(u);
	/* A key without a value (null) becomes a list; every key already
	 * there: unchanged. */
	u = user_data("#cloud-config\nssh_authorized_keys:\nhostname: x\n", keys, 1, "ud-null");
	assert_string_equal(
	    u, "#cloud-config\nssh_authorized_keys:\n"
	       "  - \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b\"\n"
	       "hostname: x\n");
	free(u);
	u = user_data(
	    "#cloud-config\nssh_authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKL"
	    "sabgH5C9okWi0dh2l9GKJl a@b\"]\n",
	    keys, 1, "ud-has");
	assert_non_null(strstr(u, "[\"ssh-ed25519"));
	assert_null(strstr(u, "- \"ssh-ed25519"));
	free(u);
	/* A nested ssh_authorized_keys (a user's) is not the top-level one. */
	u = user_data("#cloud-config\nusers:\n  - name: bob\n    ssh_authorized_keys: [x]\n", keys + 1, 1, "ud-users");
	assert_non_null(strstr(u, "[x]\nssh_authorized_keys:\n  - \"ecdsa-sha2-nistp256"));
	free(u);

	user_data_refused("#cloud-config\nssh_authorized_keys: [ssh-rsa AAAA x]\n", keys, 1,
			  "has its value on the key's line");
	user_data_refused("#!/bin/sh\necho hi\n", keys, 1, "only be added to user-data that is #cloud-config");
	user_data_refused("#cloud-config-archive\n- type: text/x-shellscript\n", keys, 1, "#cloud-config");
	user_data_refused(" #cloud-config\n", keys, 1, "#cloud-config");
	const char *bad[][1] = {{"ssh-rsa AAAA x\nruncmd: [reboot]"},
				{"/home/me/.ssh/id_ed25519.pub"},
				{""},
				{"ssh-rsa AAAA caf\xc3\xa9"},
				{"-----BEGIN OPENSSH PRIVATE KEY-----"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		user_data_refused("", bad[i], 1, "SSH key 1 is not one authorized_keys line");
	const char *with_options[] = {"from=\"10.0.0.0/8\" ssh-ed25519 AAAA k"};
	u = user_data(NULL, with_options, 1, "ud-options");
	assert_string_equal(
	    u, "#cloud-config\nssh_authorized_keys:\n  - \"from=\\\"10.0.0.0/8\\\" ssh-ed25519 AAAA k\"\n");
	free(u);
}

static void test_bad_models(void **state)
{
	(void)state;
	struct nocloud_iface f[2] = {eth("eth0", "02:00:00:00:00:01"), eth("eth1", "02:00:00:00:00:02")};
	struct nocloud_model m = model(f, 2);
	const char *names[] = {"eth0:1", "", "abcdefghijklmnop", "-eth", ".eth", "eth 1", "eth/1", "eth@1", "eth\"1"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(f[1].name, sizeof(f[1].name), "%s", names[i]);
		if (strlen(names[i]) >= sizeof(f[1].name))
			memcpy(f[1].name, names[i], sizeof(f[1].name)); /* not terminated */
		build_refused(&m, "is not a Linux interface name");
	}
	snprintf(f[1].name, sizeof(f[1].name), "eth0");
	build_refused(&m, "two interfaces are called eth0");
	snprintf(f[1].name, sizeof(f[1].name), "eth1");

	const char *macs[] = {"01:00:5e:00:00:01",
			      "ff:ff:ff:ff:ff:ff",
			      "00:00:00:00:00:00",
			      "zz:00:00:00:00:01",
			      "02:00:00:00:00",
			      "0200.0000.0002",
			      ""};
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		snprintf(f[1].mac, sizeof(f[1].mac), "%s", macs[i]);
		build_refused(&m, "interface eth1: MAC");
	}
	snprintf(f[1].mac, sizeof(f[1].mac), "02-00-00-00-00-01");
	build_refused(&m, "interfaces eth0 and eth1 have one MAC 02:00:00:00:00:01");
	snprintf(f[1].mac, sizeof(f[1].mac), "02:00:00:00:00:02");

	const char *addrs[] = {"10.0.0.5",  "10.0.0.5/33", "10.0.0.5/0",      "10.0.0.5/024",
			       "10.0.0.5/", "x/24",	   "2001:db8::1/129", "10.0.0.5/24 "};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		f[1].n_addrs = 0;
		add_addr(&f[1], addrs[i]);
		build_refused(&m, "is not ADDRESS/PREFIXLEN");
	}
	f[1].n_addrs = 0;
	snprintf(f[1].gateway4, sizeof(f[1].gateway4), "2001:db8::1");
	build_refused(&m, "gateway4 '2001:db8::1' is not an IPv4 address");
	f[1].gateway4[0] = '\0';
	add_dns(&f[1], "dns.example");
	build_refused(&m, "DNS server 'dns.example' is not an address");
	f[1].n_dns = 0;
	add_route(&f[1], "10.1.0.5/16", "10.0.0.1", 0);
	build_refused(&m, "route to '10.1.0.5/16'");
	f[1].routes[0] = (struct nocloud_route){.to = "10.1.0.0", .via = "10.0.0.1"};
	build_refused(&m, "route to '10.1.0.0'");
	f[1].n_routes = 0;
	f[1].mtu = 67;
	build_refused(&m, "MTU 67 is not within 68-65535");
	f[1].mtu = 0;
	f[1].kind = (enum nocloud_iface_kind)7;
	build_refused(&m, "unknown kind");
	f[1].kind = NOCLOUD_ETHERNET;

	const char *hosts[] = {"",
			       "-node",
			       "node-",
			       "node_1",
			       "node.example.com",
			       "a234567890123456789012345678901234567890123456789012345678901234"};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		snprintf(m.hostname, sizeof(m.hostname), "%s", hosts[i]);
		if (strlen(hosts[i]) >= sizeof(m.hostname))
			memcpy(m.hostname, hosts[i], sizeof(m.hostname));
		build_refused(&m, "is not one DNS label");
	}
	snprintf(m.hostname, sizeof(m.hostname), "node-7");
	const char *ids[] = {"", "with space", "tab\there", "nl\n"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(m.instance_id, sizeof(m.instance_id), "%s", ids[i]);
		build_refused(&m, "instance id");
	}
	snprintf(m.instance_id, sizeof(m.instance_id), "ironrack-7-1");
	m.n_ifaces = NOCLOUD_IFACES_MAX + 1;
	build_refused(&m, "a seed holds at most 64");
	m.n_ifaces = 2;
	struct nocloud_seed s = build_ok(&m, "bad-then-good", NULL);
	nocloud_seed_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_static),
	    cmocka_unit_test(test_dhcp),
	    cmocka_unit_test(test_two_interfaces_one_default_route),
	    cmocka_unit_test(test_vlan),
	    cmocka_unit_test(test_bond),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_no_interfaces),
	    cmocka_unit_test(test_user_data),
	    cmocka_unit_test(test_bad_models),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
