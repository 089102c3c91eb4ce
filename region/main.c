/* ironrack-regiond: the region daemon and its administrative subcommands. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/fsutil.h"
#include "common/httpguard.h"
#include "common/log.h"
#include "common/privs.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "common/version.h"
#include "region/api/api.h"
#include "region/api/https.h"
#include "region/boot/boot.h"
#include "region/db/db.h"
#include "region/db/pgembed.h"
#include "region/db/pool.h"
#include "region/db/secret_db.h"
#include "region/dhcp/dhcp.h"
#include "region/dhcp/dhcp_conf.h"
#include "region/machine/machine.h"
#include "region/power/power.h"
#include "region/region.h"
#include "region/rpc/rpc.h"
#include "region/secret.h"

#define DEFAULT_CONFIG "/etc/ironrack/regiond.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ironrack-regiond [OPTIONS] [COMMAND]\n"
		"\n"
		"Commands:\n"
		"  run                 run the region (default)\n"
		"  enrol-secret        print the rack enrolment secret (--rotate: replace it)\n"
		"  ca-fingerprint      print the fingerprint of the region CA racks pin\n"
		"  create-admin        create an API key and print it (--name NAME, default admin)\n"
		"  revoke-key          delete the API keys named --name NAME; a running region\n"
		"                      refuses them within seconds\n"
		"  rotate-secret-key   create a new key for the secrets kept in the database (BMC\n"
		"                      passwords) and re-encrypt them all with it; old key files\n"
		"                      stay unless --purge is given and no secret uses them\n"
		"  version             print the version\n"
		"\n"
		"Options:\n"
		"  --config PATH       configuration file (default %s; a missing default file is fine)\n"
		"  -h, --help          this help\n"
		"\n"
		"Every configuration key can be given as an option and overrides the file:\n",
		DEFAULT_CONFIG);
	conf_print_help(region_conf_keys, region_conf_keys_n, out);
}

struct args {
	const char *command;
	const char *config;
	bool config_given;
	bool rotate;
	bool purge;
	const char *name;
	bool name_given;
};

/* Options may stand before or after the command. Config keys are applied
 * after the file is read, so they are collected first. */
static int parse_args(int argc, char **argv, struct args *a, char ***ret_kv, size_t *ret_n)
{
	char **kv = xcalloc((size_t)argc * 2 + 2, sizeof(char *));
	size_t n = 0;
	a->command = "run";
	a->config = DEFAULT_CONFIG;
	a->name = "admin";
	bool have_cmd = false;
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(arg, "--rotate") == 0) {
			a->rotate = true;
		} else if (strcmp(arg, "--purge") == 0) {
			a->purge = true;
		} else if (strncmp(arg, "--", 2) == 0) {
			char *key = arg + 2, *val = strchr(key, '=');
			if (val) {
				*val++ = '\0';
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				fprintf(stderr, "ironrack-regiond: option --%s needs a value\n", key);
				free(kv);
				return -EINVAL;
			}
			if (strcmp(key, "config") == 0) {
				a->config = val;
				a->config_given = true;
			} else if (strcmp(key, "name") == 0) {
				a->name = val;
				a->name_given = true;
			} else {
				kv[n++] = key;
				kv[n++] = val;
			}
		} else if (!have_cmd) {
			a->command = arg;
			have_cmd = true;
		} else {
			fprintf(stderr, "ironrack-regiond: unexpected argument '%s'\n", arg);
			free(kv);
			return -EINVAL;
		}
	}
	*ret_kv = kv;
	*ret_n = n;
	return 0;
}

/* A value checked after loading: say where it came from, FILE:LINE like
 * conf_load_file does, or the command-line option that set it. */
static void conf_report_origin(const struct args *a, char **kv, size_t n, const char *key, const char *msg)
{
	char dashed[64];
	snprintf(dashed, sizeof(dashed), "%s", key);
	for (char *c = dashed; *c; c++)
		*c = *c == '_' ? '-' : *c;
	for (size_t i = n; i >= 2; i -= 2) {
		if (strcmp(kv[i - 2], key) == 0 || strcmp(kv[i - 2], dashed) == 0) {
			fprintf(stderr, "ironrack-regiond: --%s: %s\n", dashed, msg);
			return;
		}
	}
	FILE *f = fopen(a->config, "r");
	char line[4096];
	int lineno = 0, found = 0;
	while (f && fgets(line, sizeof(line), f)) {
		lineno++;
		const char *p = line + strspn(line, " \t");
		size_t len = strlen(key);
		if (strncmp(p, key, len) == 0 && strchr(" \t=", p[len]))
			found = lineno;
	}
	if (f)
		fclose(f);
	if (found)
		fprintf(stderr, "ironrack-regiond: %s:%d: %s\n", a->config, found, msg);
	else
		fprintf(stderr, "ironrack-regiond: %s\n", msg);
}

static int load_config(struct region *r, const struct args *a, char **kv, size_t n)
{
	char err[512];
	if (conf_defaults(region_conf_keys, region_conf_keys_n, &r->conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "ironrack-regiond: %s\n", err);
		return -EINVAL;
	}
	int rc = conf_load_file(a->config, region_conf_keys, region_conf_keys_n, &r->conf, err, sizeof(err));
	if (rc == -ENOENT && !a->config_given)
		rc = 0;
	if (rc < 0) {
		fprintf(stderr, "ironrack-regiond: %s\n", err);
		return rc;
	}
	for (size_t i = 0; i < n; i += 2) {
		rc = conf_set(region_conf_keys, region_conf_keys_n, &r->conf, kv[i], kv[i + 1], err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "ironrack-regiond: %s\n", err);
			return rc;
		}
	}
	if (region_dhcp_conf_check(&r->conf, err, sizeof(err)) < 0) {
		conf_report_origin(a, kv, n, "dhcp_boot_files", err);
		return -EINVAL;
	}
	if (region_machine_conf_check(r->conf.deployed_when, err, sizeof(err)) < 0) {
		conf_report_origin(a, kv, n, "deployed_when", err);
		return -EINVAL;
	}
	if (api_tls_conf_check(r->conf.http_tls, err, sizeof(err)) < 0) {
		conf_report_origin(a, kv, n, "http_tls", err);
		return -EINVAL;
	}
	log_set_level((enum log_level)r->conf.log_level);
	if (r->conf.region_name[0]) {
		snprintf(r->name, sizeof(r->name), "%s", r->conf.region_name);
	} else if (gethostname(r->name, sizeof(r->name) - 1) < 0) {
		snprintf(r->name, sizeof(r->name), "region");
	}
	return 0;
}

static int open_database(struct region *r)
{
	char err[1024];
	const char *dsn = r->conf.database_dsn;
	if (!dsn[0]) {
		int rc = pgembed_start(r->conf.state_dir, r->conf.pg_bindir, r->conf.pg_user, &r->pg, err, sizeof(err));
		if (rc < 0) {
			log_err("embedded PostgreSQL: %s", err);
			return rc;
		}
		dsn = pgembed_dsn(r->pg);
	}
	int rc = db_open(dsn, &r->db, err, sizeof(err));
	if (rc < 0)
		log_err("database: %s", err);
	else
		log_info("database ready (%s, schema version %d)", r->pg ? "embedded" : "external",
			 db_schema_version(r->db));
	return rc;
}

static void close_database(struct region *r, bool keep_running)
{
	db_close(r->db);
	r->db = NULL;
	if (keep_running)
		pgembed_detach(r->pg);
	else
		pgembed_stop(r->pg);
	r->pg = NULL;
}

/* The first start creates an admin API key, prints it once and leaves a
 * copy readable only by root in the state directory. */
static int bootstrap_admin(struct region *r)
{
	long count = 0;
	if (db_apikey_count(r->db, &count) < 0)
		return -EIO;
	if (count > 0)
		return 0;
	char *key = NULL, path[PATH_MAX];
	if (db_apikey_create(r->db, "admin", &key) < 0)
		return -EIO;
	fs_path_join(path, sizeof(path), r->conf.state_dir, "admin-api-key");
	char line[256];
	snprintf(line, sizeof(line), "%s\n", key);
	fs_write_atomic(path, line, strlen(line), 0600);
	/* The key itself is never logged: logs travel further than a 0600 file. */
	log_info("created the first API key 'admin': read it from %s", path);
	free(key);
	return 0;
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	region_bootres_rescan(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct region *r = arg;
	log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	r->stopping = true;
	event_base_loopexit(r->base, NULL);
}

/* One region process per state directory: a second one would run a second
 * postmaster (or initdb) on the same files. The lock dies with the process. */
static int lock_state_dir(const char *dir)
{
	char path[PATH_MAX];
	if (fs_path_join(path, sizeof(path), dir, "regiond.lock") < 0)
		return -ENAMETOOLONG;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd; /* held until exit */
}

/* Whether a listen address ("host:port") asks for a port below 1024. */
static bool listen_port_low(const char *spec)
{
	const char *colon = spec ? strrchr(spec, ':') : NULL;
	if (!colon)
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 1024;
}

/* Started as root: become the region's own user, which owns its state
 * and runs the embedded PostgreSQL too, with no capability at all (but
 * net_bind_service for a port below 1024). With user = root: root only
 * for what the embedded PostgreSQL needs as another user — starting it,
 * owning and reaching its files and socket, stopping it (the same set
 * with an external database: a private socket directory may be how it is
 * reached). The unit's bounding set says the same; this does not depend
 * on it. */
static int region_drop_privileges(struct region *r, bool announce)
{
	char err[512];
	uint64_t keep = 0;
	uint64_t keep_root = PRIVS_CAP(CAP_SETUID) | PRIVS_CAP(CAP_SETGID) | PRIVS_CAP(CAP_CHOWN) |
			     PRIVS_CAP(CAP_FOWNER) | PRIVS_CAP(CAP_DAC_OVERRIDE) | PRIVS_CAP(CAP_DAC_READ_SEARCH) |
			     PRIVS_CAP(CAP_KILL);
	if (listen_port_low(r->conf.http_listen) || listen_port_low(r->conf.grpc_listen) ||
	    listen_port_low(r->conf.boot_resources_listen))
		keep |= PRIVS_CAP(CAP_NET_BIND_SERVICE);
	keep_root |= keep;
	const char *dirs[] = {r->conf.state_dir, r->conf.boot_resources_dir};
	if (privs_drop(r->conf.user, dirs, 2, keep, keep_root, announce, err, sizeof(err)) < 0) {
		log_err("cannot give up privileges: %s", err);
		return -1;
	}
	return 0;
}

static int region_run(struct region *r)
{
	char err[512], secret[128];
	int rc = fs_mkdir_p(r->conf.state_dir, 0700);
	if (rc < 0) {
		log_err("cannot create state directory %s: %s", r->conf.state_dir, strerror(-rc));
		return 1;
	}
	if ((rc = lock_state_dir(r->conf.state_dir)) < 0) {
		log_err("state directory %s is in use by another ironrack-regiond (%s)", r->conf.state_dir,
			rc == -EWOULDBLOCK ? "locked" : strerror(-rc));
		return 1;
	}
	if ((rc = region_tls_setup(r, err, sizeof(err))) < 0) {
		log_err("%s", err);
		return 1;
	}
	if ((rc = secret_box_open(r->conf.state_dir, &r->secrets, err, sizeof(err))) < 0) {
		log_err("secret keys: %s", err);
		return 1;
	}
	int new_secret = region_secret_get(r->conf.state_dir, secret, sizeof(secret));
	if (new_secret < 0) {
		log_err("cannot read or create %s/enrol-secret", r->conf.state_dir);
		return 1;
	}
	log_info("ironrack-regiond %s starting as region '%s', state in %s", IRONRACK_VERSION, r->name,
		 r->conf.state_dir);
	log_info("region CA fingerprint: %s", r->ca_fingerprint);
	if (new_secret > 0)
		log_info("created an enrolment secret: show it with ironrack-regiond enrol-secret");
	if (open_database(r) < 0 || bootstrap_admin(r) < 0)
		goto out_db;
	db_racks_disconnect_region(r->db, r->name);

	/* Descriptors: as many as we may; the HTTP servers' caps are derived
	 * from what this leaves (common/httpguard.h). */
	long nofile = httpguard_nofile_raise();
	if (nofile < 0)
		log_warn("cannot read the open file limit: %s", strerror((int)-nofile));
	r->base = event_base_new();
	const char *dsn = r->pg ? pgembed_dsn(r->pg) : r->conf.database_dsn;
	if (db_pool_new(r->base, dsn, 0, &r->dbpool, err, sizeof(err)) < 0) {
		/* Nothing else started yet (gRPC is not even initialised). */
		log_err("database pool: %s", err);
		event_base_free(r->base);
		r->base = NULL;
		goto out_db;
	}
	rpc_lib_init();
	if (rpc_loop_new(r->base, &r->rpc_loop) < 0 || region_rpc_start(r) < 0)
		goto out_rpc;
	if (api_start(r, r->conf.http_listen, &r->api) < 0)
		goto out_rpc;
	if (region_bootres_start(r) < 0)
		goto out_rpc;
	if (region_dhcp_init(r) < 0)
		goto out_rpc;
	if (region_power_start(r) < 0)
		goto out_rpc;
	if (region_machines_start(r) < 0)
		goto out_rpc;
	struct event *sigint = evsignal_new(r->base, SIGINT, on_signal, r);
	struct event *sigterm = evsignal_new(r->base, SIGTERM, on_signal, r);
	struct event *sighup = evsignal_new(r->base, SIGHUP, on_sighup, r);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	event_add(sighup, NULL);
	/* From here on every query runs on the pool's workers, never on the
	 * loop (region/db/pool.h). */
	db_close(r->db);
	r->db = NULL;
	if (api_is_https(r->api))
		log_info("region ready: API https://%s/api/v1 (region CA %s: ironrack login pins it), racks connect to "
			 "%s",
			 r->conf.http_listen, r->ca_fingerprint, r->conf.grpc_listen);
	else
		log_info("region ready: API http://%s/api/v1, racks connect to %s", r->conf.http_listen,
			 r->conf.grpc_listen);
	event_base_dispatch(r->base);
	event_free(sigint);
	event_free(sigterm);
	event_free(sighup);
	rc = 0;
	goto out_api;
out_rpc:
	rc = 1;
out_api:
	region_dhcp_done(r);
	region_bootres_stop(r);
	api_stop(r->api);
	region_rpc_stop(r);
	db_pool_free(r->dbpool); /* after its users: their jobs end as cancelled */
	r->dbpool = NULL;
	region_power_stop(r);
	region_machines_stop(r);
	rpc_loop_free(r->rpc_loop);
	rpc_lib_shutdown();
	event_base_free(r->base);
	close_database(r, false);
	log_info("region stopped");
	return rc;
out_db:
	close_database(r, false);
	return 1;
}

static int cmd_secret(struct region *r, const struct args *a)
{
	char secret[128];
	int rc = fs_mkdir_p(r->conf.state_dir, 0700);
	if (rc >= 0)
		rc = a->rotate ? region_secret_rotate(r->conf.state_dir, secret, sizeof(secret))
			       : region_secret_get(r->conf.state_dir, secret, sizeof(secret));
	if (rc < 0) {
		fprintf(stderr, "ironrack-regiond: enrolment secret in %s: %s\n", r->conf.state_dir, strerror(-rc));
		return 1;
	}
	printf("%s\n", secret);
	if (a->rotate)
		fprintf(stderr, "enrolment secret rotated; racks already enrolled are not affected\n");
	return 0;
}

static int cmd_fingerprint(struct region *r)
{
	char err[512];
	if (fs_mkdir_p(r->conf.state_dir, 0700) < 0 || region_tls_setup(r, err, sizeof(err)) < 0) {
		fprintf(stderr, "ironrack-regiond: %s\n", err);
		return 1;
	}
	printf("%s\n", r->ca_fingerprint);
	return 0;
}

static void print_rotation(const struct secret_rotation *s, bool purge)
{
	printf("re-encrypted %ld secret%s with key %" PRIu32, s->resealed, s->resealed == 1 ? "" : "s", s->key_id);
	if (s->resealed_late)
		printf(" (%ld of them written meanwhile)", s->resealed_late);
	printf("\n");
	for (size_t i = 0; i < s->n_failed; i++)
		printf("machine %" PRId64 ": its power password does not open (tampered with, or its key is gone); "
		       "left as it is\n",
		       s->failed[i]);
	for (size_t i = 0; i < s->n_old; i++) {
		if (s->old_removed[i])
			printf("key %" PRIu32 ": removed\n", s->old_keys[i]);
		else if (s->old_key_uses[i])
			printf("key %" PRIu32 ": kept, %ld secret%s still use%s it\n", s->old_keys[i],
			       s->old_key_uses[i], s->old_key_uses[i] == 1 ? "" : "s",
			       s->old_key_uses[i] == 1 ? "s" : "");
		else if (!purge)
			printf("key %" PRIu32 ": kept, unused (--purge removes it)\n", s->old_keys[i]);
		else
			printf("key %" PRIu32 ": unused, but could not be removed\n", s->old_keys[i]);
	}
}

static int cmd_rotate_secret_key(struct region *r, const struct args *a)
{
	char err[512];
	int rc = fs_mkdir_p(r->conf.state_dir, 0700);
	if (rc < 0)
		snprintf(err, sizeof(err), "%s", strerror(-rc));
	else
		rc = secret_box_open(r->conf.state_dir, &r->secrets, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "ironrack-regiond: secret keys in %s: %s\n", r->conf.state_dir, err);
		return 1;
	}
	if (open_database(r) < 0)
		return 1;
	struct secret_rotation s;
	rc = secret_rotate(r->db, r->secrets, a->purge, &s, err, sizeof(err));
	bool adopted = r->pg && pgembed_was_adopted(r->pg);
	if (rc < 0)
		fprintf(stderr, "ironrack-regiond: cannot rotate the secret key: %s\n", err);
	else
		print_rotation(&s, a->purge);
	int status = rc < 0 || s.n_failed ? 1 : 0;
	secret_rotation_done(&s);
	close_database(r, adopted);
	return status;
}

static int cmd_create_admin(struct region *r, const struct args *a)
{
	if (fs_mkdir_p(r->conf.state_dir, 0700) < 0 || open_database(r) < 0)
		return 1;
	char *key = NULL;
	int rc = db_apikey_create(r->db, a->name, &key);
	bool adopted = r->pg && pgembed_was_adopted(r->pg);
	if (rc < 0)
		fprintf(stderr, "ironrack-regiond: cannot create an API key: %s\n", db_last_error(r->db));
	else
		printf("%s\n", key);
	free(key);
	/* Leave a running region's embedded cluster alone. */
	close_database(r, adopted);
	return rc < 0 ? 1 : 0;
}

static int cmd_revoke_key(struct region *r, const struct args *a)
{
	if (!a->name_given || !a->name[0]) {
		fprintf(stderr, "ironrack-regiond: revoke-key needs --name NAME (the name given to create-admin)\n");
		return 2;
	}
	if (fs_mkdir_p(r->conf.state_dir, 0700) < 0 || open_database(r) < 0)
		return 1;
	long n = 0;
	int rc = db_apikey_revoke(r->db, a->name, &n);
	bool adopted = r->pg && pgembed_was_adopted(r->pg);
	if (rc == -ENOENT)
		fprintf(stderr, "ironrack-regiond: no API key named '%s'\n", a->name);
	else if (rc < 0)
		fprintf(stderr, "ironrack-regiond: cannot revoke API key '%s': %s\n", a->name, db_last_error(r->db));
	else
		printf("revoked %ld API key%s named '%s'\n", n, n == 1 ? "" : "s", a->name);
	close_database(r, adopted);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct region region;
	struct region *r = &region;
	struct args a = {0};
	char **kv = NULL;
	size_t n = 0;

	signal(SIGPIPE, SIG_IGN);
	log_setup("regiond", LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &a, &kv, &n) < 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(a.command, "version") == 0) {
		printf("ironrack-regiond %s\n", IRONRACK_VERSION);
		free(kv);
		return 0;
	}
	int rc = load_config(r, &a, kv, n);
	free(kv);
	if (rc < 0)
		return 2;
	/* Every command works on the state directory as the region's user:
	 * what one run as root writes there (a rotated secret, a key) stays
	 * readable by the daemon. */
	if ((rc = fs_mkdir_p(r->conf.state_dir, 0700)) < 0) {
		log_err("cannot create state directory %s: %s", r->conf.state_dir, strerror(-rc));
		rc = 1;
	} else if (region_drop_privileges(r, strcmp(a.command, "run") == 0) < 0)
		rc = 1;
	else if (strcmp(a.command, "run") == 0)
		rc = region_run(r);
	else if (strcmp(a.command, "enrol-secret") == 0)
		rc = cmd_secret(r, &a);
	else if (strcmp(a.command, "ca-fingerprint") == 0)
		rc = cmd_fingerprint(r);
	else if (strcmp(a.command, "revoke-key") == 0)
		rc = cmd_revoke_key(r, &a);
	else if (strcmp(a.command, "create-admin") == 0)
		rc = cmd_create_admin(r, &a);
	else if (strcmp(a.command, "rotate-secret-key") == 0)
		rc = cmd_rotate_secret_key(r, &a);
	else {
		fprintf(stderr, "ironrack-regiond: unknown command '%s'\n", a.command);
		usage(stderr);
		rc = 2;
	}
	region_tls_done(&r->tls);
	secret_box_free(r->secrets);
	conf_free(region_conf_keys, region_conf_keys_n, &r->conf);
	return rc;
}
