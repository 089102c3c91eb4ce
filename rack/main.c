/* ironrack-rackd: the rack daemon. */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/fsutil.h"
#include "common/httpguard.h"
#include "common/log.h"
#include "common/privs.h"
#include "common/rpc/rpc.h"
#include "common/util.h"
#include "common/version.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/boot/service.h"
#include "rack/dhcp/glue.h"
#include "rack/rack.h"
#include "rack/services.h"
#include "rack/session.h"

#define DEFAULT_CONFIG "/etc/ironrack/rackd.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ironrack-rackd [OPTIONS]\n"
		"\n"
		"First start (enrolment):\n"
		"  ironrack-rackd --region HOST:5250 --secret-file FILE [--ca-fingerprint SHA256:...]\n"
		"FILE holds the region's enrolment secret (ironrack-regiond enrol-secret prints it);\n"
		"IRONRACK_ENROL_SECRET_FILE=FILE in the environment does the same, and\n"
		"IRONRACK_ENROL_SECRET=SECRET gives the secret itself. --secret SECRET\n"
		"works too, but every user on the machine sees a command line.\n"
		"Afterwards the rack uses the identity in its state directory and needs no secret.\n"
		"\n"
		"Options:\n"
		"  --config PATH       configuration file (default %s; a missing default file is fine)\n"
		"  --dump-leases       print the DHCP lease store (dhcp_dir) as its files hold it, one JSON\n"
		"                      object per address, and exit; read only, safe beside a running rack\n"
		"  --version           print the version\n"
		"  -h, --help          this help\n"
		"\n"
		"Every configuration key can be given as an option and overrides the file\n"
		"(--region may be repeated):\n",
		DEFAULT_CONFIG);
	conf_print_help(rack_conf_keys, rack_conf_keys_n, out);
}

/* Apply --key value pairs after the file; repeated --region accumulate. */
static int apply_flags(struct rack *rack, int argc, char **argv, const char *config, bool config_given)
{
	char err[512];
	int rc = conf_defaults(rack_conf_keys, rack_conf_keys_n, &rack->conf, err, sizeof(err));
	if (rc >= 0) {
		rc = conf_load_file(config, rack_conf_keys, rack_conf_keys_n, &rack->conf, err, sizeof(err));
		if (rc == -ENOENT && !config_given)
			rc = 0;
	}
	char regions[4096] = "";
	for (int i = 1; rc >= 0 && i < argc; i++) {
		if (strcmp(argv[i], "--dump-leases") == 0) /* a switch, no value */
			continue;
		char *key = argv[i] + 2, *val = strchr(key, '=');
		if (val)
			*val++ = '\0';
		else
			val = argv[++i];
		if (strcmp(key, "config") == 0)
			continue;

		if (strcmp(key, "region") == 0) {
			size_t len = strlen(regions);
			snprintf(regions + len, sizeof(regions) - len, "%s%s", len ? "," : "", val);
			continue;
		}
		rc = conf_set(rack_conf_keys, rack_conf_keys_n, &rack->conf, key, val, err, sizeof(err));
	}
	if (rc >= 0 && regions[0])
		rc = conf_set(rack_conf_keys, rack_conf_keys_n, &rack->conf, "region", regions, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "ironrack-rackd: %s\n", err);
	return rc;
}

static bool dump_leases;

static int parse_args(struct rack *rack, int argc, char **argv)
{
	const char *config = DEFAULT_CONFIG;
	bool config_given = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dump-leases") == 0) {
			dump_leases = true;
			continue;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("ironrack-rackd %s\n", IRONRACK_VERSION);
			exit(0);
		}
		if (strncmp(argv[i], "--", 2) != 0) {
			fprintf(stderr, "ironrack-rackd: unexpected argument '%s'\n", argv[i]);
			return -EINVAL;
		}
		if (!strchr(argv[i], '=')) {
			if (i + 1 >= argc) {
				fprintf(stderr, "ironrack-rackd: option %s needs a value\n", argv[i]);
				return -EINVAL;
			}
			if (strcmp(argv[i], "--config") == 0) {
				config = argv[i + 1];
				config_given = true;
			}
			i++;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
			config_given = true;
		}
	}
	return apply_flags(rack, argc, argv, config, config_given);
}

/* The enrolment secret itself in $IRONRACK_ENROL_SECRET (a container's
 * secret, say): taken, then wiped from the environment block, which
 * /proc/PID/environ shows to this user and root. */
static bool secret_from_env(struct rack *rack)
{
	char *v = getenv("IRONRACK_ENROL_SECRET");
	if (!v || !v[0])
		return false;
	size_t start = strspn(v, " \t\r\n"), end = strlen(v);
	while (end > start && strchr(" \t\r\n", v[end - 1]))
		end--;
	free(rack->conf.secret);
	rack->conf.secret = xstrndup(v + start, end - start);
	explicit_bzero(v, strlen(v));
	unsetenv("IRONRACK_ENROL_SECRET");
	return true;
}

/* The enrolment secret from secret_file (or $IRONRACK_ENROL_SECRET_FILE):
 * its first line, without surrounding blanks. Kept off the command line,
 * where every user of the machine can read it (ps, /proc). */
static int secret_load(struct rack *rack, bool secret_on_command_line)
{
	const char *path = rack->conf.secret_file;
	char *data = NULL;
	size_t len = 0;
	struct stat st;

	if (!path[0]) {
		path = getenv("IRONRACK_ENROL_SECRET_FILE");
		if ((!path || !path[0]) && !rack->conf.secret[0] && secret_from_env(rack))
			return 0;
		if (!path || !path[0] || rack->conf.secret[0]) {
			if (secret_on_command_line)
				log_warn(
				    "the enrolment secret is on the command line, where every user of this machine "
				    "can read it; use --secret-file FILE");
			return 0;
		}
	} else if (rack->conf.secret[0]) {
		fprintf(stderr, "ironrack-rackd: give the enrolment secret once: secret or secret_file, not both\n");
		return -EINVAL;
	}
	int rc = fs_read_all(path, 4096, &data, &len);
	if (rc == -ENOENT) {
		/* Deleted after enrolment, as it should be; an unenrolled rack
		 * says at enrolment that it has no secret. */
		log_info("no enrolment secret in %s (not needed once the rack is enrolled)", path);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "ironrack-rackd: cannot read the enrolment secret from %s: %s\n", path, strerror(-rc));
		return rc;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 0077))
		log_warn("%s (the enrolment secret) can be read by other users (mode %04o); chmod 600 it", path,
			 (unsigned)(st.st_mode & 07777));
	size_t start = strspn(data, " \t\r\n"), end = start + strcspn(data + start, "\r\n");
	while (end > start && (data[end - 1] == ' ' || data[end - 1] == '\t'))
		end--;
	if (end == start || memchr(data, '\0', len)) {
		explicit_bzero(data, len);
		free(data);
		fprintf(stderr, "ironrack-rackd: %s does not hold an enrolment secret on its first line\n", path);
		return -EINVAL;
	}
	free(rack->conf.secret);
	rack->conf.secret = xstrndup(data + start, end - start);
	explicit_bzero(data, len);
	free(data);
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct rack *rack = arg;
	log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rack->stopping = true;
	event_base_loopexit(rack->base, NULL);
}

static int rack_run(struct rack *rack)
{
	int rc = fs_mkdir_p(rack->conf.state_dir, 0700);
	if (rc < 0) {
		log_err("cannot create state directory %s: %s", rack->conf.state_dir, strerror(-rc));
		return 1;
	}
	rc = rack_identity_load(rack);
	if (rc < 0 && rc != -ENOENT)
		return 1;
	if (rack->conf.region.n == 0) {
		log_err("no region address: give --region HOST:PORT or set region in the config file");
		return 1;
	}
	if (rack_boot_init(rack) < 0)
		return 1;
	rack_store_load(rack);
	log_info("ironrack-rackd %s starting as '%s', state in %s", IRONRACK_VERSION, rack->hostname,
		 rack->conf.state_dir);
	if (rc == -ENOENT) {
		log_info("not enrolled yet: enrolling with the region");
		if (rack_enrol(rack) < 0)
			return 1;
	}
	log_info("rack identity %s", rack->id.rack_id);
	/* The services do not wait for the region: they serve what is on disk. */
	if (rack_services_start(rack) < 0) {
		rack_boot_done(rack);
		return 1;
	}
	struct event *sigint = evsignal_new(rack->base, SIGINT, on_signal, rack);
	struct event *sigterm = evsignal_new(rack->base, SIGTERM, on_signal, rack);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	rack_session_start(rack);
	event_base_dispatch(rack->base);
	rack_session_stop(rack);
	rack_services_stop(rack);
	rack_boot_done(rack);
	event_free(sigint);
	event_free(sigterm);
	return 0;
}

int main(int argc, char **argv)
{
	static struct rack the_rack;
	struct rack *rack = &the_rack;

	rack->dhcp_nsfd = -1;

	signal(SIGPIPE, SIG_IGN);
	log_setup("rackd", LOG_LEVEL_INFO);
	if (parse_args(rack, argc, argv) < 0)
		return 2;
	log_set_level((enum log_level)rack->conf.log_level);
	if (dump_leases)
		return rack_dhcp_dump_leases(rack, stdout) < 0 ? 1 : 0;
	bool secret_argv = false;
	for (int i = 1; i < argc; i++)
		secret_argv |= strcmp(argv[i], "--secret") == 0 || strncmp(argv[i], "--secret=", 9) == 0;
	if (secret_load(rack, secret_argv) < 0)
		return 2;
	if (rack->conf.hostname[0])
		snprintf(rack->hostname, sizeof(rack->hostname), "%s", rack->conf.hostname);
	else if (gethostname(rack->hostname, sizeof(rack->hostname) - 1) < 0)
		snprintf(rack->hostname, sizeof(rack->hostname), "rack");
	rack->started_us = clock_mono_us();
	srandom((unsigned)(clock_real_ms() ^ clock_mono_us() ^ getpid()));

	/* Descriptors: as many as we may; the HTTP boot server's cap is derived
	 * from what this leaves (common/httpguard.h). */
	long nofile = httpguard_nofile_raise();
	if (nofile < 0)
		log_warn("cannot read the open file limit: %s", strerror((int)-nofile));
	/* Only what a rack does: raw and packet sockets (DHCP, ARP and ICMP
	 * probes, Wake-on-LAN), ports below 1024 (DHCP, TFTP), interface and
	 * neighbour changes, and entering its namespace; as its own user,
	 * owning its directories, unless told to stay root. */
	uint64_t keep = PRIVS_CAP(CAP_NET_RAW) | PRIVS_CAP(CAP_NET_BIND_SERVICE) | PRIVS_CAP(CAP_NET_ADMIN);
	if (rack->conf.netns && rack->conf.netns[0])
		keep |= PRIVS_CAP(CAP_SYS_ADMIN);
	char err[512], boot_root[PATH_MAX], dhcp_dir[PATH_MAX];
	int mk = fs_mkdir_p(rack->conf.state_dir, 0700);
	if (mk < 0) {
		log_err("cannot create state directory %s: %s", rack->conf.state_dir, strerror(-mk));
		return 1;
	}
	if (rack_boot_root(rack, boot_root, sizeof(boot_root)) < 0)
		boot_root[0] = '\0';
	if (rack->conf.dhcp_dir[0])
		snprintf(dhcp_dir, sizeof(dhcp_dir), "%s", rack->conf.dhcp_dir);
	else
		fs_path_join(dhcp_dir, sizeof(dhcp_dir), rack->conf.state_dir, "dhcp");
	const char *dirs[] = {rack->conf.state_dir, boot_root, dhcp_dir};
	if (privs_drop(rack->conf.user, dirs, 3, keep, keep, true, err, sizeof(err)) < 0) {
		log_err("cannot give up privileges: %s", err);
		return 1;
	}
	/* A precise monotonic clock (and a timerfd) for the loop's timers:
	 * libevent's default, the coarse clock, moves a jiffy at a time,
	 * and the DHCP socket's 1 ms receive coalescing (and the 5 ms commit
	 * interval) would fire several ms late, after empty wake-ups. */
	struct event_config *ec = event_config_new();
	if (ec && event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		rack->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!rack->base) {
		log_err("cannot create the event loop");
		return 1;
	}
	rpc_lib_init();
	int rc = 1;
	if (rpc_loop_new(rack->base, &rack->rpc_loop) >= 0) {
		rc = rack_run(rack);
		rpc_loop_free(rack->rpc_loop);
	}
	rpc_lib_shutdown();
	event_base_free(rack->base);
	rack_identity_done(&rack->id);
	conf_free(rack_conf_keys, rack_conf_keys_n, &rack->conf);
	log_info("rack stopped");
	return rc;
}
