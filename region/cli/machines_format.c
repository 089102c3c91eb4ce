/* The lifecycle commands' text: options to a request body, sizes for
 * people, the machine list and `machines show` as tables. Pure apart from
 * writing to the FILE it is given. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/machines_cli.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* What an unknown quantity (0 CPUs, 0 bytes) shows. */
#define UNKNOWN "\xe2\x80\x94" /* — */

void cli_machines_size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes == 0) {
		snprintf(buf, len, UNKNOWN);
		return;
	}
	/* 1023.7 MiB would round to "1024 MiB": that is "1.0 GiB". */
	while (v >= 1023.5 && u + 1 < N(units)) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else if (v < 9.95)
		snprintf(buf, len, "%.1f %s", v, units[u]);
	else
		snprintf(buf, len, "%.0f %s", v, units[u]);
}

int cli_machines_wait_parse(const struct cli_args *a, int64_t *ret_wait_ms, char *err, size_t errlen)
{
	const char *timeout = cli_opt_value(a, CLI_OPT_TIMEOUT);
	bool wait = a->given & CLI_OPT_WAIT;
	long s = CLI_MACHINES_WAIT_DEFAULT_S;

	*ret_wait_ms = 0;
	if ((a->given & CLI_OPT_TIMEOUT) && !wait) {
		snprintf(err, errlen, "--timeout needs --wait (it bounds the wait)");
		return -EINVAL;
	}
	if ((a->given & CLI_OPT_TIMEOUT) &&
	    (!timeout || cli_number_parse(timeout, 1, CLI_MACHINES_WAIT_MAX_S, &s) < 0)) {
		snprintf(err, errlen, "--timeout with --wait wants seconds from 1 to %d, not \"%s\"",
			 CLI_MACHINES_WAIT_MAX_S, timeout ? timeout : "");
		return -EINVAL;
	}
	if (wait)
		*ret_wait_ms = s * 1000LL;
	return 0;
}

static int wait_parse(const char *action, const struct cli_args *a, int64_t *ret_wait_ms, char *err, size_t errlen)
{
	*ret_wait_ms = 0;
	if ((a->given & CLI_OPT_WAIT) && strcmp(action, "commission") != 0) {
		snprintf(err, errlen, "--wait applies to commission only");
		return -EINVAL;
	}
	return cli_machines_wait_parse(a, ret_wait_ms, err, errlen);
}

int cli_machines_action_parse(const char *action, const struct cli_args *a, int64_t *ret_wait_ms, json_t **ret_body,
			      char *err, size_t errlen)
{
	const char *comment = cli_opt_value(a, CLI_OPT_COMMENT);
	json_t *body;

	*ret_body = NULL;
	if (wait_parse(action, a, ret_wait_ms, err, errlen) < 0)
		return -EINVAL;
	if ((a->given & CLI_OPT_COMMENT) && comment && strlen(comment) > CLI_MACHINES_COMMENT_MAX) {
		snprintf(err, errlen, "--comment is longer than %d bytes", CLI_MACHINES_COMMENT_MAX);
		return -EINVAL;
	}
	body = json_object();
	if (!body)
		oom_abort(0);
	if ((a->given & CLI_OPT_COMMENT) && comment) {
		json_t *c = json_string(comment);
		if (!c) {
			json_decref(body);
			snprintf(err, errlen, "--comment is not UTF-8 text");
			return -EINVAL;
		}
		json_object_set_new(body, "comment", c);
	}
	*ret_body = body;
	return 0;
}

int cli_machines_path(const char *host, const char *tail, char *(*escape)(const char *), char *buf, size_t len)
{
	char *esc = escape(host);
	int n = snprintf(buf, len, "/api/v1/machines/%s%s", esc, tail);

	free(esc);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int64_t cli_machines_poll_delay_ms(unsigned n)
{
	int64_t d = 1000;

	for (unsigned i = 0; i < n && d < 5000; i++)
		d += d / 2;
	return d < 5000 ? d : 5000;
}

/* A string member, "" when absent or not a string. */
static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* A string member or dash when it is empty or absent. */
static const char *str_or(const json_t *o, const char *key, const char *dash)
{
	const char *s = str(o, key);

	return *s ? s : dash;
}

/* A non-negative integer member, 0 when absent or not one. */
static uint64_t uint_of(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

bool cli_machine_is(const json_t *machine, const char *status)
{
	return strcmp(str(machine, "status"), status) == 0;
}

void cli_machines_status_line(const json_t *machine, char *buf, size_t len)
{
	const char *msg = str(machine, "status_message");

	if (len == 0)
		return;
	snprintf(buf, len, "%s: %s%s%s%s", str_or(machine, "hostname", "?"), str_or(machine, "status", "?"),
		 *msg ? " (" : "", msg, *msg ? ")" : "");
	cli_text_sanitize(buf);
}

int cli_machines_list_print(const json_t *machines, FILE *out)
{
	static const char *const headers[] = {"HOSTNAME", "STATUS", "POWER", "ZONE", "CPUS", "RAM", "DISK"};
	struct cli_table t;
	const json_t *m;
	size_t i;

	if (cli_table_init(&t, headers, N(headers)) < 0)
		return -EINVAL;
	json_array_foreach(machines, i, m)
	{
		char cpus[24] = UNKNOWN, ram[24], disk[24];
		uint64_t n_cpus = uint_of(m, "cpu_count");

		if (n_cpus)
			snprintf(cpus, sizeof(cpus), "%" PRIu64, n_cpus);
		cli_machines_size_format(uint_of(m, "memory_mib") << 20, ram, sizeof(ram));
		cli_machines_size_format(uint_of(m, "storage_bytes"), disk, sizeof(disk));
		const char *row[] = {str_or(m, "hostname", "-"),
				     str_or(m, "status", "-"),
				     str_or(m, "power_state", "-"),
				     str_or(m, "zone", "-"),
				     cpus,
				     ram,
				     disk};
		cli_table_add(&t, row);
	}
	int r = cli_table_print(&t, out);
	cli_table_done(&t);
	return r;
}

/* ---- show ---- */

/* "2024-05-01T12:00:00Z (5m ago)"; "-" for null. */
static void time_format(const json_t *at, int64_t now_ms, char *buf, size_t len)
{
	char ago[32];

	if (!json_is_string(at)) {
		snprintf(buf, len, "-");
		return;
	}
	cli_last_seen_format(at, now_ms, ago, sizeof(ago));
	snprintf(buf, len, "%s (%s)", json_string_value(at), ago);
}

/* Rows of label and value, indented by indent spaces (an empty first
 * column: the table pads it with two spaces per level). */
struct rows {
	struct cli_table t;
	bool indent;
};

static void rows_init(struct rows *r, bool indent)
{
	r->indent = indent;
	cli_table_init(&r->t, NULL, indent ? 3 : 2);
}

static void row_add(struct rows *r, const char *label, const char *value)
{
	const char *cells[] = {"", label, value};

	cli_table_add(&r->t, r->indent ? cells : cells + 1);
}

static int rows_print(struct rows *r, FILE *out)
{
	int rc = cli_table_print(&r->t, out);

	cli_table_done(&r->t);
	return rc;
}

/* The BMC's rows, for a machine with a power type; never a password. */
static void power_rows(struct rows *r, const json_t *m, int64_t now_ms, char *state, size_t len)
{
	const json_t *at = json_object_get(m, "power_state_at");
	char ago[32];

	if (json_is_string(at)) {
		cli_last_seen_format(at, now_ms, ago, sizeof(ago));
		snprintf(state, len, "%s (%s, checked %s)", str_or(m, "power_state", "unknown"), str(m, "power_type"),
			 ago);
	} else {
		snprintf(state, len, "%s (%s)", str_or(m, "power_state", "unknown"), str(m, "power_type"));
	}
	row_add(r, "Power:", state);
	if (*str(m, "power_error"))
		row_add(r, "Power error:", str(m, "power_error"));
	/* A person is the manual "driver": there is no BMC to describe. */
	if (strcmp(str(m, "power_type"), "manual") == 0) {
		row_add(r, "Power rack:", str_or(m, "power_rack", "-"));
		return;
	}
	row_add(r, "BMC address:", str_or(m, "power_address", "-"));
	row_add(r, "BMC user:", str_or(m, "power_user", "-"));
	row_add(r, "BMC password:", json_is_true(json_object_get(m, "power_pass_set")) ? "set" : "not set");
	char *opts = cli_options_text(json_object_get(m, "power_options"));
	row_add(r, "BMC options:", opts);
	free(opts);
	row_add(r, "Power rack:", str_or(m, "power_rack", "-"));
}

/* Who holds it, and its tags. */
static void owner_rows(struct rows *r, const json_t *m)
{
	const json_t *tags = json_object_get(m, "tags"), *t;
	char text[512] = "";
	size_t i, o = 0;

	if (*str(m, "owner"))
		row_add(r, "Owner:", str(m, "owner"));
	json_array_foreach(tags, i, t)
	{
		if (json_is_string(t) && o < sizeof(text))
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", o ? ", " : "", json_string_value(t));
	}
	if (*text)
		row_add(r, "Tags:", text);
}

/* What it is (being) deployed with, and what the agent measured. */
static void deploy_rows(struct rows *r, const json_t *d)
{
	const json_t *res = json_object_get(d, "result");
	char image[160], written[160];

	if (!json_is_object(d))
		return;
	snprintf(image, sizeof(image), "%s (deploy %" JSON_INTEGER_FORMAT ", %s)", str_or(d, "image", "?"),
		 json_integer_value(json_object_get(d, "number")), str_or(d, "step", "?"));
	row_add(r, "Image:", image);
	if (uint_of(res, "bytes")) {
		char size[24];
		cli_machines_size_format(uint_of(res, "bytes"), size, sizeof(size));
		snprintf(written, sizeof(written), "%s to %s (download %.1f s, waiting on the disk %.1f s)", size,
			 str_or(res, "disk", "?"), (double)uint_of(res, "download_ms") / 1000.0,
			 (double)uint_of(res, "write_ms") / 1000.0);
		row_add(r, "Written:", written);
	}
}

static int machine_print(const json_t *m, int64_t now_ms, FILE *out)
{
	char name[320], since[96], deadline[96], power[160];
	struct rows r;

	snprintf(name, sizeof(name), "%s (id %" JSON_INTEGER_FORMAT ")", str_or(m, "hostname", "?"),
		 json_integer_value(json_object_get(m, "id")));
	time_format(json_object_get(m, "status_since"), now_ms, since, sizeof(since));
	time_format(json_object_get(m, "status_deadline"), now_ms, deadline, sizeof(deadline));
	rows_init(&r, false);
	row_add(&r, "Hostname:", name);
	row_add(&r, "Status:", str_or(m, "status", "?"));
	if (*str(m, "status_message"))
		row_add(&r, "Message:", str(m, "status_message"));
	row_add(&r, "Since:", since);
	if (json_is_string(json_object_get(m, "status_deadline")))
		row_add(&r, "Deadline:", deadline);
	if (*str(m, "power_type")) {
		power_rows(&r, m, now_ms, power, sizeof(power));
	} else {
		row_add(&r, "Power:", "no power type (set one with 'ironrack machines update HOST power_type=...')");
		if (*str(m, "power_error"))
			row_add(&r, "Power error:", str(m, "power_error"));
	}
	row_add(&r, "Zone:", str_or(m, "zone", "-"));
	row_add(&r, "Architecture:", str_or(m, "architecture", "-"));
	if (*str(m, "description"))
		row_add(&r, "Description:", str(m, "description"));
	owner_rows(&r, m);
	deploy_rows(&r, json_object_get(m, "deploy"));
	return rows_print(&r, out);
}

static int disks_print(const json_t *disks, FILE *out)
{
	static const char *const headers[] = {"", "NAME", "SIZE", "MODEL", "SERIAL", "ROTATIONAL"};
	struct cli_table t;
	const json_t *d;
	size_t i;

	cli_table_init(&t, headers, N(headers));
	json_array_foreach(disks, i, d)
	{
		char size[24];
		cli_machines_size_format(uint_of(d, "size_bytes"), size, sizeof(size));
		const char *row[] = {"",
				     str_or(d, "name", "?"),
				     size,
				     str_or(d, "model", "-"),
				     str_or(d, "serial", "-"),
				     json_is_true(json_object_get(d, "rotational")) ? "yes" : "no"};
		cli_table_add(&t, row);
	}
	int r = cli_table_print(&t, out);
	cli_table_done(&t);
	return r;
}

static int hardware_print(const json_t *m, const json_t *hw, int64_t now_ms, FILE *out)
{
	const json_t *cpu = json_object_get(hw, "cpu"), *sys = json_object_get(hw, "system");
	const json_t *disks = json_object_get(hw, "disks");
	char at[96], cpus[320], mem[24], storage[64];
	uint64_t n_cpus = uint_of(cpu, "count"), total = 0;
	const json_t *d;
	size_t i;
	struct rows r;

	if (!json_is_object(hw) || json_object_size(hw) == 0) {
		fprintf(out, "\nHardware: not known yet (commissioning reads it)\n");
		return ferror(out) ? -EIO : 0;
	}
	time_format(json_object_get(m, "hardware_at"), now_ms, at, sizeof(at));
	fprintf(out, "\nHardware (reported %s):\n", at);
	if (n_cpus)
		snprintf(cpus, sizeof(cpus), "%" PRIu64 " \xc3\x97 %s", n_cpus, str_or(cpu, "model", "?"));
	else
		snprintf(cpus, sizeof(cpus), "%s", str_or(cpu, "model", UNKNOWN));
	cli_machines_size_format(uint_of(hw, "memory_mib") << 20, mem, sizeof(mem));
	json_array_foreach(disks, i, d) total += uint_of(d, "size_bytes");
	cli_machines_size_format(total, storage, sizeof(storage));
	snprintf(storage + strlen(storage), sizeof(storage) - strlen(storage), " on %zu disk%s", json_array_size(disks),
		 json_array_size(disks) == 1 ? "" : "s");
	rows_init(&r, true);
	row_add(&r, "Vendor:", str_or(sys, "vendor", "-"));
	row_add(&r, "Product:", str_or(sys, "product", "-"));
	row_add(&r, "Serial:", str_or(sys, "serial", "-"));
	row_add(&r, "UUID:", str_or(sys, "uuid", "-"));
	row_add(&r, "CPU:", cpus);
	row_add(&r, "Memory:", mem);
	row_add(&r, "Storage:", storage);
	int rc = rows_print(&r, out);
	if (rc == 0 && json_array_size(disks) > 0)
		rc = disks_print(disks, out);
	return rc;
}

/* "1 Gb/s", "2.5 Gb/s", "100 Mb/s"; "—" for 0 (unknown). */
static void speed_format(uint64_t mbps, char *buf, size_t len)
{
	if (mbps == 0)
		snprintf(buf, len, UNKNOWN);
	else if (mbps >= 1000 && mbps % 100 == 0)
		snprintf(buf, len, "%.*f Gb/s", mbps % 1000 ? 1 : 0, (double)mbps / 1000.0);
	else
		snprintf(buf, len, "%" PRIu64 " Mb/s", mbps);
}

/* An address object's link as "10.0.0.5/24 (auto)", or the subnet when
 * it has no address yet ("10.0.0.0/24 (dhcp)"). */
static void link_format(const json_t *l, char *buf, size_t len)
{
	const char *cidr = str(l, "subnet_cidr"), *slash = strchr(cidr, '/');
	const char *mode = str_or(l, "mode", "?");

	if (json_is_string(json_object_get(l, "ip")))
		snprintf(buf, len, "%s%s (%s)", str(l, "ip"), slash ? slash : "", mode);
	else
		snprintf(buf, len, "%s (%s)", *cidr ? cidr : "?", mode);
}

/* The links of interface id, joined by ", "; "-" when none (malloc'd). */
static char *links_text(const json_t *links, json_int_t id)
{
	char *text = xstrdup("");
	const json_t *l;
	size_t i;

	json_array_foreach(links, i, l)
	{
		const json_t *iface = json_object_get(l, "interface");
		char one[160];
		if (!json_is_integer(iface) || json_integer_value(iface) != id)
			continue;
		link_format(l, one, sizeof(one));
		char *next = xasprintf("%s%s%s", text, *text ? ", " : "", one);
		free(text);
		text = next;
	}
	if (!*text) {
		free(text);
		text = xstrdup("-");
	}
	return text;
}

static int interfaces_print(const json_t *ifaces, const json_t *links, FILE *out)
{
	static const char *const headers[] = {"", "NAME", "MAC", "VLAN", "DRIVER", "SPEED", "CARRIER", "LINKS"};
	struct cli_table t;
	const json_t *f;
	size_t i;

	if (json_array_size(ifaces) == 0) {
		fprintf(out, "\nInterfaces: none\n");
		return ferror(out) ? -EIO : 0;
	}
	fprintf(out, "\nInterfaces:\n");
	cli_table_init(&t, headers, N(headers));
	json_array_foreach(ifaces, i, f)
	{
		const json_t *vlan = json_object_get(f, "vlan"), *carrier = json_object_get(f, "carrier");
		char vid[24] = "-", speed[32];
		if (json_is_integer(vlan))
			snprintf(vid, sizeof(vid), "%" JSON_INTEGER_FORMAT, json_integer_value(vlan));
		speed_format(uint_of(f, "speed_mbps"), speed, sizeof(speed));
		char *l = links_text(links, json_integer_value(json_object_get(f, "id")));
		const char *row[] = {"",
				     str_or(f, "name", "?"),
				     str_or(f, "mac", "-"),
				     vid,
				     str_or(f, "driver", "-"),
				     speed,
				     json_is_boolean(carrier) ? (json_is_true(carrier) ? "yes" : "no") : "-",
				     l};
		cli_table_add(&t, row);
		free(l);
	}
	int r = cli_table_print(&t, out);
	cli_table_done(&t);
	return r;
}

static int events_print(const json_t *events, FILE *out)
{
	static const char *const headers[] = {"", "AT", "KIND", "ACTOR", "DESCRIPTION"};
	struct cli_table t;
	const json_t *e;
	size_t i;

	if (json_array_size(events) == 0) {
		fprintf(out, "\nEvents: none\n");
		return ferror(out) ? -EIO : 0;
	}
	fprintf(out, "\nEvents (latest %zu, oldest first):\n", json_array_size(events));
	cli_table_init(&t, headers, N(headers));
	json_array_foreach(events, i, e)
	{
		const char *row[] = {"", str_or(e, "at", "?"), str_or(e, "kind", "?"), str_or(e, "actor", "-"),
				     str_or(e, "description", "-")};
		cli_table_add(&t, row);
	}
	int r = cli_table_print(&t, out);
	cli_table_done(&t);
	return r;
}

int cli_machines_show_print(const json_t *view, int64_t now_ms, FILE *out)
{
	const json_t *m = json_object_get(view, "machine");

	if (!json_is_object(m))
		return -EINVAL;
	if (machine_print(m, now_ms, out) < 0 || hardware_print(m, json_object_get(m, "hardware"), now_ms, out) < 0 ||
	    interfaces_print(json_object_get(view, "interfaces"), json_object_get(view, "links"), out) < 0 ||
	    events_print(json_object_get(view, "events"), out) < 0)
		return -EIO;
	return 0;
}
