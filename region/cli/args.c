/* Command-line parsing for the CLI. Pure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "region/cli/cli.h"

static const struct {
	const char *name;
	uint64_t opt;
	bool has_value;
} cli_opts[] = {
    {"--url", CLI_OPT_URL, true},
    {"--key", CLI_OPT_KEY, true},
    {"--json", CLI_OPT_JSON, false},
    {"--timeout", CLI_OPT_TIMEOUT, true},
    {"--help", CLI_OPT_HELP, false},
    {"-h", CLI_OPT_HELP, false},
    {"--version", CLI_OPT_VERSION, false},
    {"--count", CLI_OPT_COUNT, true},
    {"--ports", CLI_OPT_PORTS, true},
    {"--type", CLI_OPT_TYPE, true},
    {"--size", CLI_OPT_SIZE, true},
    {"--description", CLI_OPT_DESCRIPTION, true},
    {"--fabric", CLI_OPT_FABRIC, true},
    {"--zone", CLI_OPT_ZONE, true},
    {"--wan-pools", CLI_OPT_WAN_POOLS, true},
    {"--subnet", CLI_OPT_SUBNET, true},
    {"--start", CLI_OPT_START, true},
    {"--end", CLI_OPT_END, true},
    {"--ip", CLI_OPT_IP, true},
    {"--hostname", CLI_OPT_HOSTNAME, true},
    {"--status", CLI_OPT_STATUS, true},
    {"--comment", CLI_OPT_COMMENT, true},
    {"--mode", CLI_OPT_MODE, true},
    {"--name", CLI_OPT_NAME, true},
    {"--gateway", CLI_OPT_GATEWAY, true},
    {"--vid", CLI_OPT_VID, true},
    {"--wait", CLI_OPT_WAIT, false},
    {"--boot", CLI_OPT_BOOT, true},
    {"--boot-persistent", CLI_OPT_BOOT_PERSISTENT, false},
    {"--boot-efi", CLI_OPT_BOOT_EFI, false},
    {"--limit", CLI_OPT_LIMIT, true},
    {"--arch", CLI_OPT_ARCH, true},
    {"--format", CLI_OPT_FORMAT, true},
    {"--min-cpu", CLI_OPT_MIN_CPU, true},
    {"--min-memory", CLI_OPT_MIN_MEMORY, true},
    {"--min-disk", CLI_OPT_MIN_DISK, true},
    {"--tags", CLI_OPT_TAGS, true},
    {"--image", CLI_OPT_IMAGE, true},
    {"--user-data", CLI_OPT_USER_DATA, true},
    {"--ssh-key", CLI_OPT_SSH_KEY, true},
    {"--erase", CLI_OPT_ERASE, true},
    {"--ca", CLI_OPT_CA, true},
    {"--ca-fingerprint", CLI_OPT_CA_FINGERPRINT, true},
    {"--unknown", CLI_OPT_UNKNOWN, false},
};
#define N_OPTS (sizeof(cli_opts) / sizeof(cli_opts[0]))

const char *cli_opt_name(uint64_t mask)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (mask & cli_opts[i].opt)
			return cli_opts[i].name;
	return "?";
}

const char *cli_opt_value(const struct cli_args *a, uint64_t opt)
{
	for (unsigned bit = 0; bit < CLI_OPT_BITS; bit++)
		if (opt == UINT64_C(1) << bit)
			return a->values[bit];
	return NULL;
}

size_t cli_opt_values(const struct cli_args *a, uint64_t opt, const char **ret, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_given_values; i++)
		if (a->given_values[i].opt == opt) {
			if (n < max)
				ret[n] = a->given_values[i].value;
			n++;
		}
	return n;
}

static int opt_value_set(struct cli_args *a, uint64_t opt, const char *v, char *err, size_t errlen)
{
	char *end;

	/* At most one per argument: cli_args_parse sized the array so. */
	a->given_values[a->n_given_values++] = (struct cli_opt_given){opt, v};

	switch (opt) {
	case CLI_OPT_URL:
		a->url = v;
		return 0;
	case CLI_OPT_KEY:
		a->key = v;
		return 0;
	case CLI_OPT_TIMEOUT:
		errno = 0;
		a->timeout_ms = strtol(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0' || errno || a->timeout_ms < CLI_TIMEOUT_MIN_MS ||
		    a->timeout_ms > CLI_TIMEOUT_MAX_MS) {
			snprintf(err, errlen, "--timeout wants milliseconds from %d to %d, not \"%s\"",
				 CLI_TIMEOUT_MIN_MS, CLI_TIMEOUT_MAX_MS, v);
			return -EINVAL;
		}
		/* Its text too: the power commands read it as seconds
		 * (power_format.c). */
		break;
	default:
		break;
	}
	for (unsigned bit = 0; bit < CLI_OPT_BITS; bit++)
		if (opt == UINT64_C(1) << bit)
			a->values[bit] = v;
	return 0;
}

/* One "-..." argument; *i advances past a separate value. */
static int opt_parse(struct cli_args *a, int argc, char **argv, int *i, char *err, size_t errlen)
{
	const char *arg = argv[*i];
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

	for (size_t k = 0; k < N_OPTS; k++) {
		if (strlen(cli_opts[k].name) != n || strncmp(arg, cli_opts[k].name, n) != 0)
			continue;
		const char *v = NULL;
		if (cli_opts[k].has_value) {
			if (eq) {
				v = eq + 1;
			} else if (*i + 1 < argc) {
				v = argv[++*i];
			} else {
				snprintf(err, errlen, "%s needs a value", cli_opts[k].name);
				return -EINVAL;
			}
		} else if (eq) {
			snprintf(err, errlen, "%s takes no value", cli_opts[k].name);
			return -EINVAL;
		}
		a->given |= cli_opts[k].opt;
		return v ? opt_value_set(a, cli_opts[k].opt, v, err, errlen) : 0;
	}
	snprintf(err, errlen, "unknown option \"%.*s\"", (int)n, arg);
	return -EINVAL;
}

int cli_args_parse(int argc, char **argv, struct cli_args *ret, char *err, size_t errlen)
{
	bool opts_done = false;

	memset(ret, 0, sizeof(*ret));
	ret->words = xcalloc(argc > 0 ? (size_t)argc : 1, sizeof(char *));
	ret->given_values = xcalloc(argc > 0 ? (size_t)argc : 1, sizeof(*ret->given_values));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!opts_done && strcmp(arg, "--") == 0) {
			opts_done = true;
		} else if (!opts_done && arg[0] == '-' && arg[1] != '\0') {
			int r = opt_parse(ret, argc, argv, &i, err, errlen);
			if (r < 0) {
				cli_args_done(ret);
				return r;
			}
		} else {
			ret->words[ret->n_words++] = argv[i];
		}
	}
	return 0;
}

void cli_args_done(struct cli_args *a)
{
	free(a->words);
	a->words = NULL;
	a->n_words = 0;
	free(a->given_values);
	a->given_values = NULL;
	a->n_given_values = 0;
}

int cli_setting_parse(const char *arg, char **ret_buf, const char **ret_key, const char **ret_value)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return -EINVAL;
	char *buf = xstrdup(arg);
	buf[eq - arg] = '\0';
	*ret_buf = buf;
	*ret_key = buf;
	*ret_value = buf + (eq - arg) + 1;
	return 0;
}

int cli_url_normalize(const char *in, char *out, size_t len)
{
	const char *scheme_end;
	size_t n;

	while (*in == ' ' || *in == '\t')
		in++;
	n = strlen(in);
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\n'))
		n--;
	scheme_end = strstr(in, "://");
	if (scheme_end && (size_t)(scheme_end - in) < n) {
		size_t sn = (size_t)(scheme_end - in);
		if (!((sn == 4 && strncasecmp(in, "http", 4) == 0) || (sn == 5 && strncasecmp(in, "https", 5) == 0)))
			return -EINVAL;
		if (n == sn + 3)
			return -EINVAL;
	}
	int w = snprintf(out, len, "%s%.*s", scheme_end ? "" : "http://", (int)n, in);
	if (w < 0 || (size_t)w >= len)
		return -ENOSPC;
	n = (size_t)w;
	/* People paste what they see in docs: ".../api/v1/" */
	for (;;) {
		while (n > 0 && out[n - 1] == '/')
			n--;
		if (n >= 7 && strncmp(out + n - 7, "/api/v1", 7) == 0)
			n -= 7;
		else
			break;
	}
	out[n] = '\0';
	if (strlen(out) <= strlen("http://") || strcmp(out + n - 3, "://") == 0)
		return -EINVAL;
	return 0;
}
