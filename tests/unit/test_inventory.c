#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/inventory.h"

#define MSG_LEN 512
#define TOKEN	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A complete commissioning report; each test changes one thing in it. */
static const char *const base_body =
    "{\"purpose\": \"commission\", \"token\": \"" TOKEN "\", \"boot_mac\": \"52:54:00:AA:bb:01\","
    " \"arch\": \"amd64\","
    " \"system\": {\"vendor\": \"  QEMU \", \"product\": \"Standard PC (i440FX + PIIX, 1996)\","
    "            \"serial\": \"\", \"uuid\": \"7f0c1a2e-0000-4000-8000-000000000001\"},"
    " \"cpu\": {\"count\": 2, \"model\": \"QEMU Virtual CPU version 2.5+\"},"
    " \"memory_mib\": 512,"
    " \"disks\": [{\"name\": \"vda\", \"size_bytes\": 2147483648, \"model\": \"\", \"serial\": \"ir-disk-0\","
    "             \"rotational\": true},"
    "            {\"name\": \"nvme0n1\", \"size_bytes\": 1000}],"
    " \"nics\": [{\"name\": \"eth0\", \"mac\": \"52:54:00:aa:bb:01\", \"driver\": \"e1000\","
    "            \"speed_mbps\": 1000, \"carrier\": true},"
    "           {\"name\": \"enp0s3.100@x\", \"mac\": \"52-54-00-AA-BB-02\"}]}";

static json_t *base(void)
{
	json_error_t je;
	json_t *j = json_loads(base_body, 0, &je);
	if (!j)
		fail_msg("base body: %s", je.text);
	return j;
}

static int parse_json(const json_t *j, struct inventory *ret, char *msg)
{
	char *s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	int r = inventory_parse(s, strlen(s), ret, msg, MSG_LEN);
	free(s);
	return r;
}

static int parse_text(const char *s, struct inventory *ret, char *msg)
{
	return inventory_parse(s, strlen(s), ret, msg, MSG_LEN);
}

/* The member at path ("disks[1].size_bytes") of j: its parent object and
 * the last key. */
static json_t *path_parent(json_t *j, const char *path, char *last, size_t lastlen)
{
	char buf[128], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	char *tok = strtok_r(buf, ".", &save), *next;
	for (; (next = strtok_r(NULL, ".", &save)); tok = next) {
		char *br = strchr(tok, '[');
		if (br)
			*br = '\0';
		j = json_object_get(j, tok);
		if (br)
			j = json_array_get(j, strtoul(br + 1, NULL, 10));
		assert_non_null(j);
	}
	snprintf(last, lastlen, "%s", tok);
	return j;
}

/* The base body with path set to value (JSON text), or deleted (NULL). */
static int parse_with(const char *path, const char *value, struct inventory *ret, char *msg)
{
	json_t *j = base();
	char key[64];
	json_t *parent = path_parent(j, path, key, sizeof(key));
	char *br = strchr(key, '[');
	if (value) {
		json_error_t je;
		json_t *v = json_loads(value, JSON_DECODE_ANY, &je);
		if (!v)
			fail_msg("value %s: %s", value, je.text);
		if (br) {
			*br = '\0';
			assert_int_equal(json_array_set_new(json_object_get(parent, key), strtoul(br + 1, NULL, 10), v),
					 0);
		} else {
			assert_int_equal(json_object_set_new(parent, key, v), 0);
		}
	} else {
		assert_null(br);
		assert_int_equal(json_object_del(parent, key), 0);
	}
	int r = parse_json(j, ret, msg);
	json_decref(j);
	return r;
}

static void assert_prefix(const char *msg, const char *want)
{
	if (strncmp(msg, want, strlen(want)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", msg, want);
}

static void test_valid_full(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";

	assert_int_equal(parse_text(base_body, &inv, msg), 0);
	assert_int_equal(inv.purpose, INV_COMMISSION);
	assert_string_equal(inv.token, TOKEN);
	assert_true(inv.has_boot_mac);
	static const uint8_t mac1[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0x01}, mac2[6] = {0x52, 0x54, 0, 0xaa, 0xbb, 2};
	assert_memory_equal(inv.boot_mac, mac1, 6);
	assert_string_equal(inv.arch, "amd64");
	assert_string_equal(inv.vendor, "QEMU");
	assert_string_equal(inv.product, "Standard PC (i440FX + PIIX, 1996)");
	assert_string_equal(inv.serial, "");
	assert_string_equal(inv.uuid, "7f0c1a2e-0000-4000-8000-000000000001");
	assert_int_equal(inv.cpu_count, 2);
	assert_string_equal(inv.cpu_model, "QEMU Virtual CPU version 2.5+");
	assert_int_equal(inv.memory_mib, 512);
	assert_int_equal(inv.n_disks, 2);
	assert_string_equal(inv.disks[0].name, "vda");
	assert_int_equal(inv.disks[0].size_bytes, 2147483648ULL);
	assert_string_equal(inv.disks[0].serial, "ir-disk-0");
	assert_true(inv.disks[0].rotational);
	assert_string_equal(inv.disks[1].name, "nvme0n1");
	assert_string_equal(inv.disks[1].model, "");
	assert_false(inv.disks[1].rotational);
	assert_int_equal(inv.n_nics, 2);
	assert_string_equal(inv.nics[0].name, "eth0");
	assert_memory_equal(inv.nics[0].mac, mac1, 6);
	assert_string_equal(inv.nics[0].driver, "e1000");
	assert_int_equal(inv.nics[0].speed_mbps, 1000);
	assert_true(inv.nics[0].carrier);
	assert_string_equal(inv.nics[1].name, "enp0s3.100@x");
	assert_memory_equal(inv.nics[1].mac, mac2, 6);
	assert_string_equal(inv.nics[1].driver, "");
	assert_int_equal(inv.nics[1].speed_mbps, 0);
	assert_false(inv.nics[1].carrier);
	assert_int_equal(inventory_storage_bytes(&inv), 2147484648ULL);

	/* Out and back in (with the token, which to_json leaves out). */
	json_t *j = inventory_to_json(&inv);
	assert_null(json_object_get(j, "token"));
	json_object_set_new(j, "token", json_string(TOKEN));
	struct inventory again;
	assert_int_equal(parse_json(j, &again, msg), 0);
	json_t *j2 = inventory_to_json(&again);
	json_object_set_new(j2, "token", json_string(TOKEN));
	assert_true(json_equal(j, j2));
	assert_memory_equal(again.disks, inv.disks, sizeof(*inv.disks) * inv.n_disks);
	assert_memory_equal(again.nics, inv.nics, sizeof(*inv.nics) * inv.n_nics);
	json_decref(j);
	json_decref(j2);
	inventory_free(&again);
	inventory_free(&inv);
	assert_null(inv.disks);
	assert_null(inv.nics);
	inventory_free(&inv);
	inventory_free(NULL);
}

static void test_to_json_normalised(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";

	assert_int_equal(parse_text(base_body, &inv, msg), 0);
	json_t *got = inventory_to_json(&inv);
	json_t *want = json_loads(
	    "{\"purpose\": \"commission\", \"boot_mac\": \"52:54:00:aa:bb:01\", \"arch\": \"amd64\","
	    " \"system\": {\"vendor\": \"QEMU\", \"product\": \"Standard PC (i440FX + PIIX, 1996)\", \"serial\": \"\","
	    "            \"uuid\": \"7f0c1a2e-0000-4000-8000-000000000001\"},"
	    " \"cpu\": {\"count\": 2, \"model\": \"QEMU Virtual CPU version 2.5+\"}, \"memory_mib\": 512,"
	    " \"disks\": [{\"name\": \"vda\", \"size_bytes\": 2147483648, \"model\": \"\", \"serial\": \"ir-disk-0\","
	    "             \"rotational\": true},"
	    "            {\"name\": \"nvme0n1\", \"size_bytes\": 1000, \"model\": \"\", \"serial\": \"\","
	    "             \"rotational\": false}],"
	    " \"nics\": [{\"name\": \"eth0\", \"mac\": \"52:54:00:aa:bb:01\", \"driver\": \"e1000\", \"speed_mbps\": "
	    "1000,"
	    "            \"carrier\": true},"
	    "           {\"name\": \"enp0s3.100@x\", \"mac\": \"52:54:00:aa:bb:02\", \"driver\": \"\", \"speed_mbps\": "
	    "0,"
	    "            \"carrier\": false}]}",
	    0, NULL);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *s = json_dumps(got, JSON_COMPACT);
		fail_msg("to_json gave %s", s);
	}
	json_decref(got);
	json_decref(want);
	inventory_free(&inv);

	/* No boot_mac in, none out; system absent: four empty strings. */
	json_t *j = base();
	json_object_del(j, "boot_mac");
	json_object_del(j, "system");
	json_object_set_new(j, "purpose", json_string("enlist"));
	json_object_del(j, "token");
	assert_int_equal(parse_json(j, &inv, msg), 0);
	json_decref(j);
	assert_false(inv.has_boot_mac);
	got = inventory_to_json(&inv);
	assert_null(json_object_get(got, "boot_mac"));
	assert_null(json_object_get(got, "token"));
	assert_string_equal(json_string_value(json_object_get(got, "purpose")), "enlist");
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "system"), "vendor")), "");
	assert_int_equal(json_object_size(json_object_get(got, "system")), 4);
	json_decref(got);
	inventory_free(&inv);
}

static void test_enlist_token(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";

	json_t *j = base();
	json_object_set_new(j, "purpose", json_string("enlist"));
	json_object_del(j, "token");
	assert_int_equal(parse_json(j, &inv, msg), 0);
	assert_int_equal(inv.purpose, INV_ENLIST);
	assert_string_equal(inv.token, "");
	inventory_free(&inv);

	json_object_set_new(j, "token", json_string(""));
	assert_int_equal(parse_json(j, &inv, msg), 0);
	assert_string_equal(inv.token, "");
	inventory_free(&inv);

	json_object_set_new(j, "token", json_string(TOKEN));
	assert_int_equal(parse_json(j, &inv, msg), -EINVAL);
	assert_string_equal(msg, "token: must be empty for enlist");
	json_decref(j);

	assert_int_equal(parse_with("token", NULL, &inv, msg), -EINVAL);
	assert_string_equal(msg, "token: required for commission");
	assert_int_equal(parse_with("token", "\"\"", &inv, msg), -EINVAL);
	assert_string_equal(msg, "token: required for commission");
	assert_string_equal(inventory_purpose_name(INV_ENLIST), "enlist");
	assert_string_equal(inventory_purpose_name(INV_COMMISSION), "commission");
}

/* One change to the base body, and the message it must draw. */
struct bad_case {
	const char *path, *value, *msg;
};

static const struct bad_case bad_cases[] = {
    /* required fields */
    {"purpose", NULL, "purpose: required"},
    {"arch", NULL, "arch: required"},
    {"cpu", NULL, "cpu: required"},
    {"cpu.count", NULL, "cpu.count: required"},
    {"memory_mib", NULL, "memory_mib: required"},
    {"disks", NULL, "disks: required"},
    {"nics", NULL, "nics: required"},
    {"disks[0].name", NULL, "disks[0].name: required"},
    {"disks[1].size_bytes", NULL, "disks[1].size_bytes: required"},
    {"nics[1].name", NULL, "nics[1].name: required"},
    {"nics[0].mac", NULL, "nics[0].mac: required"},
    /* purpose and token */
    {"purpose", "\"install\"", "purpose: must be enlist, commission, deploy or erase"},
    {"purpose", "\"Enlist\"", "purpose: must be enlist, commission, deploy or erase"},
    {"purpose", "1", "purpose: must be enlist, commission, deploy or erase"},
    {"token", "42", "token: must be a string"},
    {"token", "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"",
     "token: must be 64 lowercase hex digits"},
    {"token", "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"",
     "token: must be 64 lowercase hex digits"},
    {"token", "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"",
     "token: must be 64 lowercase hex digits"},
    {"token", "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\"",
     "token: must be 64 lowercase hex digits"},
    /* boot_mac and arch */
    {"boot_mac", "\"zz:54:00:aa:bb:01\"", "boot_mac: not a MAC address"},
    {"boot_mac", "null", "boot_mac: not a MAC address"},
    {"boot_mac", "\"01:00:5e:00:00:01\"", "boot_mac: must not be a multicast address"},
    {"arch", "\"AMD64\"", "arch: must be 1 to 15 of a-z, 0-9 and _"},
    {"arch", "\"\"", "arch: must be 1 to 15 of a-z, 0-9 and _"},
    {"arch", "\"abcdefghijklmnop\"", "arch: must be 1 to 15 of a-z, 0-9 and _"},
    {"arch", "64", "arch: must be 1 to 15 of a-z, 0-9 and _"},
    /* system strings */
    {"system", "[]", "system: must be an object"},
    {"system.vendor", "\"Q\\u0001EMU\"", "system.vendor: must be printable ASCII"},
    {"system.product", "\"caf\\u00e9\"", "system.product: must be printable ASCII"},
    {"system.serial", "\"tab\\there\"", "system.serial: must be printable ASCII"},
    {"system.uuid", "\"del\\u007f\"", "system.uuid: must be printable ASCII"},
    {"system.vendor", "42", "system.vendor: must be a string"},
    {"system.vendor", "null", "system.vendor: must be a string"},
    /* cpu and memory */
    {"cpu", "\"x\"", "cpu: must be an object"},
    {"cpu.count", "0", "cpu.count: must be an integer from 1 to 65536"},
    {"cpu.count", "65537", "cpu.count: must be an integer from 1 to 65536"},
    {"cpu.count", "\"2\"", "cpu.count: must be an integer from 1 to 65536"},
    {"cpu.count", "2.0", "cpu.count: must be an integer from 1 to 65536"},
    {"cpu.count", "true", "cpu.count: must be an integer from 1 to 65536"},
    {"cpu.model", "[]", "cpu.model: must be a string"},
    {"memory_mib", "0", "memory_mib: must be an integer from 1 to 1099511627776"},
    {"memory_mib", "1099511627777", "memory_mib: must be an integer from 1 to 1099511627776"},
    {"memory_mib", "-512", "memory_mib: must be an integer from 1 to 1099511627776"},
    /* disks */
    {"disks", "{}", "disks: must be an array"},
    {"disks[1]", "\"vdb\"", "disks[1]: must be an object"},
    {"disks[1].size_bytes", "4611686018427387905",
     "disks[1].size_bytes: must be an integer from 0 to 4611686018427387904"},
    {"disks[1].size_bytes", "-1", "disks[1].size_bytes: must be an integer from 0 to 4611686018427387904"},
    {"disks[1].size_bytes", "1e3", "disks[1].size_bytes: must be an integer from 0 to 4611686018427387904"},
    {"disks[0].name", "\"a/b\"", "disks[0].name: must be 1 to 31 of A-Z, a-z, 0-9, '.', '_' and '-'"},
    {"disks[0].name", "\"\"", "disks[0].name: must be 1 to 31 of"},
    {"disks[0].name", "\"abcdefghijklmnopqrstuvwxyz012345\"", "disks[0].name: must be 1 to 31 of"},
    {"disks[0].rotational", "\"yes\"", "disks[0].rotational: must be true or false"},
    {"disks[0].rotational", "1", "disks[0].rotational: must be true or false"},
    {"disks[0].model", "1", "disks[0].model: must be a string"},
    {"disks[1].serial", "\"\\n\"", "disks[1].serial: must be printable ASCII"},
    /* nics */
    {"nics", "[]", "nics: at least one"},
    {"nics", "\"eth0\"", "nics: must be an array"},
    {"nics[0]", "[]", "nics[0]: must be an object"},
    {"nics[0].name", "\"eth 0\"", "nics[0].name: must be 1 to 15 of A-Z, a-z, 0-9, '.', '_', ':', '@' and '-'"},
    {"nics[0].name", "\"abcdefghijklmnop\"", "nics[0].name: must be 1 to 15 of"},
    {"nics[0].name", "\"eth/0\"", "nics[0].name: must be 1 to 15 of"},
    {"nics[0].mac", "\"52:54:00:12:34\"", "nics[0].mac: not a MAC address"},
    {"nics[0].mac", "\"52:54:00:12:34:56:78\"", "nics[0].mac: not a MAC address"},
    {"nics[0].mac", "\"52:54:00-12-34-56\"", "nics[0].mac: not a MAC address"},
    {"nics[0].mac", "\"525400123456\"", "nics[0].mac: not a MAC address"},
    {"nics[0].mac", "12", "nics[0].mac: not a MAC address"},
    {"nics[0].mac", "\"00:00:00:00:00:00\"", "nics[0].mac: must not be all zero"},
    {"nics[1].mac", "\"33:33:00:00:00:01\"", "nics[1].mac: must not be a multicast address"},
    {"nics[1].mac", "\"52-54-00-AA-BB-01\"", "nics[1].mac: the same MAC as nics[0]"},
    {"nics[0].speed_mbps", "10000001", "nics[0].speed_mbps: must be an integer from 0 to 10000000"},
    {"nics[0].speed_mbps", "-1", "nics[0].speed_mbps: must be an integer from 0 to 10000000"},
    {"nics[0].carrier", "1", "nics[0].carrier: must be true or false"},
    {"nics[1].driver", "false", "nics[1].driver: must be a string"},
};

static void test_bad_fields(void **state)
{
	(void)state;
	char msg[MSG_LEN];

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct inventory inv;
		memset(&inv, 0x5a, sizeof(inv));
		struct inventory before = inv;
		msg[0] = '\0';
		int r = parse_with(c->path, c->value, &inv, msg);
		if (r != -EINVAL)
			fail_msg("%s = %s: %d, not -EINVAL (%s)", c->path, c->value ? c->value : "(deleted)", r, msg);
		assert_prefix(msg, c->msg);
		/* Nothing is filled in on failure. */
		assert_memory_equal(&inv, &before, sizeof(inv));
	}
}

static void test_limits_ok(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";
	char s[400];

	/* 256 bytes once trimmed, with blanks around. */
	memset(s, 0, sizeof(s));
	s[0] = '"';
	memset(s + 1, ' ', 3);
	memset(s + 4, 'x', INV_STR_MAX);
	memcpy(s + 4 + INV_STR_MAX, "  \"", 3);
	assert_int_equal(parse_with("system.vendor", s, &inv, msg), 0);
	assert_int_equal(strlen(inv.vendor), INV_STR_MAX);
	assert_int_equal(inv.vendor[0], 'x');
	inventory_free(&inv);
	/* One more is too long. */
	memcpy(s + 4 + INV_STR_MAX, "x  \"", 4);
	assert_int_equal(parse_with("system.vendor", s, &inv, msg), -EINVAL);
	assert_string_equal(msg, "system.vendor: at most 256 bytes");
	assert_int_equal(parse_with("disks[0].model", s, &inv, msg), -EINVAL);
	assert_string_equal(msg, "disks[0].model: at most 256 bytes");
	assert_int_equal(parse_with("nics[0].driver", s, &inv, msg), -EINVAL);
	assert_string_equal(msg, "nics[0].driver: at most 256 bytes");

	/* The edges themselves are in. */
	assert_int_equal(parse_with("disks[1].size_bytes", "4611686018427387904", &inv, msg), 0);
	assert_int_equal(inv.disks[1].size_bytes, 1ULL << 62);
	inventory_free(&inv);
	assert_int_equal(parse_with("memory_mib", "1099511627776", &inv, msg), 0);
	assert_int_equal(inv.memory_mib, 1ULL << 40);
	inventory_free(&inv);
	assert_int_equal(parse_with("cpu.count", "65536", &inv, msg), 0);
	assert_int_equal(inv.cpu_count, 65536);
	inventory_free(&inv);
	assert_int_equal(parse_with("nics[0].speed_mbps", "10000000", &inv, msg), 0);
	assert_int_equal(inv.nics[0].speed_mbps, 10000000);
	inventory_free(&inv);
	assert_int_equal(parse_with("disks[0].name", "\"abcdefghijklmnopqrstuvwxyz.-_01\"", &inv, msg), 0);
	assert_string_equal(inv.disks[0].name, "abcdefghijklmnopqrstuvwxyz.-_01");
	inventory_free(&inv);
	assert_int_equal(parse_with("nics[0].name", "\"a:b@c-d.e_f0123\"", &inv, msg), 0);
	assert_string_equal(inv.nics[0].name, "a:b@c-d.e_f0123");
	inventory_free(&inv);
	assert_int_equal(parse_with("arch", "\"ppc64_le0123456\"", &inv, msg), 0);
	inventory_free(&inv);
	assert_int_equal(parse_with("disks", "[]", &inv, msg), 0);
	assert_int_equal(inv.n_disks, 0);
	assert_int_equal(inventory_storage_bytes(&inv), 0);
	inventory_free(&inv);
}

static json_t *nic_n(size_t i)
{
	char mac[18], name[16];
	snprintf(mac, sizeof(mac), "52:54:00:00:%02x:%02x", (unsigned)(i >> 8) & 0xff, (unsigned)i & 0xff);
	snprintf(name, sizeof(name), "eth%u", (unsigned)i & 0xffff);
	return json_pack("{s:s, s:s}", "name", name, "mac", mac);
}

static void test_list_limits(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";
	json_t *j = base(), *disks = json_array(), *nics = json_array();

	for (size_t i = 0; i < INV_DISKS_MAX; i++)
		json_array_append_new(disks, json_pack("{s:s, s:I}", "name", "sda", "size_bytes", (json_int_t)i));
	for (size_t i = 0; i < INV_NICS_MAX; i++)
		json_array_append_new(nics, nic_n(i));
	json_object_set(j, "disks", disks);
	json_object_set(j, "nics", nics);
	json_object_del(j, "boot_mac");
	assert_int_equal(parse_json(j, &inv, msg), 0);
	assert_int_equal(inv.n_disks, INV_DISKS_MAX);
	assert_int_equal(inv.n_nics, INV_NICS_MAX);
	assert_int_equal(inv.nics[INV_NICS_MAX - 1].mac[5], 0x7f);
	assert_int_equal(inventory_storage_bytes(&inv), (uint64_t)INV_DISKS_MAX * (INV_DISKS_MAX - 1) / 2);
	inventory_free(&inv);

	json_array_append_new(disks, json_pack("{s:s, s:I}", "name", "sdz", "size_bytes", (json_int_t)1));
	assert_int_equal(parse_json(j, &inv, msg), -E2BIG);
	assert_string_equal(msg, "disks: at most 256");
	json_array_remove(disks, 0);

	json_array_append_new(nics, nic_n(INV_NICS_MAX));
	assert_int_equal(parse_json(j, &inv, msg), -E2BIG);
	assert_string_equal(msg, "nics: at most 128");

	/* A duplicate far down the list names both places. */
	json_array_remove(nics, INV_NICS_MAX);
	json_array_set_new(nics, 100, nic_n(7));
	assert_int_equal(parse_json(j, &inv, msg), -EINVAL);
	assert_string_equal(msg, "nics[100].mac: the same MAC as nics[7]");
	json_decref(disks);
	json_decref(nics);
	json_decref(j);
}

static void test_storage_saturates(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";
	json_t *j = base(), *disks = json_array();

	for (int i = 0; i < 4; i++)
		json_array_append_new(disks, json_pack("{s:s, s:I}", "name", "sda", "size_bytes", (json_int_t)1 << 62));
	json_object_set(j, "disks", disks);
	/* 4 * 2^62 = 2^64: one past what fits. */
	assert_int_equal(parse_json(j, &inv, msg), 0);
	assert_int_equal(inventory_storage_bytes(&inv), UINT64_MAX);
	inventory_free(&inv);
	/* 3 * 2^62 + (2^62 - 1) = 2^64 - 1 exactly, no saturation needed. */
	json_array_set_new(disks, 3, json_pack("{s:s, s:I}", "name", "sdd", "size_bytes", ((json_int_t)1 << 62) - 1));
	assert_int_equal(parse_json(j, &inv, msg), 0);
	assert_int_equal(inventory_storage_bytes(&inv), UINT64_MAX);
	inventory_free(&inv);
	json_array_set_new(disks, 3, json_pack("{s:s, s:I}", "name", "sdd", "size_bytes", ((json_int_t)1 << 62) - 2));
	assert_int_equal(parse_json(j, &inv, msg), 0);
	assert_int_equal(inventory_storage_bytes(&inv), UINT64_MAX - 1);
	inventory_free(&inv);
	json_decref(disks);
	json_decref(j);
}

static void test_body(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";

	/* Exactly the limit (the base padded with blanks) passes; one more byte is 413's. */
	size_t n = INV_BODY_MAX;
	char *big = malloc(n + 2);
	assert_non_null(big);
	memset(big, ' ', n + 1);
	memcpy(big, base_body, strlen(base_body));
	assert_int_equal(inventory_parse(big, n, &inv, msg, MSG_LEN), 0);
	inventory_free(&inv);
	assert_int_equal(inventory_parse(big, n + 1, &inv, msg, MSG_LEN), -E2BIG);
	assert_string_equal(msg, "body: larger than 262144 bytes");
	free(big);

	assert_int_equal(parse_text("{\"purpose\": ", &inv, msg), -EINVAL);
	assert_prefix(msg, "body: not JSON (line 1 column ");
	assert_int_equal(parse_text("", &inv, msg), -EINVAL);
	assert_prefix(msg, "body: not JSON (line ");
	assert_int_equal(parse_text("{\"arch\": \"amd64\",\n \"arch\": \"arm64\"}", &inv, msg), -EINVAL);
	assert_prefix(msg, "body: not JSON (line 2 column ");
	assert_non_null(strstr(msg, "duplicate"));
	/* A duplicate deeper down too. */
	assert_int_equal(parse_text("{\"cpu\": {\"count\": 1, \"count\": 2}}", &inv, msg), -EINVAL);
	assert_non_null(strstr(msg, "duplicate"));

	char *trail = malloc(strlen(base_body) + 8);
	sprintf(trail, "%s {}", base_body);
	assert_int_equal(parse_text(trail, &inv, msg), -EINVAL);
	assert_prefix(msg, "body: not JSON (line 1 column ");
	sprintf(trail, "%s x", base_body);
	assert_int_equal(parse_text(trail, &inv, msg), -EINVAL);
	assert_prefix(msg, "body: not JSON (");
	/* A NUL after the object is not the end of the body. */
	size_t bl = strlen(base_body);
	memcpy(trail, base_body, bl + 1);
	assert_int_equal(inventory_parse(trail, bl + 1, &inv, msg, MSG_LEN), -EINVAL);
	assert_prefix(msg, "body: not JSON (");
	/* And a body without one needs none. */
	trail[bl] = 'X';
	assert_int_equal(inventory_parse(trail, bl, &inv, msg, MSG_LEN), 0);
	inventory_free(&inv);
	free(trail);

	assert_int_equal(parse_text("[]", &inv, msg), -EINVAL);
	assert_string_equal(msg, "body: must be an object");
	assert_int_equal(parse_text("42", &inv, msg), -EINVAL);
	assert_string_equal(msg, "body: must be an object");
	assert_int_equal(parse_text("\"x\"", &inv, msg), -EINVAL);
	assert_string_equal(msg, "body: must be an object");
	assert_int_equal(parse_text("{}", &inv, msg), -EINVAL);
	assert_string_equal(msg, "purpose: required");

	/* Invalid UTF-8: refused, and the message stays printable. */
	assert_int_equal(parse_text("{\"arch\": \"\xff\x01\"}", &inv, msg), -EINVAL);
	assert_prefix(msg, "body: not JSON (");
	for (const char *p = msg; *p; p++)
		assert_true(*p >= 0x20 && *p <= 0x7e);
	/* No room for the message is no harm. */
	assert_int_equal(inventory_parse("[]", 2, &inv, NULL, 0), -EINVAL);
	assert_int_equal(inventory_parse("{", 1, &inv, NULL, 0), -EINVAL);
	char tiny[8];
	assert_int_equal(inventory_parse("[]", 2, &inv, tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "body: m");
}

static void test_unknown_and_depth(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";
	char nest[200];

	assert_int_equal(parse_with("firmware", "{\"bios\": \"1.2\", \"list\": [1, 2, {\"x\": null}]}", &inv, msg), 0);
	inventory_free(&inv);
	assert_int_equal(parse_with("disks[0].wwn", "\"0x5000\"", &inv, msg), 0);
	inventory_free(&inv);
	assert_int_equal(parse_with("nics[1].ipv4", "[\"10.0.0.1\"]", &inv, msg), 0);
	inventory_free(&inv);
	assert_int_equal(parse_with("system.family", "7", &inv, msg), 0);
	inventory_free(&inv);

	/* 29 levels inside the body's own: 30 in all, fine; 33 is not. */
	memset(nest, 0, sizeof(nest));
	memset(nest, '[', 29);
	memset(nest + 29, ']', 29);
	assert_int_equal(parse_with("extra", nest, &inv, msg), 0);
	inventory_free(&inv);
	memset(nest, 0, sizeof(nest));
	memset(nest, '[', 32);
	memset(nest + 32, ']', 32);
	assert_int_equal(parse_with("extra", nest, &inv, msg), -EINVAL);
	assert_string_equal(msg, "body: nested deeper than 32");
	/* Brackets inside strings are text, escaped quotes included. */
	assert_int_equal(parse_with("extra", "\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"", &inv, msg),
			 0);
	inventory_free(&inv);
}

/* ---- deploy and erase steps ---- */

static int parse_step_text(const char *fmt, const char *a, struct inventory *ret, char *msg)
{
	char body[4096];
	snprintf(body, sizeof(body), fmt, a);
	return parse_text(body, ret, msg);
}

static void test_step_start_done(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";

	assert_int_equal(parse_text("{\"purpose\": \"deploy\", \"token\": \"" TOKEN
				    "\", \"mac\": \"52:54:00:AA:00:01\","
				    " \"step\": \"start\", \"result\": 7}",
				    &inv, msg),
			 0);
	assert_int_equal(inv.purpose, INV_DEPLOY);
	assert_true(inventory_is_step(&inv));
	assert_int_equal(inv.step, INV_STEP_START);
	assert_string_equal(inv.token, TOKEN);
	assert_true(inv.has_boot_mac);
	assert_memory_equal(inv.boot_mac, ((uint8_t[]){0x52, 0x54, 0, 0xaa, 0, 1}), 6);
	assert_false(inv.has_result); /* a result on a start is not read */
	assert_int_equal(inv.n_nics, 0);
	assert_null(inv.nics);
	json_t *j = inventory_to_json(&inv);
	char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(out, "{\"mac\":\"52:54:00:aa:00:01\",\"purpose\":\"deploy\",\"step\":\"start\"}");
	free(out);
	json_decref(j);
	inventory_free(&inv);

	assert_int_equal(
	    parse_text("{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"done\","
		       " \"result\": {\"disk\": \"/dev/vda\", \"bytes\": 1073741824, \"download_ms\": 8123,"
		       " \"write_ms\": 9000, \"sha256\": \"" TOKEN "\", \"extra\": [1]}}",
		       &inv, msg),
	    0);
	assert_int_equal(inv.step, INV_STEP_DONE);
	assert_false(inv.has_boot_mac);
	assert_true(inv.has_result);
	assert_string_equal(inv.result.disk, "/dev/vda");
	assert_int_equal(inv.result.bytes, 1073741824);
	assert_int_equal(inv.result.download_ms, 8123);
	assert_int_equal(inv.result.write_ms, 9000);
	assert_string_equal(inv.result.sha256, TOKEN);
	j = inventory_to_json(&inv);
	out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(out, "{\"purpose\":\"deploy\",\"result\":{\"bytes\":1073741824,\"disk\":\"/dev/vda\","
				 "\"download_ms\":8123,\"sha256\":\"" TOKEN "\",\"write_ms\":9000},\"step\":\"done\"}");
	free(out);
	json_decref(j);
	inventory_free(&inv);

	/* An erase done without a result; the hardware fields are not read. */
	assert_int_equal(parse_text("{\"purpose\": \"erase\", \"token\": \"" TOKEN "\", \"step\": \"done\","
				    " \"cpu\": \"x\", \"nics\": 3}",
				    &inv, msg),
			 0);
	assert_int_equal(inv.purpose, INV_ERASE);
	assert_false(inv.has_result);
	assert_string_equal(inventory_purpose_name(INV_ERASE), "erase");
	assert_string_equal(inventory_purpose_name(INV_DEPLOY), "deploy");
	assert_string_equal(inventory_step_name(INV_STEP_FAILED), "failed");
	assert_string_equal(inventory_step_name(INV_STEP_NONE), "");
	inventory_free(&inv);

	/* A commissioning report is no step. */
	assert_int_equal(parse_text(base_body, &inv, msg), 0);
	assert_false(inventory_is_step(&inv));
	assert_int_equal(inv.step, INV_STEP_NONE);
	inventory_free(&inv);
}

static void test_step_failed(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";
	static const char *const fmt = "{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"failed\","
				       " \"stage\": \"verify\", \"error\": %s}";

	assert_int_equal(parse_step_text(fmt, "\"  checksum: expected ab, got cd \"", &inv, msg), 0);
	assert_int_equal(inv.step, INV_STEP_FAILED);
	assert_string_equal(inv.stage, "verify");
	assert_string_equal(inv.error, "checksum: expected ab, got cd");
	inventory_free(&inv);

	/* Never refused for its bytes: control and non-ASCII become '?'. */
	assert_int_equal(parse_step_text(fmt, "\"disk\\nfull \\u00e9\\t!\"", &inv, msg), 0);
	assert_string_equal(inv.error, "disk?full ??"
				       "?!");
	inventory_free(&inv);

	/* Cut at INV_ERROR_MAX, ending "...". */
	char big[2048] = "\"";
	memset(big + 1, 'e', 1000);
	strcpy(big + 1001, "\"");
	assert_int_equal(parse_step_text(fmt, big, &inv, msg), 0);
	assert_int_equal(strlen(inv.error), INV_ERROR_MAX);
	assert_string_equal(inv.error + INV_ERROR_MAX - 4, "e...");
	/* and that is kept as it is when posted again */
	char again[INV_ERROR_MAX + 3];
	snprintf(again, sizeof(again), "\"%s\"", inv.error);
	inventory_free(&inv);
	assert_int_equal(parse_step_text(fmt, again, &inv, msg), 0);
	assert_int_equal(strlen(inv.error), INV_ERROR_MAX);
	inventory_free(&inv);

	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "purpose", "erase", "token", TOKEN, "step", "failed",
			      "stage", "erase", "error", "write /dev/vda: I/O error");
	assert_int_equal(parse_json(j, &inv, msg), 0);
	json_decref(j);
	j = inventory_to_json(&inv);
	char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(out, "{\"error\":\"write /dev/vda: I/O error\",\"purpose\":\"erase\",\"stage\":\"erase\","
				 "\"step\":\"failed\"}");
	free(out);
	json_decref(j);
	inventory_free(&inv);
}

static void test_step_bad(void **state)
{
	(void)state;
	struct inventory inv;
	char msg[MSG_LEN] = "";
	static const struct {
		const char *body, *msg;
	} bad[] = {
	    {"{\"purpose\": \"deploy\", \"step\": \"start\"}", "token: required for deploy"},
	    {"{\"purpose\": \"erase\", \"token\": \"\", \"step\": \"start\"}", "token: required for erase"},
	    {"{\"purpose\": \"deploy\", \"token\": \"ABC\", \"step\": \"start\"}",
	     "token: must be 64 lowercase hex digits"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\"}", "step: required"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"begin\"}",
	     "step: must be start, done or failed"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": 1}", "step: must be start, done or failed"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"start\", \"mac\": \"01:00:5e:00:00:01\"}",
	     "mac: must not be a multicast address"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"start\", \"mac\": \"x\"}",
	     "mac: not a MAC address"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"done\", \"result\": []}",
	     "result: must be an object"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"done\", \"result\": {\"bytes\": -1}}",
	     "result.bytes: must be an integer from 0 to 4611686018427387904"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"done\", \"result\": {\"write_ms\": 1.5}}",
	     "result.write_ms: must be an integer from 0 to 1099511627776"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"done\", \"result\": {\"disk\": \"a b\"}}",
	     "result.disk: must be 1 to 63 of A-Z, a-z, 0-9, '/', '.', '_' and '-'"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN
	     "\", \"step\": \"done\", \"result\": {\"sha256\": \"AB\"}}",
	     "result.sha256: must be 64 lowercase hex digits"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"failed\", \"error\": \"x\"}",
	     "stage: required"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"failed\", \"stage\": \"Write\","
	     " \"error\": \"x\"}",
	     "stage: must be 1 to 15 of a-z, 0-9, '_' and '-'"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"failed\", \"stage\": \"write\"}",
	     "error: required for a failed step"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"failed\", \"stage\": \"write\","
	     " \"error\": 5}",
	     "error: must be a string"},
	    {"{\"purpose\": \"deploy\", \"token\": \"" TOKEN "\", \"step\": \"failed\", \"stage\": \"write\","
	     " \"error\": \"   \"}",
	     "error: must not be empty"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		if (parse_text(bad[i].body, &inv, msg) != -EINVAL)
			fail_msg("accepted: %s", bad[i].body);
		if (strcmp(msg, bad[i].msg) != 0)
			fail_msg("%s: message \"%s\", expected \"%s\"", bad[i].body, msg, bad[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_full),	      cmocka_unit_test(test_to_json_normalised),
	    cmocka_unit_test(test_enlist_token),      cmocka_unit_test(test_bad_fields),
	    cmocka_unit_test(test_limits_ok),	      cmocka_unit_test(test_list_limits),
	    cmocka_unit_test(test_storage_saturates), cmocka_unit_test(test_body),
	    cmocka_unit_test(test_unknown_and_depth), cmocka_unit_test(test_step_start_done),
	    cmocka_unit_test(test_step_failed),	      cmocka_unit_test(test_step_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
