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
#include "common/pki.h"
#include "common/version.h"
#include "region/cli/commands.h"
#include "region/cli/pin.h"

struct saved_login {
	char *url;
	char *key;
	char *ca_file;
	char *ca_fingerprint;
};

static const struct conf_key login_keys[] = {
    {"url", CONF_STRING, offsetof(struct saved_login, url), 0, 0, NULL, "region URL"},
    {"key", CONF_STRING, offsetof(struct saved_login, key), 0, 0, NULL, "API key"},
    {"ca_file", CONF_STRING, offsetof(struct saved_login, ca_file), 0, 0, NULL, "pinned region CA (PEM)"},
    {"ca_fingerprint", CONF_STRING, offsetof(struct saved_login, ca_fingerprint), 0, 0, NULL,
     "its SHA-256 fingerprint"},
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

/* A CA file into t->ca_pem; want (if not NULL) is the fingerprint it
 * must have. */
static int ca_file_load(const char *path, const char *want, struct cli_target *t, char *err, size_t errlen)
{
	char *pem = NULL, fp[PKI_FINGERPRINT_LEN];
	int r = fs_read_all(path, CLI_CA_MAX - 1, &pem, NULL);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the region CA %s: %s", path, strerror(-r));
		return r;
	}
	r = pki_cert_fingerprint(pem, fp, sizeof(fp));
	if (r < 0)
		snprintf(err, errlen, "%s holds no certificate", path);
	else if (want && !pki_fingerprint_equal(fp, want))
		r = -EKEYREJECTED;
	if (r == -EKEYREJECTED)
		snprintf(err, errlen, "the region CA in %s is %s, not %s", path, fp, want);
	if (r == 0)
		snprintf(t->ca_pem, sizeof(t->ca_pem), "%s", pem);
	free(pem);
	return r;
}

int cli_conf_load(const char *path, struct cli_target *t, char *err, size_t errlen)
{
	struct saved_login s = {NULL, NULL, NULL, NULL};

	int r = conf_load_file(path, login_keys, N_LOGIN_KEYS, &s, err, errlen);
	if (r == 0) {
		snprintf(t->url, sizeof(t->url), "%s", s.url ? s.url : "");
		snprintf(t->key, sizeof(t->key), "%s", s.key ? s.key : "");
		t->ca_pem[0] = '\0';
	}
	if (r == 0 && s.ca_file && s.ca_file[0])
		r = ca_file_load(s.ca_file, s.ca_fingerprint ? s.ca_fingerprint : "", t, err, errlen);
	if (r == -EKEYREJECTED)
		snprintf(err, errlen,
			 "%s is not the region CA pinned at login (its fingerprint is not the one in %s): "
			 "run 'ironrack login' again",
			 s.ca_file, path);
	if (s.key)
		explicit_bzero(s.key, strlen(s.key));
	conf_free(login_keys, N_LOGIN_KEYS, &s);
	return r;
}

int cli_conf_save(const char *path, const struct cli_target *t, char *err, size_t errlen)
{
	char dir[PATH_MAX], text[CLI_URL_MAX + CLI_KEY_MAX + PATH_MAX + 256];
	char ca_path[PATH_MAX], fp[PKI_FINGERPRINT_LEN] = "";
	const char *slash = strrchr(path, '/');
	int r;

	if (cli_pin_ca_path(path, ca_path, sizeof(ca_path)) < 0) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (t->ca_pem[0] && (r = pki_cert_fingerprint(t->ca_pem, fp, sizeof(fp))) < 0) {
		snprintf(err, errlen, "the region CA is not a certificate");
		return r;
	}

	if (slash && slash != path) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		r = fs_mkdir_p(dir, 0700);
		if (r < 0) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-r));
			return r;
		}
	}
	if (t->ca_pem[0]) {
		r = fs_write_atomic(ca_path, t->ca_pem, strlen(t->ca_pem), 0600);
		if (r < 0) {
			snprintf(err, errlen, "cannot write %s: %s", ca_path, strerror(-r));
			return r;
		}
	} else if (unlink(ca_path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", ca_path, strerror(errno));
		return -errno;
	}
	int n = snprintf(text, sizeof(text), "# ironrack CLI login (written by 'ironrack login')\nurl = %s\nkey = %s\n",
			 t->url, t->key);
	if (t->ca_pem[0])
		n += snprintf(text + n, sizeof(text) - (size_t)n, "ca_file = \"%s\"\nca_fingerprint = %s\n", ca_path,
			      fp);
	if ((size_t)n >= sizeof(text)) {
		explicit_bzero(text, sizeof(text));
		snprintf(err, errlen, "%s: login too long", path);
		return -ENAMETOOLONG;
	}
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
	const char *ca = cli_opt_value(cli->args, CLI_OPT_CA);
	if (!ca)
		ca = getenv("IRONRACK_CA");
	if (ca && *ca && ca_file_load(ca, NULL, t, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		return CLI_EXIT_FAIL;
	}
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
	if (cli_url_is_https(cli->target.url) && !cli->target.ca_pem[0]) {
		fprintf(stderr,
			"error: no region CA to verify %s with: run 'ironrack login %s KEY' (it pins the region's CA), "
			"or pass --ca FILE or set IRONRACK_CA to the region's ca.crt\n",
			cli->target.url, cli->target.url);
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

/* The region CA for an https:// login: from --ca FILE, or from the
 * handshake (nothing sent), checked against --ca-fingerprint or trusted on
 * first use. Fills t->ca_pem. */
static int login_pin(struct cli *cli, struct cli_target *t)
{
	const char *want = cli_opt_value(cli->args, CLI_OPT_CA_FINGERPRINT);
	const char *file = cli_opt_value(cli->args, CLI_OPT_CA);
	char err[1024], fp[PKI_FINGERPRINT_LEN];
	char **pems = NULL, *ca = NULL;
	size_t n = 0;

	if (file) {
		if (ca_file_load(file, want, t, err, sizeof(err)) < 0) {
			fprintf(stderr, "error: %s\n", err);
			return CLI_EXIT_FAIL;
		}
		return CLI_EXIT_OK;
	}
	if (cli_tls_peer_chain(t->url, &pems, &n, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: cannot reach the region at %s: %s\n", t->url, err);
		return CLI_EXIT_FAIL;
	}
	int rc = cli_pin_chain_ca((const char *const *)pems, n, &ca, fp, sizeof(fp));
	for (size_t i = 0; i < n; i++)
		free(pems[i]);
	free(pems);
	if (rc == -ENOENT || rc == -EINVAL)
		fprintf(stderr,
			"error: %s sent no self-signed CA with its certificate: not an ironrack region (or a proxy "
			"with a certificate of its own: pass --ca FILE with the CA that issued it)\n",
			t->url);
	else if (rc == -EKEYREJECTED)
		fprintf(stderr,
			"error: the certificate of %s does not chain to the CA it sent as a server certificate\n",
			t->url);
	else if (rc < 0)
		fprintf(stderr, "error: the certificates of %s do not parse\n", t->url);
	if (rc < 0)
		return CLI_EXIT_FAIL;
	if (want && !pki_fingerprint_equal(fp, want)) {
		fprintf(stderr,
			"error: the region CA at %s is %s, not %s (--ca-fingerprint): someone may be in between, or "
			"it is another region; nothing saved\n",
			t->url, fp, want);
		free(ca);
		return CLI_EXIT_FAIL;
	}
	if (!want)
		fprintf(stderr,
			"trusting region CA %s on first use (compare with the fingerprint the region logged at "
			"start; pin it with --ca-fingerprint)\n",
			fp);
	snprintf(t->ca_pem, sizeof(t->ca_pem), "%s", ca);
	free(ca);
	return CLI_EXIT_OK;
}

int cli_cmd_login(struct cli *cli, char **argv, size_t argc)
{
	struct cli_target *t = &cli->target;
	const char *want = cli_opt_value(cli->args, CLI_OPT_CA_FINGERPRINT);
	struct cli_resp resp;
	char err[1024];

	if (cli_url_normalize(argv[0], t->url, sizeof(t->url)) < 0) {
		fprintf(stderr, "error: \"%s\" is not an http:// or https:// URL\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	if (!cli_url_is_https(t->url) && (cli->args->given & (CLI_OPT_CA | CLI_OPT_CA_FINGERPRINT))) {
		fprintf(stderr, "error: %s applies to https:// URLs only\n",
			cli_opt_name(cli->args->given & (CLI_OPT_CA | CLI_OPT_CA_FINGERPRINT)));
		return CLI_EXIT_USAGE;
	}
	if (want && !cli_pin_fingerprint_valid(want)) {
		fprintf(stderr, "error: --ca-fingerprint wants a SHA-256 fingerprint (SHA256:AB:CD:...), not \"%s\"\n",
			want);
		return CLI_EXIT_USAGE;
	}
	if (key_read(argv[1], t->key, sizeof(t->key)) < 0 || !t->key[0]) {
		fprintf(stderr, "error: no usable API key given\n");
		return CLI_EXIT_USAGE;
	}
	t->ca_pem[0] = '\0';
	if (cli_url_is_https(t->url)) {
		int rc = login_pin(cli, t);
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	/* Any authenticated endpoint proves the key; listing racks is cheap.
	 * Over https:// the connection is verified against the CA just
	 * pinned before the key goes out; nothing is saved before it passed. */
	if (cli_request(t, "GET", "/api/v1/racks", NULL, &resp) < 0)
		return CLI_EXIT_FAIL;
	if (resp.status == 401) {
		const char *msg = json_string_value(json_object_get(json_object_get(resp.json, "error"), "message"));
		fprintf(stderr, "error: the region at %s refused the key: %s\n", t->url, msg ? msg : "HTTP 401");
		cli_resp_done(&resp);
		return CLI_EXIT_FAIL;
	}
	int rc = resp.status == 200 ? CLI_EXIT_OK : cli_resp_error(t, &resp);
	if (rc == CLI_EXIT_OK && !json_is_array(json_object_get(resp.json, "racks"))) {
		/* The rack port (gRPC) answers 200 to anything, over the same CA. */
		fprintf(stderr, "error: %s does not answer like an ironrack region's REST API\n", t->url);
		rc = CLI_EXIT_FAIL;
	}
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
	char ca_path[PATH_MAX];

	if (cli_pin_ca_path(cli->conf_path, ca_path, sizeof(ca_path)) == 0 && unlink(ca_path) < 0 && errno != ENOENT)
		fprintf(stderr, "warning: cannot remove %s: %s\n", ca_path, strerror(errno));
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
