/* The discoveries commands' pure part; see discoveries_cli.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/cli.h"
#include "region/cli/discoveries_cli.h"
#include "region/cli/net_cli.h"

const char *cli_discoveries_path(bool unknown_only)
{
	return unknown_only ? "/api/v1/discoveries?unknown=true" : "/api/v1/discoveries";
}

void cli_discovery_known_text(const json_t *d, char *buf, size_t len)
{
	const json_t *as = json_object_get(d, "known_as");
	if (!json_is_true(json_object_get(d, "known")))
		snprintf(buf, len, "no");
	else if (json_is_string(as) && json_string_value(as)[0])
		snprintf(buf, len, "%s", json_string_value(as));
	else
		snprintf(buf, len, "yes");
	cli_text_sanitize(buf);
}

static const struct cli_net_col disc_cols[] = {
    {"IP", "ip", CLI_NF_TEXT},
    {"MAC", "mac", CLI_NF_TEXT},
    {"HOSTNAME", "hostname", CLI_NF_TEXT},
    {"SUBNET", "subnet_cidr", CLI_NF_TEXT},
    {"RACK", "rack", CLI_NF_TEXT},
    {"INTERFACE", "interface", CLI_NF_TEXT},
    {"FIRST SEEN", "first_seen", CLI_NF_AGO},
    {"LAST SEEN", "last_seen", CLI_NF_AGO},
};
#define N_DISC_COLS (sizeof(disc_cols) / sizeof(disc_cols[0]))

int cli_discoveries_print(const json_t *list, int64_t now_ms, FILE *out)
{
	const char *headers[N_DISC_COLS + 1];
	char cells[N_DISC_COLS + 1][320];
	const char *row[N_DISC_COLS + 1];
	struct cli_table t;
	size_t i;
	const json_t *d;

	for (size_t c = 0; c < N_DISC_COLS; c++)
		headers[c] = disc_cols[c].header;
	headers[N_DISC_COLS] = "KNOWN";
	if (cli_table_init(&t, headers, N_DISC_COLS + 1) < 0)
		return -EINVAL;
	json_array_foreach(list, i, d)
	{
		for (size_t c = 0; c < N_DISC_COLS; c++) {
			cli_net_cell(d, &disc_cols[c], now_ms, cells[c], sizeof(cells[c]));
			row[c] = cells[c];
		}
		cli_discovery_known_text(d, cells[N_DISC_COLS], sizeof(cells[N_DISC_COLS]));
		row[N_DISC_COLS] = cells[N_DISC_COLS];
		cli_table_add(&t, row);
	}
	int r = cli_table_print(&t, out);
	cli_table_done(&t);
	return r;
}

static const struct cli_net_col event_cols[] = {
    {"AT", "at", CLI_NF_TEXT},	 {"KIND", "kind", CLI_NF_TEXT},	      {"IP", "ip", CLI_NF_TEXT},
    {"MAC", "mac", CLI_NF_TEXT}, {"OLD MAC", "old_mac", CLI_NF_TEXT}, {"DESCRIPTION", "description", CLI_NF_TEXT},
};

int cli_discovery_events_print(const json_t *events, FILE *out)
{
	static const struct cli_net_group g = {"events",   "discoveries/events",
					       "events",   "event",
					       NULL,	   NULL,
					       event_cols, sizeof(event_cols) / sizeof(event_cols[0]),
					       true,	   true};
	return cli_net_table_print(&g, events, 0, out);
}

json_t *cli_discoveries_claim_body(const char *ip, const char *hostname)
{
	json_t *b = json_pack("{s:s, s:s}", "ip", ip, "hostname", hostname);
	if (!b)
		oom_abort(0);
	return b;
}

void cli_discoveries_claim_format(const json_t *answer, char *buf, size_t len)
{
	const char *host = json_string_value(json_object_get(answer, "hostname"));
	const char *mac = json_string_value(json_object_get(answer, "mac"));
	const char *ip = json_string_value(json_object_get(answer, "ip"));
	json_int_t id = json_integer_value(json_object_get(answer, "device"));
	snprintf(buf, len, "%s (%s) is device %lld with address %s", host ? host : "?", mac ? mac : "?", (long long)id,
		 ip ? ip : "?");
	cli_text_sanitize(buf);
}
