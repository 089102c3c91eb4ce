/* ironrack: the command-line client of the region's REST API. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/version.h"
#include "region/cli/commands.h"

#define SERVER_OPTS (CLI_OPT_URL | CLI_OPT_KEY)

struct cli_command {
	const char *name; /* words, e.g. "racks push-config" */
	const char *usage_args;
	size_t min_args, max_args;
	unsigned opts; /* options it accepts besides --help */
	int (*run)(struct cli *cli, char **argv, size_t argc);
	const char *summary;
	const char *help;
};

static const struct cli_command commands[] = {
    {"login", "URL KEY", 2, 2, 0, cli_cmd_login, "check an API key against a region and save both",
     "Checks KEY with GET URL/api/v1/racks and, if the region accepts it, saves URL and\n"
     "KEY to $IRONRACK_CONFIG or ~/.config/ironrack/cli.conf (mode 0600). KEY \"-\" reads\n"
     "the key from the first line of standard input."},
    {"logout", "", 0, 0, 0, cli_cmd_logout, "forget the saved URL and key", "Removes the saved login file."},
    {"racks list", "", 0, 0, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_racks_list, "list racks",
     "Shows every rack: status, when it was last heard from, its software version, its\n"
     "configuration (versions acknowledged/latest) and its interfaces. --json prints the\n"
     "API's answer instead."},
    {"racks show", "ID", 1, 1, SERVER_OPTS | CLI_OPT_JSON, cli_cmd_racks_show, "show one rack",
     "Shows one rack in detail. --json prints the API's answer instead."},
    {"racks ping", "ID", 1, 1, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_TIMEOUT, cli_cmd_racks_ping,
     "check that a rack answers over its session",
     "Sends a ping down the rack's session and prints the round-trip time. --timeout MS\n"
     "bounds the wait (1-60000, default 5000)."},
    {"racks push-config", "ID KEY=VALUE...", 2, SIZE_MAX, SERVER_OPTS | CLI_OPT_JSON | CLI_OPT_TIMEOUT,
     cli_cmd_racks_push_config, "store a new configuration for a rack and push it",
     "Stores the settings as the rack's next configuration version and pushes it. Waits\n"
     "until the rack has it on disk (--timeout MS, 1-60000, default 10000). A rack that\n"
     "is not connected gets it when it reconnects."},
    {"version", "", 0, 0, SERVER_OPTS, cli_cmd_version, "print the client's and the region's versions",
     "Prints this client's version and, if a region is configured and reachable, the\n"
     "region's."},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char options_help[] = "Options:\n"
				   "  --url URL      region URL (overrides IRONRACK_URL and the saved login)\n"
				   "  --key KEY      API key (overrides IRONRACK_KEY and the saved login)\n"
				   "  --json         print the API's JSON answer\n"
				   "  --timeout MS   how long to wait for a rack (1-60000 ms)\n"
				   "  -h, --help     show help (also: ironrack help COMMAND)\n"
				   "  --version      same as 'ironrack version'\n";

/* Words of name that match words[0..n): the count if all of name matched,
 * 0 if not. *ret_group is set when the first word matched but not all:
 * words[0] names a group of commands ("racks"). */
static size_t name_match(const char *name, char **words, size_t n, bool *ret_group)
{
	size_t i = 0;
	const char *p = name;

	*ret_group = false;
	while (*p) {
		size_t len = strcspn(p, " ");
		if (i == n || strlen(words[i]) != len || strncmp(words[i], p, len) != 0) {
			*ret_group = i > 0;
			return 0;
		}
		i++;
		p += len;
		p += *p == ' ';
	}
	return i;
}

/* The command named by the first words; *ret_used words consumed. NULL
 * if none; *ret_group then says whether words name a group ("racks"). */
static const struct cli_command *command_find(char **words, size_t n, size_t *ret_used, bool *ret_group)
{
	*ret_group = false;
	for (size_t i = 0; i < N_COMMANDS; i++) {
		bool prefix;
		size_t used = name_match(commands[i].name, words, n, &prefix);
		if (used) {
			*ret_used = used;
			return &commands[i];
		}
		*ret_group |= prefix;
	}
	return NULL;
}

static void usage_print(FILE *out, const char *group)
{
	fprintf(out, "Usage: ironrack [--url URL] [--key KEY] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct cli_command *c = &commands[i];
		char line[128];
		if (group && strncmp(c->name, group, strlen(group)) != 0)
			continue;
		snprintf(line, sizeof(line), "%s%s%s", c->name, *c->usage_args ? " " : "", c->usage_args);
		fprintf(out, "  %-38s %s\n", line, c->summary);
	}
	fprintf(out, "  %-38s %s\n\n%s", "help [COMMAND]", "show help for a command", options_help);
	fprintf(out, "\nThe login is saved in $IRONRACK_CONFIG or ~/.config/ironrack/cli.conf.\n");
}

static void command_help_print(const struct cli_command *c)
{
	printf("Usage: ironrack %s%s%s%s%s%s\n\n%s\n", c->name, *c->usage_args ? " " : "", c->usage_args,
	       (c->opts & CLI_OPT_TIMEOUT) ? " [--timeout MS]" : "", (c->opts & CLI_OPT_JSON) ? " [--json]" : "",
	       (c->opts & CLI_OPT_URL) ? " [--url URL] [--key KEY]" : "", c->help);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("error: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n\n", stderr);
	usage_print(stderr, NULL);
	return CLI_EXIT_USAGE;
}

/* `ironrack help WORDS...` and `ironrack WORDS... --help`. */
static int help_run(char **words, size_t n)
{
	size_t used;
	bool group;

	if (n == 0) {
		usage_print(stdout, NULL);
		return CLI_EXIT_OK;
	}
	const struct cli_command *c = command_find(words, n, &used, &group);
	if (c && used == n) {
		command_help_print(c);
		return CLI_EXIT_OK;
	}
	if (group && n == 1) {
		usage_print(stdout, words[0]);
		return CLI_EXIT_OK;
	}
	return usage_error("unknown command \"%s\"", words[0]);
}

static int command_check(const struct cli_command *c, const struct cli_args *a, size_t n_args)
{
	unsigned extra = a->given & ~(c->opts | CLI_OPT_HELP);

	if (extra) {
		fprintf(stderr, "error: %s does not apply to 'ironrack %s'\n", cli_opt_name(extra), c->name);
		return CLI_EXIT_USAGE;
	}
	if (n_args < c->min_args || n_args > c->max_args) {
		fprintf(stderr, "error: usage: ironrack %s%s%s\n", c->name, *c->usage_args ? " " : "", c->usage_args);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

static int cli_run(struct cli_args *a)
{
	struct cli cli = {.args = a};
	size_t used;
	bool group;

	if (a->n_words == 0) {
		if (a->given & CLI_OPT_VERSION) {
			a->given &= ~CLI_OPT_VERSION;
			a->words[a->n_words++] = "version";
		} else if (a->given & CLI_OPT_HELP) {
			return help_run(NULL, 0);
		} else {
			usage_print(stderr, NULL);
			return CLI_EXIT_USAGE;
		}
	}
	if (strcmp(a->words[0], "help") == 0)
		return help_run(a->words + 1, a->n_words - 1);
	const struct cli_command *c = command_find(a->words, a->n_words, &used, &group);
	if (!c && group && (a->given & CLI_OPT_HELP))
		return help_run(a->words, 1);
	if (!c && group) {
		if (a->n_words == 1)
			fprintf(stderr, "error: \"%s\" needs a subcommand\n\n", a->words[0]);
		else
			fprintf(stderr, "error: unknown command \"%s %s\"\n\n", a->words[0], a->words[1]);
		usage_print(stderr, a->words[0]);
		return CLI_EXIT_USAGE;
	}
	if (!c)
		return usage_error("unknown command \"%s\"", a->words[0]);
	if (a->given & CLI_OPT_HELP) {
		command_help_print(c);
		return CLI_EXIT_OK;
	}
	int rc = command_check(c, a, a->n_words - used);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli_conf_path(cli.conf_path, sizeof(cli.conf_path)) < 0) {
		fprintf(stderr, "error: cannot tell where the login is saved: set IRONRACK_CONFIG or HOME\n");
		return CLI_EXIT_FAIL;
	}
	return c->run(&cli, a->words + used, a->n_words - used);
}

int main(int argc, char **argv)
{
	struct cli_args args;
	char err[256];

	if (cli_args_parse(argc, argv, &args, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\nRun 'ironrack --help' for usage.\n", err);
		return CLI_EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "error: cannot initialise libcurl\n");
		cli_args_done(&args);
		return CLI_EXIT_FAIL;
	}
	int rc = cli_run(&args);
	curl_global_cleanup();
	cli_args_done(&args);
	return rc;
}
