#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/power_params.h"

#define MSG_LEN 256

/* Decode with options given as "key=value" strings (NULL-terminated). */
static int decode(const char *driver, const char *address, const char *user, const char *password,
		  const char *const *opts, struct power_params *ret, char *msg)
{
	const char *keys[16] = {0}, *vals[16] = {0};
	char buf[16][300];
	size_t n = 0;
	for (; opts && opts[n]; n++) {
		assert_true(n < 16);
		snprintf(buf[n], sizeof(buf[n]), "%s", opts[n]);
		char *eq = strchr(buf[n], '=');
		assert_non_null(eq);
		*eq = '\0';
		keys[n] = buf[n];
		vals[n] = eq + 1;
	}
	return power_params_decode(driver, address, user, password, keys, vals, n, ret, msg, MSG_LEN);
}

static void assert_strings_set(const struct power_params *p)
{
	assert_non_null(p->address);
	assert_non_null(p->user);
	assert_non_null(p->password);
	assert_non_null(p->system);
	assert_non_null(p->interface);
	assert_non_null(p->broadcast);
}

static void test_drivers_known(void **state)
{
	(void)state;
	assert_true(power_driver_known("ipmi"));
	assert_true(power_driver_known("redfish"));
	assert_true(power_driver_known("wol"));
	assert_true(power_driver_known("manual"));
	assert_false(power_driver_known("IPMI"));
	assert_false(power_driver_known(""));
	assert_false(power_driver_known(NULL));
	assert_false(power_driver_known("amt"));
}

static void test_table(void **state)
{
	(void)state;
	assert_int_equal(power_param_defs_n, 14);
	size_t secrets = 0, required = 0;
	for (size_t i = 0; i < power_param_defs_n; i++) {
		const struct power_param_def *d = &power_param_defs[i];
		assert_ptr_equal(power_param_find(d->name), d);
		assert_non_null(d->help);
		assert_true(strlen(d->help) > 10);
		secrets += d->secret;
		required += d->required;
	}
	assert_int_equal(secrets, 1);
	assert_true(power_param_find("pass")->secret);
	assert_int_equal(required, 1);
	assert_true(power_param_find("address")->required);
	assert_null(power_param_find("type"));
	assert_null(power_param_find("power_port"));

	assert_true(power_param_applies("cipher_suite", "ipmi"));
	assert_false(power_param_applies("cipher_suite", "redfish"));
	assert_true(power_param_applies("port", "wol"));
	assert_false(power_param_applies("port", "manual"));
	assert_false(power_param_applies("address", "wol"));
	assert_false(power_param_applies("nope", "ipmi"));
	assert_false(power_param_applies("port", "nope"));
	for (size_t i = 0; i < power_param_defs_n; i++)
		assert_false(power_param_applies(power_param_defs[i].name, "manual"));

	assert_string_equal(power_param_default("port", "ipmi"), "623");
	assert_string_equal(power_param_default("port", "redfish"), "443");
	assert_string_equal(power_param_default("port", "wol"), "9");
	assert_string_equal(power_param_default("port", "manual"), "");
	assert_string_equal(power_param_default("cipher_suite", "ipmi"), "3");
	assert_string_equal(power_param_default("cipher_suite", "redfish"), "");
	assert_string_equal(power_param_default("broadcast", "wol"), "255.255.255.255");
	assert_string_equal(power_param_default("verify_tls", "redfish"), "true");
	assert_string_equal(power_param_default("auth", "redfish"), "session");
}

static void test_ipmi_defaults(void **state)
{
	(void)state;
	struct power_params p;
	char msg[MSG_LEN];
	assert_int_equal(decode("ipmi", "10.0.0.5", NULL, NULL, NULL, &p, msg), 0);
	assert_strings_set(&p);
	assert_string_equal(p.driver, "ipmi");
	assert_string_equal(p.address, "10.0.0.5");
	assert_string_equal(p.user, "");
	assert_string_equal(p.password, "");
	assert_int_equal(p.port, 623);
	assert_int_equal(p.cipher_suite, 3);
	assert_int_equal(p.privilege, POWER_PRIV_ADMIN);
	assert_int_equal(p.workarounds, 0);
	assert_false(p.ipmi15);
	power_params_free(&p);
	assert_null(p.address);
}

static void test_ipmi_all(void **state)
{
	(void)state;
	struct power_params p;
	char msg[MSG_LEN];
	const char *opts[] = {"port=6230", "cipher_suite=17", "privilege=operator",
			      "workarounds=opensesspriv, authcap,,sun20", NULL};
	assert_int_equal(decode("ipmi", "bmc-1.example.com", "admin", "sekrit", opts, &p, msg), 0);
	assert_string_equal(p.address, "bmc-1.example.com");
	assert_string_equal(p.user, "admin");
	assert_string_equal(p.password, "sekrit");
	assert_int_equal(p.port, 6230);
	assert_int_equal(p.cipher_suite, 17);
	assert_int_equal(p.privilege, POWER_PRIV_OPERATOR);
	assert_int_equal(p.workarounds, POWER_IPMI_WA_OPENSESSPRIV | POWER_IPMI_WA_AUTHCAP | POWER_IPMI_WA_SUN20);
	power_params_free(&p);

	const char *v15[] = {"ipmi_version=1.5", "privilege=user", "workarounds=intel20,supermicro20", NULL};
	assert_int_equal(decode("ipmi", "fd00::5", NULL, NULL, v15, &p, msg), 0);
	assert_true(p.ipmi15);
	assert_string_equal(p.address, "fd00::5");
	assert_int_equal(p.privilege, POWER_PRIV_USER);
	assert_int_equal(p.workarounds, POWER_IPMI_WA_INTEL20 | POWER_IPMI_WA_SUPERMICRO20);
	power_params_free(&p);

	/* Every suite IPMI 2.0 defines is accepted. */
	static const char *const suites[] = {"0", "1", "2", "3", "6", "7", "8", "11", "12", "15", "16", "17"};
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		char opt[32];
		snprintf(opt, sizeof(opt), "cipher_suite=%s", suites[i]);
		const char *o[] = {opt, NULL};
		assert_int_equal(decode("ipmi", "[fd00::5]", NULL, NULL, o, &p, msg), 0);
		assert_int_equal(p.cipher_suite, (unsigned)atoi(suites[i]));
		assert_string_equal(p.address, "fd00::5");
		power_params_free(&p);
	}
}

static void test_redfish_defaults(void **state)
{
	(void)state;
	struct power_params p;
	char msg[MSG_LEN];
	assert_int_equal(decode("redfish", "bmc7", "root", "calvin", NULL, &p, msg), 0);
	assert_strings_set(&p);
	assert_string_equal(p.address, "bmc7");
	assert_int_equal(p.port, 443);
	assert_true(p.verify_tls);
	assert_true(p.session);
	assert_string_equal(p.system, "");
	assert_string_equal(p.password, "calvin");
	power_params_free(&p);

	const char *opts[] = {"system=/redfish/v1/Systems/System.Embedded.1", "verify_tls=false", "auth=basic",
			      "port=8443", NULL};
	assert_int_equal(decode("redfish", "10.1.2.3", NULL, NULL, opts, &p, msg), 0);
	assert_string_equal(p.system, "/redfish/v1/Systems/System.Embedded.1");
	assert_false(p.verify_tls);
	assert_false(p.session);
	assert_int_equal(p.port, 8443);
	power_params_free(&p);
}

static void test_redfish_url(void **state)
{
	(void)state;
	struct power_params p;
	char msg[MSG_LEN];
	assert_int_equal(decode("redfish", "https://bmc.example:8443/", NULL, NULL, NULL, &p, msg), 0);
	assert_string_equal(p.address, "bmc.example");
	assert_int_equal(p.port, 8443);
	power_params_free(&p);

	assert_int_equal(decode("redfish", "HTTPS://[fd00::7]", NULL, NULL, NULL, &p, msg), 0);
	assert_string_equal(p.address, "fd00::7");
	assert_int_equal(p.port, 443);
	power_params_free(&p);

	assert_int_equal(decode("redfish", "https://[fd00::7]:9443", NULL, NULL, NULL, &p, msg), 0);
	assert_string_equal(p.address, "fd00::7");
	assert_int_equal(p.port, 9443);
	power_params_free(&p);

	/* The same port twice is fine; two different ones are not. */
	const char *same[] = {"port=8443", NULL};
	assert_int_equal(decode("redfish", "https://10.0.0.9:8443", NULL, NULL, same, &p, msg), 0);
	assert_int_equal(p.port, 8443);
	power_params_free(&p);
	const char *other[] = {"port=443", NULL};
	assert_int_equal(decode("redfish", "https://10.0.0.9:8443", NULL, NULL, other, &p, msg), -EINVAL);
	assert_string_equal(msg, "power_port: 443, but power_address says port 8443");
}

static void test_wol_defaults(void **state)
{
	(void)state;
	struct power_params p;
	char msg[MSG_LEN];
	static const uint8_t zero[6], mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	assert_int_equal(decode("wol", NULL, NULL, NULL, NULL, &p, msg), 0);
	assert_strings_set(&p);
	assert_int_equal(p.port, 9);
	assert_string_equal(p.broadcast, "255.255.255.255");
	assert_string_equal(p.interface, "");
	assert_string_equal(p.address, "");
	assert_memory_equal(p.mac, zero, 6);
	power_params_free(&p);

	const char *opts[] = {"mac=52:54:00:12:34:56", "interface=br-vlan10", "broadcast=10.0.0.255", "port=7", NULL};
	assert_int_equal(decode("wol", "", "", "", opts, &p, msg), 0);
	assert_memory_equal(p.mac, mac, 6);
	assert_string_equal(p.interface, "br-vlan10");
	assert_string_equal(p.broadcast, "10.0.0.255");
	assert_int_equal(p.port, 7);
	power_params_free(&p);

	/* PowerTarget carries the MAC as the address. */
	assert_int_equal(decode("wol", "52-54-00-12-34-56", NULL, NULL, NULL, &p, msg), 0);
	assert_memory_equal(p.mac, mac, 6);
	assert_string_equal(p.address, "");
	power_params_free(&p);
	const char *same[] = {"mac=52:54:00:12:34:56", NULL};
	assert_int_equal(decode("wol", "52:54:00:12:34:56", NULL, NULL, same, &p, msg), 0);
	power_params_free(&p);
	const char *other[] = {"mac=52:54:00:12:34:57", NULL};
	assert_int_equal(decode("wol", "52:54:00:12:34:56", NULL, NULL, other, &p, msg), -EINVAL);
	assert_string_equal(msg, "power_mac: 52:54:00:12:34:57, but power_address says 52:54:00:12:34:56");
	assert_int_equal(decode("wol", "10.0.0.5", NULL, NULL, NULL, &p, msg), -EINVAL);
	assert_non_null(strstr(msg, "power_address: '10.0.0.5' is not a MAC address"));
}

static void test_manual(void **state)
{
	(void)state;
	struct power_params p;
	char msg[MSG_LEN];
	assert_int_equal(decode("manual", NULL, NULL, NULL, NULL, &p, msg), 0);
	assert_strings_set(&p);
	assert_string_equal(p.driver, "manual");
	assert_int_equal(p.port, 0);
	assert_string_equal(p.broadcast, "");
	power_params_free(&p);
	/* Empty values are "not given", even for parameters manual lacks. */
	const char *empty[] = {"port=", "cipher_suite=", NULL};
	assert_int_equal(decode("manual", "", "", "", empty, &p, msg), 0);
	power_params_free(&p);
}

/* Options in keys instead of the arguments. */
static void test_keys_carry_address(void **state)
{
	(void)state;
	struct power_params p;
	char msg[MSG_LEN];
	const char *opts[] = {"address=10.0.0.6", "user=ops", "pass=pw", NULL};
	assert_int_equal(decode("ipmi", NULL, NULL, NULL, opts, &p, msg), 0);
	assert_string_equal(p.address, "10.0.0.6");
	assert_string_equal(p.user, "ops");
	assert_string_equal(p.password, "pw");
	power_params_free(&p);
	const char *dup[] = {"address=10.0.0.6", NULL};
	assert_int_equal(decode("ipmi", "10.0.0.7", NULL, NULL, dup, &p, msg), -EINVAL);
	assert_string_equal(msg, "power_address: given twice");
}

struct bad_case {
	const char *driver, *address, *user, *password;
	const char *opts[4];
	const char *want; /* the whole message, or its start when it ends in '*' */
};

static const struct bad_case bad_cases[] = {
    {"", NULL, NULL, NULL, {NULL}, "power_type: missing; use ipmi, redfish, wol or manual"},
    {NULL, NULL, NULL, NULL, {NULL}, "power_type: missing; use ipmi, redfish, wol or manual"},
    {"amt",
     "10.0.0.1",
     NULL,
     NULL,
     {NULL},
     "power_type: 'amt' is not a power driver; use ipmi, redfish, wol or manual"},
    {"ipmi", NULL, "u", "hunter2", {NULL}, "power_address: required by the ipmi driver"},
    {"redfish", "", NULL, NULL, {NULL}, "power_address: required by the redfish driver"},
    {"ipmi", "bmc_1", NULL, NULL, {NULL}, "power_address: 'bmc_1' is not a host name or IP address"},
    {"ipmi", "-bmc", NULL, NULL, {NULL}, "power_address: '-bmc' is not a host name or IP address"},
    {"ipmi", "bmc-.lab", NULL, NULL, {NULL}, "power_address: 'bmc-.lab' is not a host name or IP address"},
    {"ipmi", "a..b", NULL, NULL, {NULL}, "power_address: 'a..b' is not a host name or IP address"},
    {"ipmi", "10.0.0.256", NULL, NULL, {NULL}, "power_address: '10.0.0.256' is not an IPv4 address"},
    {"ipmi", "fd00::5::1", NULL, NULL, {NULL}, "power_address: 'fd00::5::1' is not an IPv6 address"},
    {"ipmi", "[10.0.0.1]", NULL, NULL, {NULL}, "power_address: '[10.0.0.1]' is not an IPv6 address"},
    {"ipmi", "https://bmc", NULL, NULL, {NULL}, "power_address: a URL is for redfish*"},
    {"redfish", "http://bmc", NULL, NULL, {NULL}, "power_address: 'http://bmc': Redfish is reached over https://"},
    {"redfish", "https://bmc/redfish/v1", NULL, NULL, {NULL}, "power_address: 'https://bmc/redfish/v1': give*"},
    {"redfish", "https://root@bmc", NULL, NULL, {NULL}, "power_address: 'https://root@bmc': give the user as*"},
    {"redfish", "https://bmc:0", NULL, NULL, {NULL}, "power_address: 'https://bmc:0': the port is not 1-65535"},
    {"redfish", "https://bmc:99999", NULL, NULL, {NULL}, "power_address: 'https://bmc:99999': the port*"},
    {"redfish", "https://:443", NULL, NULL, {NULL}, "power_address: 'https://:443' names no host"},
    {"manual", "10.0.0.1", NULL, NULL, {NULL}, "power_address: not a parameter of the manual driver"},
    {"wol", NULL, "admin", NULL, {NULL}, "power_user: not a parameter of the wol driver"},
    {"manual", NULL, NULL, "pw", {NULL}, "power_pass: not a parameter of the manual driver"},
    {"ipmi", "b", "u\tx", NULL, {NULL}, "power_user: holds a control character"},
    {"ipmi", "b", "seventeen-bytes-x", NULL, {NULL}, "power_user: IPMI user names are at most 16 bytes"},
    {"ipmi", "b", NULL, "twenty-one-bytes-xxxx", {NULL}, "power_pass: IPMI 2.0 passwords are at most 20 bytes"},
    {"ipmi", "b", NULL, "seventeen-bytes-x", {"ipmi_version=1.5"}, "power_pass: IPMI 1.5 passwords are at most 16*"},
    {"redfish", "b", NULL, NULL, {"cipher_suite=17"}, "power_cipher_suite: not a parameter of the redfish driver"},
    {"ipmi", "b", NULL, NULL, {"verify_tls=false"}, "power_verify_tls: not a parameter of the ipmi driver"},
    {"wol", NULL, NULL, NULL, {"privilege=user"}, "power_privilege: not a parameter of the wol driver"},
    {"manual", NULL, NULL, NULL, {"port=1"}, "power_port: not a parameter of the manual driver"},
    {"ipmi", "b", NULL, NULL, {"mac=52:54:00:00:00:01"}, "power_mac: not a parameter of the ipmi driver"},
    {"ipmi",
     "b",
     NULL,
     NULL,
     {"colour=red"},
     "power_colour: no such parameter; the ipmi driver takes address, user, "
     "pass, port, cipher_suite, privilege, workarounds, ipmi_version"},
    {"manual", NULL, NULL, NULL, {"x=1"}, "power_x: no such parameter; the manual driver takes nothing"},
    {"ipmi", "b", NULL, NULL, {"port=623", "port=624"}, "power_port: given twice"},
    {"ipmi", "b", NULL, NULL, {"port=0"}, "power_port: '0' is not a port (1-65535)"},
    {"ipmi", "b", NULL, NULL, {"port=65536"}, "power_port: '65536' is not a port (1-65535)"},
    {"ipmi", "b", NULL, NULL, {"port=+80"}, "power_port: '+80' is not a port (1-65535)"},
    {"wol", NULL, NULL, NULL, {"port=9x"}, "power_port: '9x' is not a port (1-65535)"},
    {"ipmi",
     "b",
     NULL,
     NULL,
     {"cipher_suite=5"},
     "power_cipher_suite: 5 is not a cipher suite IPMI 2.0 defines; use "
     "3 or 17"},
    {"ipmi", "b", NULL, NULL, {"cipher_suite=18"}, "power_cipher_suite: 18 is not a cipher suite IPMI 2.0 defines*"},
    {"ipmi", "b", NULL, NULL, {"cipher_suite=three"}, "power_cipher_suite: 'three' is not a number; use 3 or 17"},
    {"ipmi", "b", NULL, NULL, {"cipher_suite=3", "ipmi_version=1.5"}, "power_cipher_suite: IPMI 1.5 has no cipher*"},
    {"ipmi", "b", NULL, NULL, {"privilege=root"}, "power_privilege: 'root' is not user, operator or admin"},
    {"ipmi",
     "b",
     NULL,
     NULL,
     {"workarounds=authcap,dell"},
     "power_workarounds: 'dell' is not one of opensesspriv, "
     "authcap, intel20, supermicro20, sun20"},
    {"ipmi", "b", NULL, NULL, {"ipmi_version=2"}, "power_ipmi_version: '2' is not 2.0 or 1.5"},
    {"redfish",
     "b",
     NULL,
     NULL,
     {"system=/redfish/v1/Chassis/1"},
     "power_system: '/redfish/v1/Chassis/1' is not a "
     "Redfish system path (/redfish/v1/Systems/ID)"},
    {"redfish", "b", NULL, NULL, {"system=/redfish/v1/Systems/"}, "power_system: '/redfish/v1/Systems/' is not a*"},
    {"redfish", "b", NULL, NULL, {"system=/redfish/v1/Systems/a b"}, "power_system: '/redfish/v1/Systems/a b' holds*"},
    {"redfish",
     "b",
     NULL,
     NULL,
     {"system=/redfish/v1/Systems/../x"},
     "power_system: '/redfish/v1/Systems/../x' is "
     "not a plain path"},
    {"redfish", "b", NULL, NULL, {"verify_tls=no"}, "power_verify_tls: 'no' is not true or false"},
    {"redfish", "b", NULL, NULL, {"auth=digest"}, "power_auth: 'digest' is not session or basic"},
    {"wol", NULL, NULL, NULL, {"mac=52:54:00:12:34"}, "power_mac: '52:54:00:12:34' is not a MAC address*"},
    {"wol",
     NULL,
     NULL,
     NULL,
     {"mac=01:00:5e:00:00:01"},
     "power_mac: 01:00:5e:00:00:01 is a multicast address, not "
     "a machine's"},
    {"wol", NULL, NULL, NULL, {"mac=00:00:00:00:00:00"}, "power_mac: 00:00:00:00:00:00 is not a machine's MAC"},
    {"wol", NULL, NULL, NULL, {"interface=a/b"}, "power_interface: 'a/b' is not an interface name"},
    {"wol", NULL, NULL, NULL, {"interface=sixteen-chars-xx"}, "power_interface: 'sixteen-chars-xx' is not an*"},
    {"wol", NULL, NULL, NULL, {"broadcast=ff02::1"}, "power_broadcast: 'ff02::1' is not an IPv4 address"},
    {"wol", NULL, NULL, NULL, {"broadcast=bcast"}, "power_broadcast: 'bcast' is not an IPv4 address"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct power_params p;
		char msg[MSG_LEN];
		memset(&p, 0xa5, sizeof(p));
		int r = decode(c->driver, c->address, c->user, c->password, c->opts, &p, msg);
		size_t wl = strlen(c->want);
		bool prefix = c->want[wl - 1] == '*';
		if (r != -EINVAL || (prefix ? strncmp(msg, c->want, wl - 1) != 0 : strcmp(msg, c->want) != 0))
			fail_msg("case %zu: got %d '%s', want '%s'", i, r, msg, c->want);
		/* Nothing left to free on error. */
		assert_null(p.address);
		assert_null(p.password);
		assert_string_equal(p.driver, "");
		/* A password is never quoted back. */
		if (c->password)
			assert_null(strstr(msg, c->password));
	}
}

static void test_value_limits(void **state)
{
	(void)state;
	struct power_params p;
	char msg[MSG_LEN];
	char long_host[300];
	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	assert_int_equal(decode("ipmi", long_host, NULL, NULL, NULL, &p, msg), -EINVAL);
	assert_string_equal(msg, "power_address: longer than 255 bytes");

	/* 253 bytes of labels is a host name; a 64-byte label is not. */
	char host[254];
	for (size_t i = 0; i < 253; i++)
		host[i] = (i % 50 == 49) ? '.' : 'b';
	host[253] = '\0';
	assert_int_equal(decode("redfish", host, NULL, NULL, NULL, &p, msg), 0);
	power_params_free(&p);
	char label[70];
	memset(label, 'c', 64);
	label[64] = '\0';
	assert_int_equal(decode("redfish", label, NULL, NULL, NULL, &p, msg), -EINVAL);

	/* Redfish passwords are not held to IPMI's 20 bytes. */
	assert_int_equal(
	    decode("redfish", "bmc", "a-long-redfish-user-name", "a-rather-long-redfish-password-1234", NULL, &p, msg),
	    0);
	power_params_free(&p);

	/* Messages are printable ASCII, and quote at most 64 bytes of an
	 * unknown key or driver. */
	const char *bad_keys[] = {"bad\x01key\xff"}, *bad_vals[] = {"1"};
	assert_int_equal(power_params_decode("ipmi", "b", NULL, NULL, bad_keys, bad_vals, 1, &p, msg, MSG_LEN),
			 -EINVAL);
	assert_true(strncmp(msg, "power_bad?key?: no such parameter;", 34) == 0);
	const char *priv[] = {"privilege=r\xc3\xb6\nt", NULL};
	assert_int_equal(decode("ipmi", "b", NULL, NULL, priv, &p, msg), -EINVAL);
	assert_string_equal(msg, "power_privilege: 'r???t' is not user, operator or admin");
	char long_key[100];
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	bad_keys[0] = long_key;
	assert_int_equal(power_params_decode("ipmi", "b", NULL, NULL, bad_keys, bad_vals, 1, &p, msg, MSG_LEN),
			 -EINVAL);
	assert_true(strncmp(msg + 6 + 64, ": no such parameter", 19) == 0);
	assert_int_equal(decode(long_key, NULL, NULL, NULL, NULL, &p, msg), -EINVAL);
	assert_true(strncmp(msg + 13 + 64, "' is not a power driver", 23) == 0);

	/* A short msg buffer is still terminated; NULL msg is fine. */
	char tiny[8];
	const char *keys[] = {"cipher_suite"}, *vals[] = {"5"};
	assert_int_equal(power_params_decode("ipmi", "b", NULL, NULL, keys, vals, 1, &p, tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "power_c");
	assert_int_equal(power_params_decode("ipmi", "b", NULL, NULL, keys, vals, 1, &p, NULL, 0), -EINVAL);
}

static void test_copy_free(void **state)
{
	(void)state;
	struct power_params p, c;
	char msg[MSG_LEN];
	const char *opts[] = {"system=/redfish/v1/Systems/1", "auth=basic", NULL};
	assert_int_equal(decode("redfish", "bmc9", "root", "pw9", opts, &p, msg), 0);
	assert_int_equal(power_params_copy(&c, &p), 0);
	assert_ptr_not_equal(c.address, p.address);
	assert_ptr_not_equal(c.password, p.password);
	power_params_free(&p);
	assert_string_equal(c.driver, "redfish");
	assert_string_equal(c.address, "bmc9");
	assert_string_equal(c.user, "root");
	assert_string_equal(c.password, "pw9");
	assert_string_equal(c.system, "/redfish/v1/Systems/1");
	assert_int_equal(c.port, 443);
	assert_false(c.session);
	assert_true(c.verify_tls);
	power_params_free(&c);
	assert_null(c.password);
	power_params_free(NULL);

	/* A struct filled by hand with NULL strings copies to "". */
	struct power_params h = {.driver = "manual"}, hc;
	assert_int_equal(power_params_copy(&hc, &h), 0);
	assert_string_equal(hc.address, "");
	assert_string_equal(hc.password, "");
	power_params_free(&hc);
}

static const char *kv_get(const struct power_param_kv *kv, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].name, name) == 0)
			return kv[i].value;
	return NULL;
}

/* Render, then decode the result: the same struct comes back. */
static void roundtrip(const char *driver, const char *address, const char *user, const char *password,
		      const char *const *opts, size_t want_min, size_t want_all)
{
	struct power_params p, q;
	char msg[MSG_LEN];
	assert_int_equal(decode(driver, address, user, password, opts, &p, msg), 0);
	for (int all = 0; all <= 1; all++) {
		struct power_param_kv kv[POWER_PARAMS_KV_MAX];
		size_t n = power_params_render(&p, all, kv, POWER_PARAMS_KV_MAX);
		if (n != (all ? want_all : want_min))
			fail_msg("%s %s: %zu parameters rendered, want %zu", driver, all ? "all" : "non-default", n,
				 all ? want_all : want_min);
		assert_null(kv_get(kv, n, "pass"));
		const char *keys[POWER_PARAMS_KV_MAX], *vals[POWER_PARAMS_KV_MAX];
		for (size_t i = 0; i < n; i++) {
			keys[i] = kv[i].name;
			vals[i] = kv[i].value;
		}
		assert_int_equal(power_params_decode(driver, NULL, NULL, password, keys, vals, n, &q, msg, MSG_LEN), 0);
		assert_string_equal(q.driver, p.driver);
		assert_string_equal(q.address, p.address);
		assert_string_equal(q.user, p.user);
		assert_string_equal(q.password, p.password);
		assert_int_equal(q.port, p.port);
		assert_int_equal(q.cipher_suite, p.cipher_suite);
		assert_int_equal(q.privilege, p.privilege);
		assert_int_equal(q.workarounds, p.workarounds);
		assert_int_equal(q.ipmi15, p.ipmi15);
		assert_string_equal(q.system, p.system);
		assert_int_equal(q.verify_tls, p.verify_tls);
		assert_int_equal(q.session, p.session);
		assert_memory_equal(q.mac, p.mac, 6);
		assert_string_equal(q.interface, p.interface);
		assert_string_equal(q.broadcast, p.broadcast);
		power_params_free(&q);
	}
	power_params_free(&p);
}

static void test_render(void **state)
{
	(void)state;
	/* ipmi: address + port, cipher_suite, privilege, ipmi_version at defaults. */
	roundtrip("ipmi", "10.0.0.5", NULL, NULL, NULL, 1, 5);
	const char *ipmi[] = {"cipher_suite=17", "workarounds=sun20,authcap", "privilege=operator", NULL};
	roundtrip("ipmi", "10.0.0.5", "admin", "pw", ipmi, 5, 7);
	const char *ipmi15[] = {"ipmi_version=1.5", NULL};
	roundtrip("ipmi", "10.0.0.5", NULL, NULL, ipmi15, 2, 4);
	roundtrip("redfish", "https://bmc:8443", "root", "calvin", NULL, 3, 5);
	const char *rf[] = {"system=/redfish/v1/Systems/1", "verify_tls=false", NULL};
	roundtrip("redfish", "bmc", NULL, NULL, rf, 3, 5);
	roundtrip("wol", NULL, NULL, NULL, NULL, 0, 2);
	const char *wol[] = {"mac=52:54:00:aa:bb:cc", "interface=eth1", "broadcast=10.0.0.255", NULL};
	roundtrip("wol", NULL, NULL, NULL, wol, 3, 4);
	roundtrip("manual", NULL, NULL, NULL, NULL, 0, 0);

	/* Values as the API shows them, and max is honoured. */
	struct power_params p;
	char msg[MSG_LEN];
	assert_int_equal(decode("ipmi", "10.0.0.5", "admin", "pw", ipmi, &p, msg), 0);
	struct power_param_kv kv[POWER_PARAMS_KV_MAX];
	size_t n = power_params_render(&p, false, kv, POWER_PARAMS_KV_MAX);
	assert_string_equal(kv_get(kv, n, "address"), "10.0.0.5");
	assert_string_equal(kv_get(kv, n, "user"), "admin");
	assert_string_equal(kv_get(kv, n, "cipher_suite"), "17");
	assert_string_equal(kv_get(kv, n, "workarounds"), "authcap,sun20");
	assert_string_equal(kv_get(kv, n, "privilege"), "operator");
	assert_null(kv_get(kv, n, "port"));
	assert_int_equal(power_params_render(&p, true, kv, 2), 2);
	assert_string_equal(kv[0].name, "address");
	assert_string_equal(kv[1].name, "user");
	power_params_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drivers_known),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_ipmi_defaults),
	    cmocka_unit_test(test_ipmi_all),
	    cmocka_unit_test(test_redfish_defaults),
	    cmocka_unit_test(test_redfish_url),
	    cmocka_unit_test(test_wol_defaults),
	    cmocka_unit_test(test_manual),
	    cmocka_unit_test(test_keys_carry_address),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_value_limits),
	    cmocka_unit_test(test_copy_free),
	    cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
