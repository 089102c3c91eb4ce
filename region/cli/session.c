/* Which region the CLI talks to and with which key: the saved login file,
 * environment and flags; and the login, logout and version commands. */
#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/fsutil.h"
#include "common/version.h"
#include "region/cli/commands.h"

struct saved_login {
	char *url;
	char *key;
};

static const struct conf_key login_keys[] = {
    {"url", CONF_STRING, offsetof(struct saved_login, url), 0, 0, NULL, "region URL"},
    {"key", CONF_STRING, offsetof(struct saved_login, key), 0, 0, NULL, "API key"},
};
#define N_LOGIN_KEYS (sizeof(login_keys) / sizeof(login_keys[0]))

int cli_conf_path(char *buf, size_t len)
{
	const char *env = getenv("IRONRACK_CONFIG");
	const char *home = getenv("HOME");

	if (env && *env)
		return snprintf(buf, len, "%s", env) < (int)len ? 0 : -ENAMETOOLONG;
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home)
		return -ENOENT;
	return snprintf(buf, len, "%s/.config/ironrack/cli.conf", home) < (int)len ? 0 : -ENAMETOOLONG;
}

int cli_conf_load(const char *path, struct cli_target *t, char *err, size_t errlen)
{
	struct saved_login s = {NULL, NULL};

	int r = conf_load_file(path, login_keys, N_LOGIN_KEYS, &s, err, errlen);
	if (r == 0) {
		snprintf(t->url, sizeof(t->url), "%s", s.url ? s.url : "");
		snprintf(t->key, sizeof(t->key), "%s", s.key ? s.key : "");
	}
	if (s.key)
		explicit_bzero(s.key, strlen(s.key));
	conf_free(login_keys, N_LOGIN_KEYS, &s);
	return r;
}

int cli_conf_save(const char *path, const struct cli_target *t, char *err, size_t errlen)
{
	char dir[PATH_MAX], text[CLI_URL_MAX + CLI_KEY_MAX + 128];
	const char *slash = strrchr(path, '/');
	int r;

	if (slash && slash != path) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		r = fs_mkdir_p(dir, 0700);
		if (r < 0) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-r));
			return r;
		}
	}
	int n = snprintf(text, sizeof(text), "# ironrack CLI login (written by 'ironrack login')\nurl = %s\nkey = %s\n",
			 t->url, t->key);
	r = fs_write_atomic(path, text, (size_t)n, 0600);
	explicit_bzero(text, sizeof(text));
	if (r < 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
	return r;
}

static int env_or_flag(char *dst, size_t len, const char *env, const char *flag, const char *what)
{
	const char *v = flag ? flag : getenv(env);

	if (!v || !*v)
		return 0;
	if ((size_t)snprintf(dst, len, "%s", v) >= len) {
		fprintf(stderr, "error: %s is too long\n", what);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Gather url and key without demanding either. */
static int target_load(struct cli *cli)
{
	struct cli_target *t = &cli->target;
	char err[1024], url[CLI_URL_MAX];

	int r = cli_conf_load(cli->conf_path, t, err, sizeof(err));
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	if (env_or_flag(t->url, sizeof(t->url), "IRONRACK_URL", cli->args->url, "the URL") < 0 ||
	    env_or_flag(t->key, sizeof(t->key), "IRONRACK_KEY", cli->args->key, "the API key") < 0)
		return CLI_EXIT_FAIL;
	if (t->url[0] && cli_url_normalize(t->url, url, sizeof(url)) < 0) {
		fprintf(stderr, "error: \"%s\" is not an http:// or https:// URL\n", t->url);
		return CLI_EXIT_FAIL;
	}
	if (t->url[0])
		snprintf(t->url, sizeof(t->url), "%s", url);
	return CLI_EXIT_OK;
}

int cli_target_resolve(struct cli *cli, bool need_key)
{
	int rc = target_load(cli);

	if (rc != CLI_EXIT_OK)
		return rc;
	if (!cli->target.url[0]) {
		fprintf(stderr, "error: no region URL: run 'ironrack login URL KEY', pass --url or set IRONRACK_URL\n");
		return CLI_EXIT_FAIL;
	}
	if (need_key && !cli->target.key[0]) {
		fprintf(stderr, "error: no API key: run 'ironrack login URL KEY', pass --key or set IRONRACK_KEY\n");
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* "-" reads the key from stdin, so it need not appear in `ps` or shell
 * history. */
static int key_read(const char *arg, char *key, size_t len)
{
	if (strcmp(arg, "-") != 0)
		return (size_t)snprintf(key, len, "%s", arg) < len ? 0 : -ENAMETOOLONG;
	if (!fgets(key, (int)len, stdin))
		return -ENODATA;
	key[strcspn(key, "\r\n")] = '\0';
	return 0;
}

int cli_cmd_login(struct cli *cli, char **argv, size_t argc)
{
	struct cli_target *t = &cli->target;
	struct cli_resp resp;
	char err[1024];

	if (cli_url_normalize(argv[0], t->url, sizeof(t->url)) < 0) {
		fprintf(stderr, "error: \"%s\" is not an http:// or https:// URL\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	if (key_read(argv[1], t->key, sizeof(t->key)) < 0 || !t->key[0]) {
		fprintf(stderr, "error: no usable API key given\n");
		return CLI_EXIT_USAGE;
	}
	/* Any authenticated endpoint proves the key; listing racks is cheap. */
	if (cli_request(t, "GET", "/api/v1/racks", NULL, &resp) < 0)
		return CLI_EXIT_FAIL;
	if (resp.status == 401) {
		const char *msg = json_string_value(json_object_get(json_object_get(resp.json, "error"), "message"));
		fprintf(stderr, "error: the region at %s refused the key: %s\n", t->url, msg ? msg : "HTTP 401");
		cli_resp_done(&resp);
		return CLI_EXIT_FAIL;
	}
	int rc = resp.status == 200 ? CLI_EXIT_OK : cli_resp_error(t, &resp);
	cli_resp_done(&resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli_conf_save(cli->conf_path, t, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	printf("Logged in to %s (saved to %s)\n", t->url, cli->conf_path);
	return CLI_EXIT_OK;
}

int cli_cmd_logout(struct cli *cli, char **argv, size_t argc)
{
	if (unlink(cli->conf_path) < 0) {
		if (errno == ENOENT) {
			printf("Not logged in (no %s)\n", cli->conf_path);
			return CLI_EXIT_OK;
		}
		fprintf(stderr, "error: cannot remove %s: %s\n", cli->conf_path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	printf("Logged out (removed %s)\n", cli->conf_path);
	return CLI_EXIT_OK;
}

int cli_cmd_version(struct cli *cli, char **argv, size_t argc)
{
	struct cli_resp resp;

	printf("ironrack %s (client)\n", IRONRACK_VERSION);
	fflush(stdout);
	/* The region part is best effort: say why it is missing, but the
	 * client version was still printed, so this is not a failure. */
	if (target_load(cli) != CLI_EXIT_OK || !cli->target.url[0])
		return CLI_EXIT_OK;
	if (cli_request(&cli->target, "GET", "/api/v1/version", NULL, &resp) < 0)
		return CLI_EXIT_OK;
	const char *v = json_string_value(json_object_get(resp.json, "version"));
	const char *api = json_string_value(json_object_get(resp.json, "api"));
	const char *name = json_string_value(json_object_get(resp.json, "region"));
	if (resp.status == 200 && v)
		printf("ironrack %s (region %s at %s, API %s)\n", v, name ? name : "?", cli->target.url,
		       api ? api : "?");
	else
		cli_resp_error(&cli->target, &resp);
	cli_resp_done(&resp);
	return CLI_EXIT_OK;
}
