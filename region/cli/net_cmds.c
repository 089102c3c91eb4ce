/* The network model's commands: one group per kind with the actions list,
 * show, create, update and delete, and `ironrack subnet show|allocate-ip|
 * release-ip|next-free` for one subnet. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/commands.h"
#include "region/cli/net_cli.h"
#include "region/cli/power_cli.h"

#define N(a)	 (sizeof(a) / sizeof((a)[0]))
#define PATH_LEN 2048

static const struct cli_net_col zone_cols[] = {
    {"NAME", "name", CLI_NF_TEXT},   {"MACHINES", "machines", CLI_NF_TEXT},	  {"DEVICES", "devices", CLI_NF_TEXT},
    {"RACKS", "racks", CLI_NF_TEXT}, {"DESCRIPTION", "description", CLI_NF_TEXT},
};
static const struct cli_net_col fabric_cols[] = {
    {"ID", "id", CLI_NF_TEXT},
    {"NAME", "name", CLI_NF_TEXT},
    {"VLANS", "vlans", CLI_NF_TEXT},
    {"DESCRIPTION", "description", CLI_NF_TEXT},
};
static const struct cli_net_col space_cols[] = {
    {"ID", "id", CLI_NF_TEXT},
    {"NAME", "name", CLI_NF_TEXT},
    {"VLANS", "vlans", CLI_NF_TEXT},
    {"SUBNETS", "subnets", CLI_NF_TEXT},
    {"DESCRIPTION", "description", CLI_NF_TEXT},
};
static const struct cli_net_col vlan_cols[] = {
    {"ID", "id", CLI_NF_TEXT},		 {"FABRIC", "fabric_name", CLI_NF_TEXT},
    {"VID", "vid", CLI_NF_TEXT},	 {"NAME", "name", CLI_NF_TEXT},
    {"MTU", "mtu", CLI_NF_TEXT},	 {"SPACE", "space", CLI_NF_TEXT},
    {"DHCP", "dhcp_on", CLI_NF_BOOL},	 {"PRIMARY RACK", "primary_rack", CLI_NF_TEXT},
    {"SUBNETS", "subnets", CLI_NF_TEXT},
};
static const struct cli_net_col subnet_cols[] = {
    {"ID", "id", CLI_NF_TEXT},
    {"CIDR", "cidr", CLI_NF_TEXT},
    {"NAME", "name", CLI_NF_TEXT},
    {"FABRIC", "fabric_name", CLI_NF_TEXT},
    {"VID", "vid", CLI_NF_TEXT},
    {"SPACE", "space", CLI_NF_TEXT},
    {"GATEWAY", "gateway", CLI_NF_TEXT},
    {"MANAGED", "managed", CLI_NF_BOOL},
    {"IN USE", "ip_addresses", CLI_NF_TEXT},
};
static const struct cli_net_col range_cols[] = {
    {"ID", "id", CLI_NF_TEXT},		 {"SUBNET", "subnet_cidr", CLI_NF_TEXT}, {"TYPE", "type", CLI_NF_TEXT},
    {"START", "start_ip", CLI_NF_TEXT},	 {"END", "end_ip", CLI_NF_TEXT},	 {"OWNER", "owner", CLI_NF_TEXT},
    {"COMMENT", "comment", CLI_NF_TEXT},
};
static const struct cli_net_col route_cols[] = {
    {"ID", "id", CLI_NF_TEXT},
    {"SOURCE", "source_cidr", CLI_NF_TEXT},
    {"DESTINATION", "destination_cidr", CLI_NF_TEXT},
    {"GATEWAY", "gateway", CLI_NF_TEXT},
    {"METRIC", "metric", CLI_NF_TEXT},
};
static const struct cli_net_col ip_cols[] = {
    {"ID", "id", CLI_NF_TEXT},		 {"IP", "ip", CLI_NF_TEXT},	    {"SUBNET", "subnet_cidr", CLI_NF_TEXT},
    {"MODE", "mode", CLI_NF_TEXT},	 {"HOLDER", "holder", CLI_NF_TEXT}, {"HOSTNAME", "hostname", CLI_NF_TEXT},
    {"COMMENT", "comment", CLI_NF_TEXT},
};
static const struct cli_net_col machine_cols[] = {
    {"ID", "id", CLI_NF_TEXT},
    {"HOSTNAME", "hostname", CLI_NF_TEXT},
    {"ZONE", "zone", CLI_NF_TEXT},
    {"INTERFACES", "interfaces", CLI_NF_TEXT},
    {"ARCHITECTURE", "architecture", CLI_NF_TEXT},
    {"POWER", "power_state", CLI_NF_TEXT},
    {"DESCRIPTION", "description", CLI_NF_TEXT},
};
static const struct cli_net_col interface_cols[] = {
    {"ID", "id", CLI_NF_TEXT},	   {"MACHINE", "machine_hostname", CLI_NF_TEXT},
    {"NAME", "name", CLI_NF_TEXT}, {"MAC", "mac", CLI_NF_TEXT},
    {"VLAN", "vlan", CLI_NF_TEXT}, {"LINKS", "links", CLI_NF_TEXT},
};
static const struct cli_net_col device_cols[] = {
    {"ID", "id", CLI_NF_TEXT},
    {"HOSTNAME", "hostname", CLI_NF_TEXT},
    {"ZONE", "zone", CLI_NF_TEXT},
    {"ADDRESSES", "ip_addresses", CLI_NF_LIST},
    {"DESCRIPTION", "description", CLI_NF_TEXT},
};
static const struct cli_net_col neighbour_cols[] = {
    {"ID", "id", CLI_NF_TEXT},
    {"IP", "ip", CLI_NF_TEXT},
    {"MAC", "mac", CLI_NF_TEXT},
    {"RACK", "rack", CLI_NF_TEXT},
    {"INTERFACE", "interface", CLI_NF_TEXT},
    {"LAST SEEN", "last_seen", CLI_NF_AGO},
    {"COUNT", "count", CLI_NF_TEXT},
};

static const struct cli_net_col snippet_cols[] = {
    {"ID", "id", CLI_NF_TEXT},		{"NAME", "name", CLI_NF_TEXT},	     {"CODE", "code", CLI_NF_TEXT},
    {"TYPE", "type", CLI_NF_TEXT},	{"VALUE", "value", CLI_NF_TEXT},     {"SCOPE", "scope", CLI_NF_TEXT},
    {"OF", "scope_label", CLI_NF_TEXT}, {"ENABLED", "enabled", CLI_NF_BOOL},
};

static const struct cli_net_group g_zones = {"zones", "zones",	 "zones",      "zone", "name",
					     "name",  zone_cols, N(zone_cols), false,  false};
static const struct cli_net_group g_fabrics = {"fabrics", "fabrics",   "fabrics",      "fabric", "name",
					       "name",	  fabric_cols, N(fabric_cols), false,	 false};
static const struct cli_net_group g_spaces = {"spaces", "spaces",   "spaces",	   "space", "name",
					      "name",	space_cols, N(space_cols), false,   false};
static const struct cli_net_group g_vlans = {"vlans", "vlans",	 "vlans",      "VLAN", NULL,
					     "id",    vlan_cols, N(vlan_cols), false,  false};
static const struct cli_net_group g_subnets = {"subnets", "subnets",   "subnets",      "subnet", "cidr",
					       "cidr",	  subnet_cols, N(subnet_cols), false,	 false};
static const struct cli_net_group g_ranges = {"ranges", "ip-ranges", "ip_ranges",   "IP range", NULL,
					      "id",	range_cols,  N(range_cols), false,	false};
static const struct cli_net_group g_routes = {"routes", "static-routes", "static_routes", "static route", NULL,
					      "id",	route_cols,	 N(route_cols),	  false,	  false};
static const struct cli_net_group g_ips = {"ips", "ip-addresses", "ip_addresses", "IP address", NULL,
					   "ip",  ip_cols,	  N(ip_cols),	  true,		false};
static const struct cli_net_group g_machines = {"machines", "machines",	  "machines",	   "machine", "hostname",
						"hostname", machine_cols, N(machine_cols), false,     false};
static const struct cli_net_group g_interfaces = {"interfaces", "interfaces",	"interfaces",	   "interface", NULL,
						  "name",	interface_cols, N(interface_cols), false,	false};
static const struct cli_net_group g_devices = {"devices",  "devices",	"devices",	"device", "hostname",
					       "hostname", device_cols, N(device_cols), false,	  false};
static const struct cli_net_group g_neighbours = {"neighbours", "neighbours",	"neighbours",	   "neighbour", NULL,
						  "ip",		neighbour_cols, N(neighbour_cols), false,	true};

static const struct cli_net_group g_snippets = {
    "dhcp-snippets", "dhcp-snippets", "dhcp_snippets", "DHCP snippet", "name",
    "name",	     snippet_cols,    N(snippet_cols), false,	       false};

static int usage(const char *fmt, const char *arg)
{
	fputs("error: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return CLI_EXIT_USAGE;
}

static int json_out(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	fputc('\n', stdout);
	return CLI_EXIT_OK;
}

/* One request; on success *resp holds a JSON answer (release it). */
static int request(struct cli *cli, const char *method, const char *path, const json_t *body, struct cli_resp *resp)
{
	int rc = cli_target_resolve(cli, true);
	char *text = NULL;

	if (rc != CLI_EXIT_OK)
		return rc;
	if (body && !(text = json_dumps(body, JSON_COMPACT))) {
		fprintf(stderr, "error: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	int r = cli_request(&cli->target, method, path, text, resp);
	/* A body may carry a BMC password (machines update power_pass=-). */
	if (text)
		explicit_bzero(text, strlen(text));
	free(text);
	if (r < 0)
		return CLI_EXIT_FAIL;
	if (resp->status < 200 || resp->status > 299) {
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

int cli_net_request(struct cli *cli, const char *method, const char *path, const json_t *body, struct cli_resp *resp)
{
	return request(cli, method, path, body, resp);
}

int cli_net_json_print(const json_t *j)
{
	return json_out(j);
}

int cli_net_list(struct cli *cli, const char *path, const char *key, const char *empty,
		 int (*print)(const json_t *items, FILE *out))
{
	struct cli_resp resp;
	int rc = cli_net_request(cli, "GET", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	const json_t *items = json_object_get(resp.json, key);
	if (cli->args->given & CLI_OPT_JSON)
		rc = cli_net_json_print(resp.json);
	else if (json_array_size(items) == 0)
		printf("%s\n", empty);
	else
		rc = print(items, stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	cli_resp_done(&resp);
	return rc;
}

/* "/api/v1/<collection>[/<key>][suffix]", the key in the API's form. */
static int object_path(const char *collection, const char *key, const char *suffix, char *buf, size_t len)
{
	char k[512];
	char *esc = NULL;

	if (key) {
		cli_net_path_key(key, k, sizeof(k));
		esc = cli_path_escape(k);
	}
	int n = snprintf(buf, len, "/api/v1/%s%s%s%s", collection, esc ? "/" : "", esc ? esc : "", suffix);
	free(esc);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "error: %s is too long\n", key ? key : collection);
		return -ENOSPC;
	}
	return 0;
}

/* Options given (--subnet ...) as fields of body. */
static int opts_to_body(const struct cli *cli, json_t *body)
{
	char err[256];

	for (size_t i = 0; i < cli_net_opts_n; i++) {
		const char *v = cli_opt_value(cli->args, cli_net_opts[i].opt);
		if (!(cli->args->given & cli_net_opts[i].opt) || !v)
			continue;
		json_t *j = cli_net_value(cli_net_opts[i].field, v, err, sizeof(err));
		if (!j)
			return usage("%s", err);
		json_object_set_new(body, cli_net_opts[i].field, j);
	}
	return CLI_EXIT_OK;
}

/* A label for messages: the group's label field, else the id. */
static void object_label(const struct cli_net_group *g, const json_t *o, char *buf, size_t len)
{
	const json_t *v = json_object_get(o, g->label);
	json_int_t id = json_integer_value(json_object_get(o, "id"));

	if (json_is_string(v))
		snprintf(buf, len, "%s (id %" JSON_INTEGER_FORMAT ")", json_string_value(v), id);
	else
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, id);
}

static int do_list(struct cli *cli, const struct cli_net_group *g, char **argv, size_t argc)
{
	char query[1024], path[PATH_LEN], err[256];
	struct cli_resp resp;
	char **words = xcalloc(argc + cli_net_opts_n + 1, sizeof(char *));
	size_t n = 0;
	int rc = CLI_EXIT_OK;

	/* Options are filters too: --subnet 10.0.0.0/24, --type dynamic. */
	for (size_t i = 0; i < cli_net_opts_n; i++) {
		const char *v = cli_opt_value(cli->args, cli_net_opts[i].opt);
		if ((cli->args->given & cli_net_opts[i].opt) && v)
			words[n++] = xasprintf("%s=%s", cli_net_opts[i].field, v);
	}
	for (size_t i = 0; i < argc; i++)
		words[n++] = xstrdup(argv[i]);
	if (cli_net_query(words, n, cli_path_escape, query, sizeof(query), err, sizeof(err)) < 0)
		rc = usage("%s", err);
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	free(words);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (object_path(g->path, NULL, query, path, sizeof(path)) < 0)
		return CLI_EXIT_FAIL;
	rc = request(cli, "GET", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	const json_t *items = json_object_get(resp.json, g->list_key);
	if (cli->args->given & CLI_OPT_JSON) {
		rc = json_out(resp.json);
	} else if (json_array_size(items) == 0) {
		printf("No %s.\n", g->word);
	} else {
		rc = cli_net_table_print(g, items, clock_real_ms(), stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
		json_int_t total = json_integer_value(json_object_get(resp.json, "total"));
		if (total > (json_int_t)json_array_size(items))
			printf("(%zu of %" JSON_INTEGER_FORMAT "; use offset=N and limit=N for more)\n",
			       json_array_size(items), total);
	}
	cli_resp_done(&resp);
	return rc;
}

static int do_show(struct cli *cli, const struct cli_net_group *g, const char *key)
{
	char path[PATH_LEN];
	struct cli_resp resp;

	if (object_path(g->path, key, "", path, sizeof(path)) < 0)
		return CLI_EXIT_FAIL;
	int rc = request(cli, "GET", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON) {
		rc = json_out(resp.json);
	} else {
		/* A machine's power options are an object: shown as text. */
		json_t *view =
		    g == &g_machines ? cli_power_machine_view(resp.json, clock_real_ms()) : json_incref(resp.json);
		rc = cli_net_object_print(view, clock_real_ms(), stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
		json_decref(view);
	}
	cli_resp_done(&resp);
	return rc;
}

/* create (key NULL, POST to the collection or to collection_path) or
 * update (PATCH the object key) with fields from options and words. */
static int do_write(struct cli *cli, const struct cli_net_group *g, const char *key, const char *collection_path,
		    char **argv, size_t argc)
{
	char path[PATH_LEN], err[256], label[300];
	struct cli_resp resp;
	json_t *body = json_object();
	int rc = body ? opts_to_body(cli, body) : CLI_EXIT_FAIL;
	char **rest = xcalloc(argc + 1, sizeof(char *));
	size_t n_rest = argc;

	for (size_t i = 0; i < argc; i++)
		rest[i] = argv[i];
	/* power_* fields go as strings; power_pass=- reads standard input. */
	if (rc == CLI_EXIT_OK && g == &g_machines &&
	    cli_power_body_add(body, argv, argc, cli_power_secret_read, rest, &n_rest, err, sizeof(err)) < 0)
		rc = usage("%s", err);
	if (rc == CLI_EXIT_OK && cli_net_body_add(body, rest, n_rest, key ? NULL : g->primary, err, sizeof(err)) < 0)
		rc = usage("%s", err);
	free(rest);
	if (rc == CLI_EXIT_OK && collection_path)
		snprintf(path, sizeof(path), "%s", collection_path);
	else if (rc == CLI_EXIT_OK && object_path(g->path, key, "", path, sizeof(path)) < 0)
		rc = CLI_EXIT_FAIL;
	if (rc == CLI_EXIT_OK)
		rc = request(cli, key ? "PATCH" : "POST", path, body, &resp);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON) {
		rc = json_out(resp.json);
	} else {
		object_label(g, resp.json, label, sizeof(label));
		printf("%s %s %s\n", key ? "updated" : "created", g->what, label);
	}
	cli_resp_done(&resp);
	return rc;
}

static int do_delete(struct cli *cli, const struct cli_net_group *g, const char *key)
{
	char path[PATH_LEN], label[300];
	struct cli_resp resp;

	if (object_path(g->path, key, "", path, sizeof(path)) < 0)
		return CLI_EXIT_FAIL;
	int rc = request(cli, "DELETE", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON) {
		rc = json_out(resp.json);
	} else {
		object_label(g, resp.json, label, sizeof(label));
		printf("deleted %s %s\n", g->what, label);
	}
	cli_resp_done(&resp);
	return rc;
}

static int subnet_show(struct cli *cli, const char *key);

static int net_run(struct cli *cli, const struct cli_net_group *g, char **argv, size_t argc)
{
	const char *action = argc ? argv[0] : "";
	bool needs_key = strcmp(action, "show") == 0 || strcmp(action, "update") == 0 || strcmp(action, "delete") == 0;

	if (argc == 0)
		return usage("ironrack %s needs an action: list, show, create, update or delete", g->word);
	if (needs_key && argc < 2)
		return usage("ironrack %s needs the object: an id or its name", g->word);
	if (strcmp(action, "list") == 0)
		return do_list(cli, g, argv + 1, argc - 1);
	if (strcmp(action, "show") == 0 && argc == 2)
		return g == &g_subnets ? subnet_show(cli, argv[1]) : do_show(cli, g, argv[1]);
	if (strcmp(action, "create") == 0 && !g->read_only)
		return do_write(cli, g, NULL, NULL, argv + 1, argc - 1);
	if (strcmp(action, "update") == 0 && !g->read_only && !g->no_update)
		return do_write(cli, g, argv[1], NULL, argv + 2, argc - 2);
	if (strcmp(action, "delete") == 0 && argc == 2)
		return do_delete(cli, g, argv[1]);
	return usage("unknown or misused action \"%s\"; see ironrack help", action);
}

int cli_cmd_zones(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_zones, argv, argc);
}

int cli_cmd_fabrics(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_fabrics, argv, argc);
}

int cli_cmd_spaces(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_spaces, argv, argc);
}

int cli_cmd_vlans(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_vlans, argv, argc);
}

static int subnet_scan(struct cli *cli, const char *key);

int cli_cmd_subnets(struct cli *cli, char **argv, size_t argc)
{
	if (argc == 2 && strcmp(argv[0], "scan") == 0)
		return subnet_scan(cli, argv[1]);
	return net_run(cli, &g_subnets, argv, argc);
}

int cli_cmd_ranges(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_ranges, argv, argc);
}

int cli_cmd_routes(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_routes, argv, argc);
}

int cli_cmd_ips(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_ips, argv, argc);
}

int cli_cmd_machines(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_machines, argv, argc);
}

int cli_cmd_devices(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_devices, argv, argc);
}

int cli_cmd_neighbours(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_neighbours, argv, argc);
}

int cli_cmd_dhcp_snippets(struct cli *cli, char **argv, size_t argc)
{
	return net_run(cli, &g_snippets, argv, argc);
}

/* interfaces: created under a machine (machine=HOST), linked to subnets. */
int cli_cmd_interfaces(struct cli *cli, char **argv, size_t argc)
{
	char path[PATH_LEN];

	if (argc >= 1 && strcmp(argv[0], "create") == 0) {
		const char *machine = NULL;
		char **rest = xcalloc(argc, sizeof(char *));
		size_t n = 0;
		for (size_t i = 1; i < argc; i++) {
			if (strncmp(argv[i], "machine=", 8) == 0)
				machine = argv[i] + 8;
			else
				rest[n++] = argv[i];
		}
		int rc = !machine ? usage("%s", "interfaces create needs machine=HOSTNAME")
			 : object_path("machines", machine, "/interfaces", path, sizeof(path)) < 0
			     ? CLI_EXIT_FAIL
			     : do_write(cli, &g_interfaces, NULL, path, rest, n);
		free(rest);
		return rc;
	}
	if (argc >= 2 && strcmp(argv[0], "link") == 0) {
		if (object_path("interfaces", argv[1], "/links", path, sizeof(path)) < 0)
			return CLI_EXIT_FAIL;
		return do_write(cli, &g_ips, NULL, path, argv + 2, argc - 2);
	}
	if (argc == 3 && strcmp(argv[0], "unlink") == 0) {
		char suffix[300];
		snprintf(suffix, sizeof(suffix), "/links/%s", argv[2]);
		struct cli_resp resp;
		if (object_path("interfaces", argv[1], suffix, path, sizeof(path)) < 0)
			return CLI_EXIT_FAIL;
		int rc = request(cli, "DELETE", path, NULL, &resp);
		if (rc == CLI_EXIT_OK) {
			printf("unlinked %s\n", json_string_value(json_object_get(resp.json, "ip")) ?: "the link");
			cli_resp_done(&resp);
		}
		return rc;
	}
	return net_run(cli, &g_interfaces, argv, argc);
}

/* ---- one subnet ---- */

static int fetch(struct cli *cli, const char *key, const char *suffix, struct cli_resp *resp)
{
	char path[PATH_LEN];

	if (object_path("subnets", key, suffix, path, sizeof(path)) < 0)
		return CLI_EXIT_FAIL;
	return request(cli, "GET", path, NULL, resp);
}

static void subnet_print(const json_t *s, const json_t *u, const json_t *ranges, const json_t *sug)
{
	char util[300], dns[300], vlan[300], ntp[300], lease[32];
	struct cli_net_col dns_col = {"", "dns_servers", CLI_NF_LIST};
	struct cli_net_col ntp_col = {"", "ntp_servers", CLI_NF_LIST};
	const json_t *lt = json_object_get(s, "dhcp_lease_time");
	struct cli_table t;

	cli_net_utilisation_format(u, util, sizeof(util));
	cli_net_cell(s, &dns_col, 0, dns, sizeof(dns));
	cli_net_cell(s, &ntp_col, 0, ntp, sizeof(ntp));
	if (json_is_integer(lt))
		snprintf(lease, sizeof(lease), "%" JSON_INTEGER_FORMAT " s", json_integer_value(lt));
	else
		snprintf(lease, sizeof(lease), "default");
	const char *domain = json_string_value(json_object_get(s, "domain"));
	snprintf(vlan, sizeof(vlan), "%s, VLAN %" JSON_INTEGER_FORMAT,
		 json_string_value(json_object_get(s, "fabric_name")) ?: "?",
		 json_integer_value(json_object_get(s, "vid")));
	const char *yes = "yes", *no = "no";
	char discovery[64] = "no", every[32];
	if (json_is_true(json_object_get(s, "active_discovery"))) {
		duration_format((uint64_t)json_integer_value(json_object_get(s, "discovery_interval")), every,
				sizeof(every));
		snprintf(discovery, sizeof(discovery), "yes, every %s", every);
	}
	const char *rows[][2] = {
	    {"Subnet:", json_string_value(json_object_get(s, "cidr"))},
	    {"Name:", json_string_value(json_object_get(s, "name"))},
	    {"Fabric/VLAN:", vlan},
	    {"Space:", json_string_value(json_object_get(s, "space"))},
	    {"Gateway:", json_string_value(json_object_get(s, "gateway"))},
	    {"DNS:", dns},
	    {"Domain:", domain && *domain ? domain : "-"},
	    {"NTP:", ntp},
	    {"DHCP lease time:", lease},
	    {"Managed:", json_is_true(json_object_get(s, "managed")) ? yes : no},
	    {"Active discovery:", discovery},
	    {"Proxy access:", json_is_true(json_object_get(s, "allow_proxy")) ? yes : no},
	    {"Allow DNS:", json_is_true(json_object_get(s, "allow_dns")) ? yes : no},
	    {"Utilisation:", util},
	};
	if (cli_table_init(&t, NULL, 2) < 0)
		return;
	for (size_t i = 0; i < N(rows); i++)
		cli_table_add(&t, rows[i]);
	cli_table_print(&t, stdout);
	cli_table_done(&t);
	if (json_array_size(ranges) > 0) {
		printf("Ranges:\n");
		cli_net_table_print(&g_ranges, ranges, 0, stdout);
	}
	const json_t *gw = json_object_get(sug, "gateway"), *dyn = json_object_get(sug, "dynamic_range");
	if (json_is_string(gw) || json_is_object(dyn)) {
		printf("Suggested:   ");
		if (json_is_string(gw))
			printf("gateway %s%s", json_string_value(gw), json_is_object(dyn) ? ", " : "");
		if (json_is_object(dyn))
			printf("dynamic range %s-%s", json_string_value(json_object_get(dyn, "start")),
			       json_string_value(json_object_get(dyn, "end")));
		printf("\n");
	}
}

static int subnet_show(struct cli *cli, const char *key)
{
	struct cli_resp s, u, r, g = {0};
	char suffix[64];

	int rc = fetch(cli, key, "", &s);
	if (rc != CLI_EXIT_OK)
		return rc;
	json_int_t id = json_integer_value(json_object_get(s.json, "id"));
	snprintf(suffix, sizeof(suffix), "%" JSON_INTEGER_FORMAT, id);
	rc = fetch(cli, suffix, "/utilisation", &u);
	if (rc != CLI_EXIT_OK) {
		cli_resp_done(&s);
		return rc;
	}
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/ip-ranges?limit=1000&subnet=%" JSON_INTEGER_FORMAT, id);
	rc = request(cli, "GET", path, NULL, &r);
	const json_t *ranges = rc == CLI_EXIT_OK ? json_object_get(r.json, "ip_ranges") : NULL;
	/* Suggestions only help a subnet with nothing in it yet. */
	bool empty = json_array_size(ranges) == 0 && json_integer_value(json_object_get(s.json, "ip_addresses")) == 0;
	if (rc == CLI_EXIT_OK && empty)
		rc = fetch(cli, suffix, "/suggestions", &g);
	if (rc == CLI_EXIT_OK && (cli->args->given & CLI_OPT_JSON)) {
		json_t *all = json_pack("{s:O, s:O, s:O}", "subnet", s.json, "utilisation", u.json, "ranges", ranges);
		if (all && g.json)
			json_object_set(all, "suggestions", g.json);
		rc = all ? json_out(all) : CLI_EXIT_FAIL;
		json_decref(all);
	} else if (rc == CLI_EXIT_OK) {
		subnet_print(s.json, u.json, ranges, g.json);
	}
	if (ranges)
		cli_resp_done(&r);
	cli_resp_done(&g);
	cli_resp_done(&u);
	cli_resp_done(&s);
	return rc;
}

static int subnet_allocate(struct cli *cli, const char *key, char **argv, size_t argc)
{
	char path[PATH_LEN], err[256];
	struct cli_resp resp;
	json_t *body = json_object();
	int rc = body ? opts_to_body(cli, body) : CLI_EXIT_FAIL;

	if (rc == CLI_EXIT_OK && cli_net_body_add(body, argv, argc, NULL, err, sizeof(err)) < 0)
		rc = usage("%s", err);
	if (rc == CLI_EXIT_OK && object_path("subnets", key, "/allocate-ip", path, sizeof(path)) < 0)
		rc = CLI_EXIT_FAIL;
	if (rc == CLI_EXIT_OK)
		rc = request(cli, "POST", path, body, &resp);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	const char *warning = json_string_value(json_object_get(resp.json, "warning"));
	if (warning)
		fprintf(stderr, "warning: %s\n", warning);
	if (cli->args->given & CLI_OPT_JSON)
		rc = json_out(resp.json);
	else
		printf("%s\n", json_string_value(json_object_get(resp.json, "ip")) ?: "(no address: a link only)");
	cli_resp_done(&resp);
	return rc;
}

static int subnet_release(struct cli *cli, const char *key, const char *ip)
{
	char path[PATH_LEN];
	struct cli_resp resp;
	json_t *body = json_pack("{s:s}", "ip", ip);

	int rc = object_path("subnets", key, "/release-ip", path, sizeof(path)) < 0
		     ? CLI_EXIT_FAIL
		     : request(cli, "POST", path, body, &resp);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = json_out(resp.json);
	else
		printf("released %s\n", ip);
	cli_resp_done(&resp);
	return rc;
}

static int subnet_next_free(struct cli *cli, const char *key, char **argv, size_t argc)
{
	struct cli_resp resp;
	const char *suffix = "/next-free";

	if (argc == 1 && strcmp(argv[0], "pool=dhcp") == 0)
		suffix = "/next-free?pool=dhcp";
	else if (argc > 0)
		return usage("%s", "next-free takes only pool=dhcp");
	int rc = fetch(cli, key, suffix, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = json_out(resp.json);
	else
		printf("%s%s\n", json_string_value(json_object_get(resp.json, "ip")) ?: "?",
		       json_is_true(json_object_get(resp.json, "recheck")) ? " (seen on the wire: re-check it)" : "");
	cli_resp_done(&resp);
	return rc;
}

/* The serving rack ARP-scans the subnet now; its findings arrive as
 * discoveries (ironrack discoveries list). */
static int subnet_scan(struct cli *cli, const char *key)
{
	char path[PATH_LEN];
	struct cli_resp resp;

	if (object_path("subnets", key, "/scan", path, sizeof(path)) < 0)
		return CLI_EXIT_FAIL;
	int rc = request(cli, "POST", path, NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->args->given & CLI_OPT_JSON)
		rc = json_out(resp.json);
	else
		printf("rack %s: %s\n", json_string_value(json_object_get(resp.json, "rack")) ?: "?",
		       json_string_value(json_object_get(resp.json, "message")) ?: "scanning");
	cli_resp_done(&resp);
	return rc;
}

int cli_cmd_subnet(struct cli *cli, char **argv, size_t argc)
{
	const char *action = argc ? argv[0] : "";

	if (argc < 2)
		return usage("%s", "usage: ironrack subnet show|allocate-ip|release-ip|next-free|scan CIDR|ID ...");
	if (strcmp(action, "show") == 0 && argc == 2)
		return subnet_show(cli, argv[1]);
	if (strcmp(action, "allocate-ip") == 0)
		return subnet_allocate(cli, argv[1], argv + 2, argc - 2);
	if (strcmp(action, "release-ip") == 0 && argc == 3)
		return subnet_release(cli, argv[1], argv[2]);
	if (strcmp(action, "next-free") == 0)
		return subnet_next_free(cli, argv[1], argv + 2, argc - 2);
	if (strcmp(action, "scan") == 0 && argc == 2)
		return subnet_scan(cli, argv[1]);
	return usage("unknown or misused action \"%s\"; see ironrack help subnet", action);
}
