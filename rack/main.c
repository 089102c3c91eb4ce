/* ironrack-rackd: the rack daemon. */
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/rpc/rpc.h"
#include "common/version.h"
#include "ironrack/v1/region.pb-c.h"
#include "rack/boot/http.h"
#include "rack/boot/loaders.h"
#include "rack/boot/resources.h"
#include "rack/boot/service.h"
#include "rack/dhcp/report.h"
#include "rack/dhcp/server.h"
#include "rack/netns.h"
#include "rack/rack.h"
#include "rack/tftp/server.h"

#define DEFAULT_CONFIG "/etc/ironrack/rackd.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ironrack-rackd [OPTIONS]\n"
		"\n"
		"First start (enrolment):\n"
		"  ironrack-rackd --region HOST:5250 --secret SECRET [--ca-fingerprint SHA256:...]\n"
		"Afterwards the rack uses the identity in its state directory and needs no secret.\n"
		"\n"
		"Options:\n"
		"  --config PATH       configuration file (default %s; a missing default file is fine)\n"
		"  --version           print the version\n"
		"  -h, --help          this help\n"
		"\n"
		"Every configuration key can be given as an option and overrides the file\n"
		"(--region may be repeated):\n",
		DEFAULT_CONFIG);
	conf_print_help(rack_conf_keys, rack_conf_keys_n, out);
}

/* Apply --key value pairs after the file; repeated --region accumulate. */
static int apply_flags(struct rack *k, int argc, char **argv, const char *config, bool config_given)
{
	char err[512];
	int rc = conf_defaults(rack_conf_keys, rack_conf_keys_n, &k->conf, err, sizeof(err));
	if (rc >= 0) {
		rc = conf_load_file(config, rack_conf_keys, rack_conf_keys_n, &k->conf, err, sizeof(err));
		if (rc == -ENOENT && !config_given)
			rc = 0;
	}
	char regions[4096] = "";
	for (int i = 1; rc >= 0 && i < argc; i++) {
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
		rc = conf_set(rack_conf_keys, rack_conf_keys_n, &k->conf, key, val, err, sizeof(err));
	}
	if (rc >= 0 && regions[0])
		rc = conf_set(rack_conf_keys, rack_conf_keys_n, &k->conf, "region", regions, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "ironrack-rackd: %s\n", err);
	return rc;
}

static int parse_args(struct rack *k, int argc, char **argv)
{
	const char *config = DEFAULT_CONFIG;
	bool config_given = false;
	for (int i = 1; i < argc; i++) {
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
	return apply_flags(k, argc, argv, config, config_given);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct rack *k = arg;
	log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	k->stopping = true;
	event_base_loopexit(k->base, NULL);
}

/* Like the boot service, DHCP does not wait for the region: it serves the
 * stored config, so a restarted rack serves with the region down. A stored
 * config that does not load is logged and nothing is served until the
 * region sends a good one. */
static int rack_dhcp_start(struct rack *k)
{
	char dir[PATH_MAX];
	int rc;

	if (k->conf.dhcp_dir[0] && k->conf.dhcp_dir[0] != '/') {
		log_err("dhcp_dir '%s' must be an absolute path", k->conf.dhcp_dir);
		return -EINVAL;
	}
	if (k->conf.dhcp_dir[0])
		snprintf(dir, sizeof(dir), "%s", k->conf.dhcp_dir);
	else
		snprintf(dir, sizeof(dir), "%s/dhcp", k->conf.state_dir);
	rc = fs_mkdir_p(dir, 0700);
	if (rc < 0) {
		log_err("dhcp: cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (k->conf.netns[0]) {
		k->dhcp_nsfd = netns_open(k->conf.netns);
		if (k->dhcp_nsfd < 0) {
			rc = k->dhcp_nsfd;
			k->dhcp_nsfd = -1;
			log_err("dhcp: cannot open network namespace '%s': %s", k->conf.netns, strerror(-rc));
			return rc;
		}
	}
	rc = dhcp_report_new(k->base, NULL, &rack_dhcp_report_ops, k, &k->report);
	if (rc < 0) {
		log_err("dhcp: cannot set up lease reports: %s", strerror(-rc));
		return rc;
	}
	struct dhcp_server_conf sc = {
	    .lease_dir = dir,
	    .nsfd = k->dhcp_nsfd,
	    .probe_timeout_ms = k->conf.dhcp_probe_timeout,
	};
	rc = dhcp_server_new(k->base, &sc, &rack_dhcp_server_ops, k, &k->dhcp);
	if (rc < 0) {
		log_err("dhcp: cannot start the DHCP server (lease store %s): %s", dir, strerror(-rc));
		return rc;
	}
	Ironrack__V1__RackConfig *cfg = NULL;
	rc = rack_store_read(k, &cfg);
	if (rc == -ENOENT) {
		log_info("dhcp: no stored config: serving no DHCP until the region sends one");
		return 0;
	}
	if (rc < 0) {
		log_err("dhcp: cannot read the stored config: %s; serving no DHCP until the region sends one",
			strerror(-rc));
		return 0;
	}
	char why[512];
	if (rack_dhcp_apply(k, cfg->dhcp, cfg->version, why, sizeof(why)) < 0)
		log_err("dhcp: stored config version %llu is not served: %s", (unsigned long long)cfg->version, why);
	ironrack__v1__rack_config__free_unpacked(cfg, NULL);
	return 0;
}

static void rack_dhcp_stop(struct rack *k)
{
	dhcp_server_free(k->dhcp);
	k->dhcp = NULL;
	dhcp_report_free(k->report);
	k->report = NULL;
	if (k->dhcp_nsfd >= 0)
		close(k->dhcp_nsfd);
	k->dhcp_nsfd = -1;
}

static int rack_run(struct rack *k)
{
	int rc = fs_mkdir_p(k->conf.state_dir, 0700);
	if (rc < 0) {
		log_err("cannot create state directory %s: %s", k->conf.state_dir, strerror(-rc));
		return 1;
	}
	rc = rack_identity_load(k);
	if (rc < 0 && rc != -ENOENT)
		return 1;
	if (k->conf.region.n == 0) {
		log_err("no region address: give --region HOST:PORT or set region in the config file");
		return 1;
	}
	if (rack_boot_init(k) < 0)
		return 1;
	rack_store_load(k);
	log_info("ironrack-rackd %s starting as '%s', state in %s", IRONRACK_VERSION, k->hostname,
		 k->conf.state_dir);
	if (rc == -ENOENT) {
		log_info("not enrolled yet: enrolling with the region");
		if (rack_enrol(k) < 0)
			return 1;
	}
	log_info("rack identity %s", k->id.rack_id);
	/* Loaders and cached boot resources are on disk before TFTP starts. */
	char boot_root[PATH_MAX];
	if (rack_boot_root(k, boot_root, sizeof(boot_root)) < 0 || rack_loaders_install(k, boot_root) < 0 ||
	    rack_resources_start(k, boot_root) < 0) {
		rack_boot_done(k);
		return 1;
	}
	/* Boot service does not wait for the region: it serves what is on disk. */
	if (rack_tftp_start(k) < 0 || rack_http_start(k) < 0 || rack_dhcp_start(k) < 0) {
		rack_dhcp_stop(k);
		rack_http_stop(k);
		rack_tftp_stop(k);
		rack_resources_stop(k);
		rack_boot_done(k);
		return 1;
	}
	struct event *sigint = evsignal_new(k->base, SIGINT, on_signal, k);
	struct event *sigterm = evsignal_new(k->base, SIGTERM, on_signal, k);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	rack_session_start(k);
	event_base_dispatch(k->base);
	rack_session_stop(k);
	rack_dhcp_stop(k);
	rack_resources_stop(k);
	rack_http_stop(k);
	rack_tftp_stop(k);
	rack_boot_done(k);
	event_free(sigint);
	event_free(sigterm);
	return 0;
}

int main(int argc, char **argv)
{
	static struct rack rack;
	struct rack *k = &rack;
	struct timeval tv;

	k->dhcp_nsfd = -1;

	signal(SIGPIPE, SIG_IGN);
	log_setup("rackd", LOG_LEVEL_INFO);
	if (parse_args(k, argc, argv) < 0)
		return 2;
	log_set_level((enum log_level)k->conf.log_level);
	if (k->conf.hostname[0])
		snprintf(k->hostname, sizeof(k->hostname), "%s", k->conf.hostname);
	else if (gethostname(k->hostname, sizeof(k->hostname) - 1) < 0)
		snprintf(k->hostname, sizeof(k->hostname), "rack");
	gettimeofday(&tv, NULL);
	k->started_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	srandom((unsigned)(tv.tv_usec ^ getpid()));

	k->base = event_base_new();
	rpc_lib_init();
	int rc = 1;
	if (rpc_loop_new(k->base, &k->rpc_loop) >= 0) {
		rc = rack_run(k);
		rpc_loop_free(k->rpc_loop);
	}
	rpc_lib_shutdown();
	event_base_free(k->base);
	rack_identity_done(&k->id);
	conf_free(rack_conf_keys, rack_conf_keys_n, &k->conf);
	log_info("rack stopped");
	return rc;
}
