/* Unit tests for the lifecycle commands' pure text handling
 * (region/cli/machines_format.c): sizes for people, options to a request
 * body, paths, the poll schedule, status lines, the machine list and
 * `machines show`. region/cli/ is its own binary, so the files under test
 * are included here directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region/cli/args.c"
#include "region/cli/format.c"
#include "region/cli/machines_format.c"
#include "region/cli/table.c"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a[0])))
#define DASH	"\xe2\x80\x94"

static int64_t at(const char *rfc3339)
{
	int64_t ms;

	assert_int_equal(cli_rfc3339_parse(rfc3339, &ms), 0);
	return ms;
}

static char *fake_escape(const char *s)
{
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	for (; *s; s++)
		o += (*s == '/' || *s == ' ') ? sprintf(o, "%%%02X", (unsigned char)*s) : sprintf(o, "%c", *s);
	*o = '\0';
	return out;
}

static void check_size(uint64_t bytes, const char *want)
{
	char buf[32];

	cli_machines_size_format(bytes, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_sizes(void **state)
{
	check_size(0, DASH);
	check_size(1, "1 B");
	check_size(1023, "1023 B");
	check_size(1024, "1.0 KiB");
	check_size(512ULL << 20, "512 MiB");
	check_size(3ULL << 30, "3.0 GiB");
	check_size(1536ULL << 20, "1.5 GiB");
	check_size(16ULL << 30, "16 GiB");
	/* A 500 GB disk. */
	check_size(500000000000ULL, "466 GiB");
	/* 1023.7 MiB is not "1024 MiB". */
	check_size((1023ULL << 20) + (700ULL << 10), "1.0 GiB");
	check_size(9ULL << 20, "9.0 MiB");
	check_size((99ULL << 20) / 10, "9.9 MiB");
	check_size(10ULL << 40, "10 TiB");
	check_size(UINT64_MAX, "16 EiB");
	/* Cut, still terminated. */
	char small[4];
	cli_machines_size_format(3ULL << 30, small, sizeof(small));
	assert_string_equal(small, "3.0");
}

/* Parse argv as main does and check the options for action. */
static int action_parse(int argc, char **argv, const char *action, int64_t *wait_ms, json_t **body, char *err,
			size_t errlen)
{
	struct cli_args a;

	assert_int_equal(cli_args_parse(argc, argv, &a, err, errlen), 0);
	int rc = cli_machines_action_parse(action, &a, wait_ms, body, err, errlen);
	cli_args_done(&a);
	return rc;
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void test_action_options(void **state)
{
	char *plain[] = {"ironrack", "machines", "abort", "n"};
	char *full[] = {"ironrack", "machines", "commission", "n", "--wait", "--timeout", "60", "--comment", "new RAM"};
	char *wait[] = {"ironrack", "--wait"};
	int64_t wait_ms = -1;
	json_t *body;
	char err[160], *text;

	assert_int_equal(action_parse(ARGC(plain), plain, "abort", &wait_ms, &body, err, sizeof(err)), 0);
	assert_int_equal(wait_ms, 0);
	text = dump(body);
	assert_string_equal(text, "{}");
	free(text);
	json_decref(body);

	assert_int_equal(action_parse(ARGC(full), full, "commission", &wait_ms, &body, err, sizeof(err)), 0);
	assert_int_equal(wait_ms, 60000);
	text = dump(body);
	assert_string_equal(text, "{\"comment\":\"new RAM\"}");
	free(text);
	json_decref(body);

	assert_int_equal(action_parse(ARGC(wait), wait, "commission", &wait_ms, &body, err, sizeof(err)), 0);
	assert_int_equal(wait_ms, 1800000);
	json_decref(body);
}

static void test_action_refusals(void **state)
{
	char *wait[] = {"ironrack", "--wait"};
	char *no_wait[] = {"ironrack", "--timeout", "10"};
	char *too_long[] = {"ironrack", "--wait", "--timeout", "36001"};
	char bad_utf8[] = "--comment=\xff";
	char *bad[] = {"ironrack", bad_utf8};
	char *huge = malloc(CLI_MACHINES_COMMENT_MAX + 20);
	char *big[] = {"ironrack", huge};
	int64_t wait_ms;
	json_t *body = (json_t *)1;
	char err[160];

	assert_int_equal(action_parse(ARGC(wait), wait, "mark-broken", &wait_ms, &body, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--wait applies to commission only");
	assert_null(body);
	assert_int_equal(action_parse(ARGC(no_wait), no_wait, "commission", &wait_ms, &body, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "--timeout needs --wait (it bounds the wait)");
	assert_int_equal(action_parse(ARGC(too_long), too_long, "commission", &wait_ms, &body, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "--timeout with --wait wants seconds from 1 to 36000, not \"36001\"");
	assert_int_equal(action_parse(ARGC(bad), bad, "abort", &wait_ms, &body, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--comment is not UTF-8 text");
	assert_null(body);
	strcpy(huge, "--comment=");
	memset(huge + 10, 'x', CLI_MACHINES_COMMENT_MAX + 1);
	huge[10 + CLI_MACHINES_COMMENT_MAX + 1] = '\0';
	assert_int_equal(action_parse(ARGC(big), big, "abort", &wait_ms, &body, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--comment is longer than 1024 bytes");
	huge[10 + CLI_MACHINES_COMMENT_MAX] = '\0';
	assert_int_equal(action_parse(ARGC(big), big, "abort", &wait_ms, &body, err, sizeof(err)), 0);
	assert_int_equal(strlen(json_string_value(json_object_get(body, "comment"))), CLI_MACHINES_COMMENT_MAX);
	json_decref(body);
	free(huge);
}

static void test_paths_and_polls(void **state)
{
	char buf[128], small[23];
	const int64_t want[] = {1000, 1500, 2250, 3375, 5000, 5000};

	assert_int_equal(cli_machines_path("node-1", "/mark-broken", fake_escape, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/api/v1/machines/node-1/mark-broken");
	assert_int_equal(cli_machines_path("a b/c", "", fake_escape, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/api/v1/machines/a%20b%2Fc");
	assert_int_equal(cli_machines_path("node-1", "", fake_escape, small, sizeof(small)), -ENOSPC);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(cli_machines_poll_delay_ms(i), want[i]);
	assert_int_equal(cli_machines_poll_delay_ms(100000), 5000);
}

static void check_status(const char *json, bool commissioning, const char *want)
{
	json_t *m = json_loads(json, 0, NULL);
	char buf[256];

	assert_non_null(m);
	assert_int_equal(cli_machine_is(m, "COMMISSIONING"), commissioning);
	cli_machines_status_line(m, buf, sizeof(buf));
	assert_string_equal(buf, want);
	json_decref(m);
}

static void test_status_lines(void **state)
{
	check_status("{\"hostname\": \"node-1\", \"status\": \"READY\", \"status_message\": \"\"}", false,
		     "node-1: READY");
	check_status("{\"hostname\": \"node-1\", \"status\": \"COMMISSIONING\","
		     " \"status_message\": \"waiting for someone to power the machine on (manual power)\"}",
		     true, "node-1: COMMISSIONING (waiting for someone to power the machine on (manual power))");
	check_status("{\"hostname\": \"n\", \"status\": \"FAILED_COMMISSIONING\","
		     " \"status_message\": \"no\\u001b[2Jpe\"}",
		     false, "n: FAILED_COMMISSIONING (no?[2Jpe)");
	check_status("{}", false, "?: ?");
}

static char *render(int (*print)(const json_t *, FILE *), const json_t *j)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(print(j, f), 0);
	fclose(f);
	return text;
}

static void test_list(void **state)
{
	json_t *ms = json_loads(
	    "[{\"id\": 1, \"hostname\": \"node-1\", \"status\": \"READY\", \"power_state\": \"off\","
	    " \"zone\": \"default\", \"cpu_count\": 4, \"memory_mib\": 3072, \"storage_bytes\": 21474836480},"
	    " {\"id\": 2, \"hostname\": \"node-22\", \"status\": \"COMMISSIONING\", \"power_state\": \"unknown\","
	    " \"zone\": \"lab\", \"cpu_count\": 0, \"memory_mib\": 0, \"storage_bytes\": 0},"
	    " {\"id\": 3, \"hostname\": \"big\", \"status\": \"NEW\", \"power_state\": null,"
	    " \"zone\": \"lab\", \"cpu_count\": 128, \"memory_mib\": 524288, \"storage_bytes\": 8000000000000}]",
	    0, NULL);
	char *text = render(cli_machines_list_print, ms);

	/* The order given; "—" is one column wide. */
	assert_string_equal(text, "HOSTNAME  STATUS         POWER    ZONE     CPUS  RAM      DISK\n"
				  "node-1    READY          off      default  4     3.0 GiB  20 GiB\n"
				  "node-22   COMMISSIONING  unknown  lab      " DASH "     " DASH "        " DASH "\n"
				  "big       NEW            -        lab      128   512 GiB  7.3 TiB\n");
	free(text);
	json_decref(ms);
}

static const char machine_json[] =
    "{\"id\": 3, \"hostname\": \"node-1\", \"zone\": \"default\", \"description\": \"\","
    " \"architecture\": \"amd64/generic\", \"power_type\": \"ipmi\", \"power_state\": \"on\","
    " \"power_error\": \"\", \"power_address\": \"10.44.0.12\", \"power_user\": \"admin\","
    " \"power_pass_set\": true, \"power_pass\": \"leaked\","
    " \"power_options\": {\"cipher_suite\": \"17\", \"privilege\": \"ADMINISTRATOR\"},"
    " \"power_state_at\": \"2024-05-01T12:04:30Z\", \"power_rack\": \"rack-1\", \"status\": \"COMMISSIONING\","
    " \"status_message\": \"waiting for the machine's agent\","
    " \"status_since\": \"2024-05-01T12:00:00Z\", \"status_deadline\": \"2024-05-01T12:30:00Z\","
    " \"cpu_count\": 4, \"cpu_model\": \"Intel Xeon E5\", \"memory_mib\": 3072, \"storage_bytes\": 0,"
    " \"disk_count\": 2, \"hardware_at\": \"2024-05-01T11:00:00Z\","
    " \"hardware\": {\"system\": {\"vendor\": \"QEMU\", \"product\": \"Standard PC (Q35 + ICH9, 2009)\","
    "   \"serial\": \"\", \"uuid\": \"8c7e6e2a-0000-4000-8000-000000000001\"},"
    "  \"cpu\": {\"count\": 4, \"model\": \"Intel Xeon E5\"}, \"memory_mib\": 3072,"
    "  \"disks\": [{\"name\": \"vda\", \"size_bytes\": 21474836480, \"model\": \"\", \"serial\": \"d-1\","
    "   \"rotational\": false},"
    "   {\"name\": \"sdb\", \"size_bytes\": 4000787030016, \"model\": \"WDC WD40\", \"serial\": \"WX1\","
    "   \"rotational\": true}],"
    "  \"nics\": [], \"arch\": \"amd64\"}}";

static int show_at_five_past(const json_t *view, FILE *f)
{
	return cli_machines_show_print(view, at("2024-05-01T12:05:00Z"), f);
}

static void test_show(void **state)
{
	json_t *m = json_loads(machine_json, 0, NULL);
	json_t *ifaces =
	    json_loads("[{\"id\": 7, \"machine\": 3, \"machine_hostname\": \"node-1\", \"name\": \"eth0\","
		       " \"mac\": \"52:54:00:00:00:01\", \"vlan\": 5001, \"links\": 2, \"driver\": \"virtio_net\","
		       " \"speed_mbps\": 2500, \"carrier\": true},"
		       " {\"id\": 8, \"machine\": 3, \"machine_hostname\": \"node-1\", \"name\": \"eth1\","
		       " \"mac\": \"52:54:00:00:00:02\", \"vlan\": null, \"links\": 0, \"driver\": \"\","
		       " \"speed_mbps\": 0, \"carrier\": false}]",
		       0, NULL);
	json_t *links = json_loads(
	    "[{\"id\": 1, \"ip\": \"10.0.0.5\", \"subnet_cidr\": \"10.0.0.0/24\", \"mode\": \"auto\", \"interface\": "
	    "7},"
	    " {\"id\": 2, \"ip\": null, \"subnet_cidr\": \"10.1.0.0/16\", \"mode\": \"dhcp\", \"interface\": 7},"
	    " {\"id\": 3, \"ip\": \"10.9.0.1\", \"subnet_cidr\": \"10.9.0.0/24\", \"mode\": \"static\","
	    " \"interface\": 99}]",
	    0, NULL);
	json_t *events = json_loads(
	    "[{\"id\": 4, \"at\": \"2024-05-01T12:00:00Z\", \"kind\": \"status\", \"actor\": \"admin\","
	    " \"description\": \"READY \xe2\x86\x92 COMMISSIONING: commission requested by key admin\"},"
	    " {\"id\": 5, \"at\": \"2024-05-01T12:00:01Z\", \"kind\": \"power.requested\", \"actor\": \"region\","
	    " \"description\": \"power cycle, boot pxe\"}]",
	    0, NULL);
	json_t *view =
	    json_pack("{s:O, s:O, s:O, s:O}", "machine", m, "interfaces", ifaces, "links", links, "events", events);
	char *text = render(show_at_five_past, view);

	assert_string_equal(
	    text,
	    "Hostname:      node-1 (id 3)\n"
	    "Status:        COMMISSIONING\n"
	    "Message:       waiting for the machine's agent\n"
	    "Since:         2024-05-01T12:00:00Z (5m ago)\n"
	    "Deadline:      2024-05-01T12:30:00Z (in 25m)\n"
	    "Power:         on (ipmi, checked 30s ago)\n"
	    "BMC address:   10.44.0.12\n"
	    "BMC user:      admin\n"
	    "BMC password:  set\n"
	    "BMC options:   cipher_suite=17, privilege=ADMINISTRATOR\n"
	    "Power rack:    rack-1\n"
	    "Zone:          default\n"
	    "Architecture:  amd64/generic\n"
	    "\n"
	    "Hardware (reported 2024-05-01T11:00:00Z (1h ago)):\n"
	    "  Vendor:   QEMU\n"
	    "  Product:  Standard PC (Q35 + ICH9, 2009)\n"
	    "  Serial:   -\n"
	    "  UUID:     8c7e6e2a-0000-4000-8000-000000000001\n"
	    "  CPU:      4 \xc3\x97 Intel Xeon E5\n"
	    "  Memory:   3.0 GiB\n"
	    "  Storage:  3.7 TiB on 2 disks\n"
	    "  NAME  SIZE     MODEL     SERIAL  ROTATIONAL\n"
	    "  vda   20 GiB   -         d-1     no\n"
	    "  sdb   3.6 TiB  WDC WD40  WX1     yes\n"
	    "\n"
	    "Interfaces:\n"
	    "  NAME  MAC                VLAN  DRIVER      SPEED     CARRIER  LINKS\n"
	    "  eth0  52:54:00:00:00:01  5001  virtio_net  2.5 Gb/s  yes      10.0.0.5/24 (auto), 10.1.0.0/16 (dhcp)\n"
	    "  eth1  52:54:00:00:00:02  -     -           " DASH "         no       -\n"
	    "\n"
	    "Events (latest 2, oldest first):\n"
	    "  AT                    KIND             ACTOR   DESCRIPTION\n"
	    "  2024-05-01T12:00:00Z  status           admin   READY \xe2\x86\x92 COMMISSIONING: commission requested "
	    "by key admin\n"
	    "  2024-05-01T12:00:01Z  power.requested  region  power cycle, boot pxe\n");
	free(text);
	json_decref(view);

	/* A NEW machine: no hardware yet, no deadline, no interfaces, no events;
	 * a power error and a description are shown. */
	json_object_set_new(m, "status", json_string("NEW"));
	json_object_set_new(m, "status_message", json_string(""));
	json_object_set_new(m, "status_deadline", json_null());
	json_object_set_new(m, "hardware", json_object());
	json_object_set_new(m, "hardware_at", json_null());
	json_object_set_new(m, "power_type", json_string(""));
	json_object_set_new(m, "power_state", json_string("unknown"));
	json_object_set_new(m, "power_error", json_string("no rack reaches 10.9.0.5"));
	json_object_set_new(m, "description", json_string("rack 4, U12"));
	view = json_pack("{s:O, s:[], s:[], s:[]}", "machine", m, "interfaces", "links", "events");
	json_object_set_new(m, "power_type", json_string("manual"));
	text = render(show_at_five_past, view);
	assert_non_null(
	    strstr(text, "Power:         unknown (manual, checked 30s ago)\nPower error:   no rack reaches 10.9.0.5\n"
			 "Power rack:    rack-1\nZone:"));
	assert_null(strstr(text, "BMC"));
	free(text);
	json_object_set_new(m, "power_type", json_string(""));
	text = render(show_at_five_past, view);
	assert_string_equal(text, "Hostname:      node-1 (id 3)\n"
				  "Status:        NEW\n"
				  "Since:         2024-05-01T12:00:00Z (5m ago)\n"
				  "Power:         no power type (set one with 'ironrack machines update HOST "
				  "power_type=...')\n"
				  "Power error:   no rack reaches 10.9.0.5\n"
				  "Zone:          default\n"
				  "Architecture:  amd64/generic\n"
				  "Description:   rack 4, U12\n"
				  "\n"
				  "Hardware: not known yet (commissioning reads it)\n"
				  "\n"
				  "Interfaces: none\n"
				  "\n"
				  "Events: none\n");
	free(text);
	json_decref(view);

	/* A deployed machine: its owner, tags, image and what the agent wrote. */
	json_object_set_new(m, "status", json_string("DEPLOYED"));
	json_object_set_new(m, "owner", json_string("admin"));
	json_object_set_new(m, "tags", json_pack("[s,s]", "ssd", "rack-4"));
	json_object_set_new(m, "deploy",
			    json_pack("{s:s, s:i, s:s, s:{s:I, s:s, s:i, s:i}}", "image", "debian-12", "number", 2,
				      "step", "deployed", "result", "bytes", (json_int_t)1073741824, "disk", "/dev/vda",
				      "download_ms", 8123, "write_ms", 950));
	view = json_pack("{s:O, s:[], s:[], s:[]}", "machine", m, "interfaces", "links", "events");
	text = render(show_at_five_past, view);
	assert_non_null(strstr(text,
			       "Description:   rack 4, U12\n"
			       "Owner:         admin\n"
			       "Tags:          ssd, rack-4\n"
			       "Image:         debian-12 (deploy 2, deployed)\n"
			       "Written:       1.0 GiB to /dev/vda (download 8.1 s, waiting on the disk 0.9 s)\n"));
	free(text);
	json_object_set_new(m, "deploy", json_null());
	text = render(show_at_five_past, view);
	assert_null(strstr(text, "Image:"));
	free(text);
	json_decref(view);

	/* Without a machine object there is nothing to show. */
	view = json_pack("{s:[]}", "events");
	assert_int_equal(cli_machines_show_print(view, 0, stdout), -EINVAL);
	json_decref(view);
	json_decref(events);
	json_decref(links);
	json_decref(ifaces);
	json_decref(m);
}

static void test_machine_is(void **state)
{
	json_t *m = json_pack("{s:s}", "status", "DEPLOYING");
	assert_true(cli_machine_is(m, "DEPLOYING"));
	assert_false(cli_machine_is(m, "DEPLOYED"));
	json_decref(m);
	m = json_pack("{s:i}", "status", 1);
	assert_false(cli_machine_is(m, "DEPLOYING"));
	json_decref(m);
	assert_false(cli_machine_is(NULL, "DEPLOYING"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_machine_is),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_action_options),
	    cmocka_unit_test(test_action_refusals),
	    cmocka_unit_test(test_paths_and_polls),
	    cmocka_unit_test(test_status_lines),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_show),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
