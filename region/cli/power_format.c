/* The power commands' text: options to a request, actions and events to
 * lines and tables, power_* words to JSON. Pure apart from writing to the
 * FILE it is given and calling the secret reader it is given. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/cli/net_cli.h"
#include "region/cli/power_cli.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *word;
	const char *action;
} power_words[] = {
    {"power-on", "on"},
    {"power-off", "off"},
    {"power-cycle", "cycle"},
    {"power-query", "query"},
};

const char *cli_power_action_of(const char *word)
{
	for (size_t i = 0; i < N(power_words); i++)
		if (strcmp(word, power_words[i].word) == 0)
			return power_words[i].action;
	return NULL;
}

static int boot_parse(const char *action, const struct cli_args *a, struct cli_power_req *r, char *err, size_t errlen)
{
	const char *boot = cli_opt_value(a, CLI_OPT_BOOT);
	unsigned modifiers = a->given & (CLI_OPT_BOOT_PERSISTENT | CLI_OPT_BOOT_EFI);

	if ((a->given & CLI_OPT_BOOT) && boot) {
		if (strcmp(action, "on") != 0 && strcmp(action, "cycle") != 0) {
			snprintf(err, errlen, "--boot applies to power-on and power-cycle only");
			return -EINVAL;
		}
		if (strcmp(boot, "pxe") != 0 && strcmp(boot, "disk") != 0) {
			snprintf(err, errlen, "--boot wants pxe or disk, not \"%s\"", boot);
			return -EINVAL;
		}
		r->boot = boot;
	}
	if (modifiers && !r->boot) {
		snprintf(err, errlen, "%s needs --boot pxe|disk", cli_opt_name(modifiers));
		return -EINVAL;
	}
	r->boot_persistent = a->given & CLI_OPT_BOOT_PERSISTENT;
	r->boot_efi = a->given & CLI_OPT_BOOT_EFI;
	return 0;
}

int cli_power_req_parse(const char *action, const struct cli_args *a, struct cli_power_req *ret, char *err,
			size_t errlen)
{
	const char *timeout = cli_opt_value(a, CLI_OPT_TIMEOUT);
	long s;

	memset(ret, 0, sizeof(*ret));
	ret->action = action;
	ret->wait = a->given & CLI_OPT_WAIT;
	ret->timeout_ms = CLI_POWER_WAIT_DEFAULT_S * 1000LL;
	if (boot_parse(action, a, ret, err, errlen) < 0)
		return -EINVAL;
	if (!(a->given & CLI_OPT_TIMEOUT))
		return 0;
	if (!ret->wait) {
		snprintf(err, errlen, "--timeout needs --wait (it bounds the wait for the outcome)");
		return -EINVAL;
	}
	if (!timeout || cli_number_parse(timeout, 1, CLI_POWER_WAIT_MAX_S, &s) < 0) {
		snprintf(err, errlen, "--timeout with --wait wants seconds from 1 to %d, not \"%s\"",
			 CLI_POWER_WAIT_MAX_S, timeout ? timeout : "");
		return -EINVAL;
	}
	ret->timeout_ms = s * 1000LL;
	return 0;
}

json_t *cli_power_req_body(const struct cli_power_req *r)
{
	json_t *body = json_object();

	json_object_set_new(body, "action", json_string(r->action));
	if (r->boot) {
		json_object_set_new(body, "boot", json_string(r->boot));
		json_object_set_new(body, "boot_persistent", json_boolean(r->boot_persistent));
		json_object_set_new(body, "boot_efi", json_boolean(r->boot_efi));
	}
	return body;
}

static int machine_path(const char *host, const char *tail, char *(*escape)(const char *), char *buf, size_t len)
{
	char *esc = escape(host);
	int n = snprintf(buf, len, "/api/v1/machines/%s%s", esc, tail);

	free(esc);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int cli_power_path(const char *host, const char *suffix, char *(*escape)(const char *), char *buf, size_t len)
{
	char tail[128];

	if ((size_t)snprintf(tail, sizeof(tail), "/power%s", suffix) >= sizeof(tail))
		return -ENOSPC;
	return machine_path(host, tail, escape, buf, len);
}

int cli_power_events_path(const char *host, const struct cli_args *a, char *(*escape)(const char *), char *buf,
			  size_t len, char *err, size_t errlen)
{
	const char *limit = cli_opt_value(a, CLI_OPT_LIMIT);
	char tail[64] = "/events";
	long n;

	if (a->given & CLI_OPT_LIMIT) {
		if (!limit || cli_number_parse(limit, 1, CLI_POWER_EVENTS_MAX, &n) < 0) {
			snprintf(err, errlen, "--limit wants a number from 1 to %d, not \"%s\"", CLI_POWER_EVENTS_MAX,
				 limit ? limit : "");
			return -EINVAL;
		}
		snprintf(tail, sizeof(tail), "/events?limit=%ld", n);
	}
	if (machine_path(host, tail, escape, buf, len) < 0) {
		snprintf(err, errlen, "the machine's name is too long");
		return -ENOSPC;
	}
	return 0;
}

int64_t cli_power_poll_delay_ms(unsigned n)
{
	int64_t d = 200;

	for (unsigned i = 0; i < n && d < 1000; i++)
		d += d / 2;
	return d < 1000 ? d : 1000;
}

enum cli_power_outcome cli_power_action_outcome(const json_t *action)
{
	const char *status = json_string_value(json_object_get(action, "status"));

	if (status && strcmp(status, "pending") == 0)
		return CLI_POWER_PENDING;
	if (json_is_true(json_object_get(action, "needs_person")))
		return CLI_POWER_NEEDS_PERSON;
	if (status && strcmp(status, "done") == 0)
		return CLI_POWER_DONE;
	return CLI_POWER_FAILED;
}

int cli_power_outcome_exit(enum cli_power_outcome o)
{
	return o == CLI_POWER_DONE ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* A string member, "" when absent or not a string. */
static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* finished - requested of an action, or fallback. */
static int64_t action_elapsed_ms(const json_t *action, int64_t fallback)
{
	int64_t req, fin;

	if (cli_rfc3339_parse(str(action, "requested"), &req) == 0 &&
	    cli_rfc3339_parse(str(action, "finished"), &fin) == 0 && fin >= req)
		return fin - req;
	return fallback;
}

/* What happened, after "power on: ". */
static void outcome_format(const json_t *action, int64_t elapsed_ms, char *buf, size_t len)
{
	const char *state = str(action, "state"), *msg = str(action, "message"), *rack = str(action, "rack");
	json_int_t id = json_integer_value(json_object_get(action, "id"));
	int64_t ms = action_elapsed_ms(action, elapsed_ms);
	char took[48] = "";

	switch (cli_power_action_outcome(action)) {
	case CLI_POWER_PENDING:
		if (*rack)
			snprintf(buf, len, "queued (action %" JSON_INTEGER_FORMAT ", rack %s)", id, rack);
		else
			snprintf(buf, len, "queued (action %" JSON_INTEGER_FORMAT ")", id);
		return;
	case CLI_POWER_DONE:
		if (ms >= 0)
			snprintf(took, sizeof(took), " in %.1f s", (double)ms / 1000.0);
		if (*state)
			snprintf(buf, len, "done (state %s)%s", state, took);
		else
			snprintf(buf, len, "done%s", took);
		return;
	case CLI_POWER_NEEDS_PERSON:
		snprintf(buf, len, "needs a person: %s", *msg ? msg : "the driver cannot act on its own");
		return;
	case CLI_POWER_FAILED:
		snprintf(buf, len, "failed: %s", *msg ? msg : "(the region gave no reason)");
		return;
	}
}

void cli_power_action_format(const json_t *action, bool with_machine, int64_t elapsed_ms, char *buf, size_t len)
{
	const char *machine = str(action, "machine"), *boot = str(action, "boot");
	char what[400];

	if (len == 0)
		return;
	outcome_format(action, elapsed_ms, what, sizeof(what));
	snprintf(buf, len, "%s%spower %s%s%s: %s", with_machine ? machine : "", with_machine ? ": " : "",
		 *str(action, "action") ? str(action, "action") : "?", *boot ? ", boot " : "", boot, what);
	cli_text_sanitize(buf);
}

/* "on (checked 5m ago)" / "unknown (never checked)". */
static void state_format(const json_t *st, int64_t now_ms, char *buf, size_t len)
{
	const char *state = str(st, "state");
	const json_t *at = json_object_get(st, "state_at");
	char ago[32];

	if (!json_is_string(at)) {
		snprintf(buf, len, "%s (never checked)", *state ? state : "unknown");
		return;
	}
	cli_last_seen_format(at, now_ms, ago, sizeof(ago));
	snprintf(buf, len, "%s (checked %s)", *state ? state : "unknown", ago);
}

int cli_power_status_print(const json_t *st, int64_t now_ms, FILE *out)
{
	const json_t *last = json_object_get(st, "last_action");
	char state[96], action[600], req[160], ago[32];
	const char *type = str(st, "power_type"), *error = str(st, "error"), *rack = str(st, "rack");
	struct cli_table t;

	state_format(st, now_ms, state, sizeof(state));
	if (json_is_object(last)) {
		cli_power_action_format(last, false, -1, action, sizeof(action));
		cli_last_seen_format(json_object_get(last, "requested"), now_ms, ago, sizeof(ago));
		snprintf(req, sizeof(req), "%s by %s (action %" JSON_INTEGER_FORMAT ")", ago,
			 *str(last, "requested_by") ? str(last, "requested_by") : "?",
			 json_integer_value(json_object_get(last, "id")));
	} else {
		snprintf(action, sizeof(action), "none");
	}
	const char *rows[][2] = {
	    {"Machine:", str(st, "machine")},
	    {"Power type:", *type ? type : "none"},
	    {"State:", state},
	    {"Error:", *error ? error : "-"},
	    {"Rack:", *rack ? rack : "-"},
	    {"Last action:", action},
	    {"Requested:", req},
	};
	/* "Requested:" only when there is a last action. */
	size_t n_rows = json_is_object(last) ? N(rows) : N(rows) - 1;
	if (cli_table_init(&t, NULL, 2) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n_rows; i++)
		cli_table_add(&t, rows[i]);
	int r = cli_table_print(&t, out);
	cli_table_done(&t);
	return r;
}

static const struct cli_net_col event_cols[] = {
    {"ID", "id", CLI_NF_TEXT},
    {"AT", "at", CLI_NF_TEXT},
    {"KIND", "kind", CLI_NF_TEXT},
    {"ACTOR", "actor", CLI_NF_TEXT},
    {"ACTION", "action_id", CLI_NF_TEXT},
    {"DESCRIPTION", "description", CLI_NF_TEXT},
};

int cli_power_events_print(const json_t *events, FILE *out)
{
	static const struct cli_net_group g = {"events", "events",   "events",	    "event", NULL,
					       NULL,	 event_cols, N(event_cols), true,    true};

	return cli_net_table_print(&g, events, 0, out);
}

json_t *cli_power_machine_view(const json_t *machine, int64_t now_ms)
{
	json_t *m = json_deep_copy(machine);
	const json_t *opts = json_object_get(m, "power_options");
	const json_t *at = json_object_get(m, "power_state_at");

	if (!m)
		oom_abort(0);
	/* Write-only; a region that sent it back by mistake is not echoed. */
	json_object_del(m, "power_pass");
	if (json_is_object(opts)) {
		char *text = cli_options_text(opts);
		json_object_set_new(m, "power_options", json_string(text));
		free(text);
	}
	if (json_is_string(at)) {
		char ago[32];
		cli_last_seen_format(at, now_ms, ago, sizeof(ago));
		char *text = xasprintf("%s (%s)", json_string_value(at), ago);
		json_object_set_new(m, "power_state_at", json_string(text));
		free(text);
	}
	return m;
}

/* One power_ word into body. */
static int power_word_add(json_t *body, const char *word, cli_power_secret_fn read_secret, char *err, size_t errlen)
{
	const char *eq = strchr(word, '=');
	char key[64], secret[CLI_POWER_PASS_MAX + 2];
	const char *value = eq + 1;

	if ((size_t)(eq - word) >= sizeof(key)) {
		snprintf(err, errlen, "\"%.64s...\" is not KEY=VALUE", word);
		return -EINVAL;
	}
	snprintf(key, sizeof(key), "%.*s", (int)(eq - word), word);
	if (json_object_get(body, key)) {
		snprintf(err, errlen, "%s given twice", key);
		return -EINVAL;
	}
	if (strcmp(key, "power_pass") == 0 && strcmp(value, "-") == 0) {
		int r = read_secret("BMC password (power_pass)", secret, sizeof(secret));
		if (r < 0 || !*secret) {
			snprintf(err, errlen, "power_pass=-: %s",
				 r == -ENAMETOOLONG ? "the password is longer than 255 bytes"
				 : r < 0	    ? "no password on standard input"
						    : "empty password on standard input (power_pass= clears it)");
			explicit_bzero(secret, sizeof(secret));
			return -EINVAL;
		}
		value = secret;
	}
	/* Strings, "" included: the region parses numbers and booleans of
	 * power options itself and names the field when one is wrong. */
	json_t *v = json_string(value);
	explicit_bzero(secret, sizeof(secret));
	if (!v) {
		snprintf(err, errlen, "%s is not UTF-8 text", key);
		return -EINVAL;
	}
	json_object_set_new(body, key, v);
	return 0;
}

int cli_power_body_add(json_t *body, char **words, size_t n, cli_power_secret_fn read_secret, char **rest,
		       size_t *ret_n_rest, char *err, size_t errlen)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		if (strncmp(words[i], "power_", 6) != 0 || !strchr(words[i], '=')) {
			rest[kept++] = words[i];
			continue;
		}
		if (power_word_add(body, words[i], read_secret, err, errlen) < 0)
			return -EINVAL;
	}
	*ret_n_rest = kept;
	return 0;
}
