/* `ironrack racks ...`: list, show, ping, push-config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/commands.h"

static const char *jstr(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static int json_print(const json_t *j)
{
	if (!j) {
		fprintf(stderr, "error: the region's answer is not JSON\n");
		return CLI_EXIT_FAIL;
	}
	/* 15 digits: rtt_ms prints as the region sent it (0.603, not
	 * 0.60299999999999998). */
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	fputc('\n', stdout);
	return CLI_EXIT_OK;
}

/* Run one request and check its status. On success *resp is the answer
 * (to be released with cli_resp_done); otherwise the error is printed. */
static int api_call(struct cli *cli, const char *method, const char *path, const char *body, long ok1, long ok2,
		    struct cli_resp *resp)
{
	int rc = cli_target_resolve(cli, true);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli_request(&cli->target, method, path, body, resp) < 0)
		return CLI_EXIT_FAIL;
	if (resp->status != ok1 && resp->status != ok2) {
		rc = cli_resp_error(&cli->target, resp);
		cli_resp_done(resp);
		return rc;
	}
	if (!resp->json) {
		fprintf(stderr, "error: the region at %s answered HTTP %ld without JSON\n", cli->target.url,
			resp->status);
		cli_resp_done(resp);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* "/api/v1/racks/<id><suffix>" with id escaped; malloc'd. */
static char *rack_path(const char *id, const char *suffix)
{
	char *esc = cli_path_escape(id);
	char *path = xasprintf("/api/v1/racks/%s%s", esc, suffix);

	free(esc);
	return path;
}

static int racks_table_print(const json_t *racks)
{
	static const char *const headers[] = {"ID",	 "HOSTNAME", "STATUS",	  "LAST SEEN",
					      "VERSION", "CONFIG",   "INTERFACES"};
	struct cli_table t;
	char seen[32], config[48], ifaces[1024];
	int64_t now = clock_real_ms();
	size_t i;
	const json_t *r;

	if (cli_table_init(&t, headers, 7) < 0)
		return CLI_EXIT_FAIL;
	json_array_foreach(racks, i, r)
	{
		cli_last_seen_format(json_object_get(r, "last_seen"), now, seen, sizeof(seen));
		cli_config_format(r, config, sizeof(config));
		cli_ifaces_format(json_object_get(r, "interfaces"), ifaces, sizeof(ifaces));
		const char *row[] = {jstr(r, "id"),
				     jstr(r, "hostname"),
				     json_is_true(json_object_get(r, "connected")) ? "connected" : "disconnected",
				     seen,
				     jstr(r, "version"),
				     config,
				     ifaces};
		cli_table_add(&t, row);
	}
	int rc = cli_table_print(&t, stdout);
	cli_table_done(&t);
	return rc < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_cmd_racks_list(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	int rc = api_call(cli, "GET", "/api/v1/racks", NULL, 200, 200, &resp);

	if (rc != CLI_EXIT_OK)
		return rc;
	const json_t *racks = json_object_get(resp.json, "racks");
	if (cli->args->given & CLI_OPT_JSON)
		rc = json_print(resp.json);
	else if (!json_is_array(racks))
		rc = json_print(NULL);
	else if (json_array_size(racks) == 0)
		printf("No racks enrolled.\n");
	else
		rc = racks_table_print(racks);
	cli_resp_done(&resp);
	return rc;
}

static void time_format(const json_t *v, int64_t now, char *buf, size_t len)
{
	char rel[32];
	int64_t ms;

	if (!json_is_string(v))
		snprintf(buf, len, "never");
	else if (cli_rfc3339_parse(json_string_value(v), &ms) < 0)
		snprintf(buf, len, "%s", json_string_value(v));
	else {
		cli_reltime_format(now, ms, rel, sizeof(rel));
		snprintf(buf, len, "%s (%s)", json_string_value(v), rel);
	}
}

static int rack_ifaces_print(const json_t *ifaces)
{
	/* The empty first column indents the table under its label. */
	static const char *const headers[] = {"", "NAME", "MAC", "VLAN", "ADDRESSES"};
	struct cli_table t;
	char vlan[24], addrs[1024];
	size_t i, k;
	const json_t *ifc, *a;

	if (json_array_size(ifaces) == 0) {
		printf("Interfaces:  none\n");
		return 0;
	}
	if (cli_table_init(&t, headers, 5) < 0)
		return -EINVAL;
	json_array_foreach(ifaces, i, ifc)
	{
		size_t used = 0;
		addrs[0] = '\0';
		json_array_foreach(json_object_get(ifc, "addresses"), k, a)
		{
			int n = snprintf(addrs + used, sizeof(addrs) - used, "%s%s", k ? ", " : "",
					 json_is_string(a) ? json_string_value(a) : "?");
			if (n < 0 || (size_t)n >= sizeof(addrs) - used)
				break;
			used += (size_t)n;
		}
		snprintf(vlan, sizeof(vlan), "%lld", (long long)json_integer_value(json_object_get(ifc, "vlan")));
		const char *row[] = {"", jstr(ifc, "name"), jstr(ifc, "mac"), vlan, used ? addrs : "-"};
		cli_table_add(&t, row);
	}
	printf("Interfaces:\n");
	int rc = cli_table_print(&t, stdout);
	cli_table_done(&t);
	return rc;
}

static int rack_show_print(const json_t *r)
{
	struct cli_table t;
	char seen[96], enrolled[96], registered[96], config[96];
	int64_t now = clock_real_ms();
	json_int_t latest = json_integer_value(json_object_get(r, "config_version"));
	json_int_t acked = json_integer_value(json_object_get(r, "acked_config_version"));

	time_format(json_object_get(r, "last_seen"), now, seen, sizeof(seen));
	time_format(json_object_get(r, "enrolled"), now, enrolled, sizeof(enrolled));
	time_format(json_object_get(r, "registered"), now, registered, sizeof(registered));
	if (latest == 0)
		snprintf(config, sizeof(config), "none");
	else
		snprintf(config, sizeof(config), "version %lld (rack has %lld)", (long long)latest, (long long)acked);
	const char *rows[][2] = {
	    {"ID:", jstr(r, "id")},
	    {"Hostname:", jstr(r, "hostname")},
	    {"Status:", json_is_true(json_object_get(r, "connected")) ? "connected" : "disconnected"},
	    {"Last seen:", seen},
	    {"Version:", jstr(r, "version")},
	    {"Enrolled:", enrolled},
	    {"Registered:", registered},
	    {"Config:", config},
	};
	if (cli_table_init(&t, NULL, 2) < 0)
		return CLI_EXIT_FAIL;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cli_table_add(&t, rows[i]);
	int rc = cli_table_print(&t, stdout);
	cli_table_done(&t);
	if (rc == 0)
		rc = rack_ifaces_print(json_object_get(r, "interfaces"));
	return rc < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_cmd_racks_show(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	char *path = rack_path(argv[0], "");
	int rc = api_call(cli, "GET", path, NULL, 200, 200, &resp);
	free(path);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = (cli->args->given & CLI_OPT_JSON) ? json_print(resp.json) : rack_show_print(resp.json);
	cli_resp_done(&resp);
	return rc;
}

/* "?timeout_ms=N" when --timeout was given, else "" (the region's default). */
static void timeout_query(const struct cli *cli, char *buf, size_t len)
{
	buf[0] = '\0';
	if (cli->args->given & CLI_OPT_TIMEOUT)
		snprintf(buf, len, "?timeout_ms=%ld", cli->args->timeout_ms);
}

int cli_cmd_racks_ping(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	char suffix[64] = "/ping";

	timeout_query(cli, suffix + 5, sizeof(suffix) - 5);
	char *path = rack_path(argv[0], suffix);
	int rc = api_call(cli, "POST", path, "{}", 200, 200, &resp);
	free(path);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = json_print(resp.json);
	else
		printf("pong from %s in %.1f ms\n", argv[0], json_real_value(json_object_get(resp.json, "rtt_ms")));
	cli_resp_done(&resp);
	return rc;
}

/* {"settings":{...}} from KEY=VALUE words; NULL after printing why. */
static char *settings_body(char **argv, size_t argc)
{
	json_t *settings = json_object();
	char *text = NULL;

	for (size_t i = 0; settings && i < argc; i++) {
		char *buf;
		const char *k, *v;
		int r = cli_setting_parse(argv[i], &buf, &k, &v);
		if (r < 0) {
			fprintf(stderr, "error: \"%s\" is not KEY=VALUE\n", argv[i]);
			goto out;
		}
		if (json_object_get(settings, k)) {
			fprintf(stderr, "error: setting \"%s\" given twice\n", k);
			free(buf);
			goto out;
		}
		json_object_set_new(settings, k, json_string(v));
		free(buf);
	}
	json_t *body = json_pack("{s:O}", "settings", settings);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
out:
	json_decref(settings);
	return text;
}

int cli_cmd_racks_push_config(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	char suffix[64] = "/config";

	char *body = settings_body(argv + 1, argc - 1);
	if (!body)
		return CLI_EXIT_USAGE;
	timeout_query(cli, suffix + 7, sizeof(suffix) - 7);
	char *path = rack_path(argv[0], suffix);
	int rc = api_call(cli, "POST", path, body, 200, 202, &resp);
	free(path);
	free(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	json_int_t version = json_integer_value(json_object_get(resp.json, "version"));
	if (cli->args->given & CLI_OPT_JSON)
		rc = json_print(resp.json);
	else if (resp.status == 200)
		printf("%s acknowledged config version %lld\n", argv[0], (long long)version);
	else
		printf("config version %lld stored; %s is not connected and gets it when it reconnects\n",
		       (long long)version, argv[0]);
	cli_resp_done(&resp);
	return rc;
}

/* "10.0.0.100-10.0.0.199, ..." of a DHCP subnet's ranges. */
static void dhcp_ranges_format(const json_t *ranges, char *buf, size_t len)
{
	size_t i, used = 0;
	const json_t *g;

	snprintf(buf, len, "-");
	json_array_foreach(ranges, i, g)
	{
		int n = snprintf(buf + used, len - used, "%s%s-%s", i ? ", " : "", jstr(g, "first") ?: "?",
				 jstr(g, "last") ?: "?");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

static void dhcp_subnet_row(struct cli_table *t, const char *iface, json_int_t vid, const json_t *s, bool relayed)
{
	char vlan[24], ranges[512], hosts[24], opts[24];

	snprintf(vlan, sizeof(vlan), "%lld", (long long)vid);
	dhcp_ranges_format(json_object_get(s, "ranges"), ranges, sizeof(ranges));
	snprintf(hosts, sizeof(hosts), "%zu", json_array_size(json_object_get(s, "hosts")));
	snprintf(opts, sizeof(opts), "%zu", json_array_size(json_object_get(s, "options")));
	const char *server = jstr(s, "server_address");
	const char *row[] = {
	    iface, vlan, jstr(s, "cidr"), relayed ? "(relayed)" : (server && *server ? server : "-"), ranges,
	    hosts, opts};
	cli_table_add(t, row);
}

/* The HA pairs (docs/dhcp-ha.md), one line each. */
static void dhcp_ha_lines(const json_t *ha)
{
	size_t i;
	const json_t *p;
	json_array_foreach(ha, i, p)
	{
		const char *addr = jstr(p, "partner_address");
		printf("HA: %s of VLAN %lld (vid %lld) with %s%s%s\n", jstr(p, "role") ?: "?",
		       (long long)json_integer_value(json_object_get(p, "vlan")),
		       (long long)json_integer_value(json_object_get(p, "vid")), jstr(p, "partner") ?: "?",
		       addr ? " at " : "", addr ? addr : " (its link endpoint is not known yet)");
		if (jstr(p, "partner_down_by"))
			printf("    partner-down held by %s (%s)\n", jstr(p, "partner_down_by"),
			       jstr(p, "partner_down_how") && strcmp(jstr(p, "partner_down_how"), "witness") == 0
				   ? "granted by the region as witness"
				   : "the operator's command");
		json_int_t auto_down = json_integer_value(json_object_get(p, "auto_down_s"));
		if (auto_down > 0)
			printf("    automatic partner-down after %llds unheard; fenced after %llds alone\n",
			       (long long)auto_down, (long long)auto_down / 2);
		else
			printf("    automatic partner-down off (only by command)\n");
		const json_t *link = json_object_get(p, "link");
		if (!json_is_object(link)) {
			printf("    no report from the rack yet\n");
			continue;
		}
		printf("    state %s since %s; link %s, last contact %s; unacked %lld; free: %lld ours, %lld the "
		       "partner's; conflicts %lld\n",
		       jstr(link, "state") ?: "unknown", jstr(link, "state_since") ?: "-",
		       json_is_true(json_object_get(link, "up")) ? "up" : "down", jstr(link, "last_contact") ?: "never",
		       (long long)json_integer_value(json_object_get(link, "unacked")),
		       (long long)json_integer_value(json_object_get(link, "free_own")),
		       (long long)json_integer_value(json_object_get(link, "free_partner")),
		       (long long)json_integer_value(json_object_get(link, "conflicts")));
		if (jstr(link, "last_error") && !json_is_true(json_object_get(link, "up")))
			printf("    link down: %s\n", jstr(link, "last_error"));
	}
}

int cli_cmd_racks_dhcp(struct cli *cli, char **argv, size_t argc)
{
	static const char *const headers[] = {"INTERFACE", "VID",	   "SUBNET", "SERVER",
					      "RANGES",	   "RESERVATIONS", "OPTIONS"};
	struct cli_resp resp;
	struct cli_table t;
	size_t i, k;
	const json_t *f, *s;

	char *path = rack_path(argv[0], "/dhcp");
	int rc = api_call(cli, "GET", path, NULL, 200, 200, &resp);
	free(path);
	if (rc != CLI_EXIT_OK)
		return rc;
	const json_t *ifaces = json_object_get(resp.json, "interfaces");
	const char *warning = jstr(resp.json, "warning");
	if (warning)
		fprintf(stderr, "warning: %s\n", warning);
	if (cli->args->given & CLI_OPT_JSON) {
		rc = json_print(resp.json);
	} else if (!json_is_true(json_object_get(resp.json, "enabled")) || json_array_size(ifaces) == 0) {
		printf("%s serves no DHCP.\n", argv[0]);
	} else if (cli_table_init(&t, headers, 7) < 0) {
		rc = CLI_EXIT_FAIL;
	} else {
		json_array_foreach(ifaces, i, f)
		{
			json_int_t vid = json_integer_value(json_object_get(f, "vid"));
			json_array_foreach(json_object_get(f, "subnets"), k, s)
			    dhcp_subnet_row(&t, jstr(f, "name") ?: "?", vid, s, false);
			json_array_foreach(json_object_get(f, "relayed"), k, s)
			    dhcp_subnet_row(&t, jstr(f, "name") ?: "?", vid, s, true);
		}
		printf("%s serves DHCP on %zu interface%s; %zu global option%s.\n", argv[0], json_array_size(ifaces),
		       json_array_size(ifaces) == 1 ? "" : "s", json_array_size(json_object_get(resp.json, "options")),
		       json_array_size(json_object_get(resp.json, "options")) == 1 ? "" : "s");
		rc = cli_table_print(&t, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
		cli_table_done(&t);
	}
	if (!(cli->args->given & CLI_OPT_JSON))
		dhcp_ha_lines(json_object_get(resp.json, "ha"));
	cli_resp_done(&resp);
	return rc;
}

/* The VLAN of the rack's one HA pair, or of the pair given as argv[1];
 * 0 after printing why not. */
static uint64_t ha_pair_vlan(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;
	char *path = rack_path(argv[0], "/dhcp");
	int rc = api_call(cli, "GET", path, NULL, 200, 200, &resp);
	free(path);
	if (rc != CLI_EXIT_OK)
		return 0;
	const json_t *ha = json_object_get(resp.json, "ha");
	uint64_t vlan = 0;
	if (argc > 1) {
		char *end = NULL;
		unsigned long long want = strtoull(argv[1], &end, 10);
		size_t i;
		const json_t *p;
		json_array_foreach(ha, i, p)
		{
			if (*end == '\0' && (uint64_t)json_integer_value(json_object_get(p, "vlan")) == want)
				vlan = want;
		}
		if (!vlan)
			fprintf(stderr, "error: rack %s has no DHCP HA pair on VLAN %s (see: ironrack racks dhcp %s)\n",
				argv[0], argv[1], argv[0]);
	} else if (json_array_size(ha) == 1) {
		vlan = (uint64_t)json_integer_value(json_object_get(json_array_get(ha, 0), "vlan"));
	} else {
		fprintf(stderr, "error: rack %s is in %zu DHCP HA pairs; name the VLAN (see: ironrack racks dhcp %s)\n",
			argv[0], json_array_size(ha), argv[0]);
	}
	cli_resp_done(&resp);
	return vlan;
}

int cli_cmd_racks_dhcp_partner_down(struct cli *cli, char **argv, size_t argc)
{
	uint64_t vlan = ha_pair_vlan(cli, argv, argc);
	if (!vlan)
		return CLI_EXIT_FAIL;
	struct cli_resp resp;
	char *path = xasprintf("/api/v1/vlans/%llu/dhcp-partner-down", (unsigned long long)vlan);
	json_t *body = json_pack("{s:s}", "rack", argv[0]);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	int rc = api_call(cli, "POST", path, text, 200, 200, &resp);
	free(text);
	free(path);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = json_print(resp.json);
	else
		printf("rack %s holds partner-down on VLAN %llu: it serves %s's share too once the MCLT has passed "
		       "(racks dhcp %s shows the state)\n",
		       argv[0], (unsigned long long)vlan, json_string_value(json_object_get(resp.json, "partner")),
		       argv[0]);
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_racks_dhcp_events(struct cli *cli, char **argv, size_t argc)
{
	uint64_t vlan = ha_pair_vlan(cli, argv, argc);
	if (!vlan)
		return CLI_EXIT_FAIL;
	struct cli_resp resp;
	long limit = 100;
	if (cli->args->given & CLI_OPT_LIMIT) {
		const char *v = cli_opt_value(cli->args, CLI_OPT_LIMIT);
		if (!v || cli_number_parse(v, 1, 1000, &limit) < 0) {
			fprintf(stderr, "error: --limit wants a number from 1 to 1000, not \"%s\"\n", v ? v : "");
			return CLI_EXIT_USAGE;
		}
	}
	char *path = xasprintf("/api/v1/vlans/%llu/dhcp-ha-events?limit=%ld", (unsigned long long)vlan, limit);
	int rc = api_call(cli, "GET", path, NULL, 200, 200, &resp);
	free(path);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON) {
		rc = json_print(resp.json);
	} else {
		size_t i;
		const json_t *e;
		const json_t *events = json_object_get(resp.json, "events");
		if (!json_array_size(events))
			printf("no events for the DHCP HA pair of VLAN %llu\n", (unsigned long long)vlan);
		json_array_foreach(events, i, e)
		{
			printf("%s  %-17s %s\n", jstr(e, "at") ?: "?", jstr(e, "kind") ?: "?",
			       jstr(e, "description") ?: "");
		}
	}
	cli_resp_done(&resp);
	return rc;
}
