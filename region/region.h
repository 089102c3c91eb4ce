/* ironrack-regiond: the shared state of one region process. Owned by
 * region/main.c; every module gets a pointer to it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/pki.h"

struct event_base;
struct db;
struct db_pool;
struct pgembed;
struct api;
struct rpc_server;
struct rpc_loop;
struct region_racks;
struct region_bootres;
struct region_dhcp;
struct secret_box;
struct region_machines;

struct region_conf {
	char *state_dir;
	char *database_dsn;	     /* "" = embedded PostgreSQL */
	char *pg_bindir;	     /* "" = newest /usr/lib/postgresql/N/bin */
	char *pg_user;		     /* runs the embedded cluster when we are root */
	char *user;		     /* runs as, when started as root */
	char *http_listen;	     /* REST API + web UI */
	char *http_tls;		     /* auto | on | off (region/api/https.h) */
	char *grpc_listen;	     /* rack RPC */
	char *region_name;	     /* "" = hostname */
	struct conf_list tls_names;  /* extra DNS names / IPs in the server cert */
	long heartbeat_interval;     /* seconds */
	long rack_timeout;	     /* seconds without a heartbeat = gone */
	long max_body_bytes;	     /* REST request body limit */
	int log_level;		     /* enum log_level */
	char *boot_resources_dir;    /* "" = state_dir/boot-resources (region/boot) */
	char *boot_resources_listen; /* HTTPS for racks; "" = not served here */
	char *boot_resources_url;    /* "" = https://<grpc_listen host or name>:<port> */
	long boot_resources_rescan;  /* seconds between scans; 0 = start and SIGHUP only */
	char *enlist_kernel;	     /* GetBootConfig answer for unknown MACs */
	char *enlist_initrd;
	char *enlist_cmdline;
	struct conf_list dhcp_boot_files; /* "ARCH=FILE" / "ARCH=http:FILE" (region/dhcp) */
	bool dhcp_pxe;
	long dhcp_pxe_lease_time; /* seconds */
	long dhcp_lease_time;	  /* seconds; a subnet's own overrides it */
	bool dhcp_probe;
	long dhcp_external_probe_interval; /* seconds; 0 = off */
	long dhcp_ha_auto_down;		   /* seconds; 0 = only the operator's partner-down */
	long power_poll_interval;	   /* seconds between polls of a machine's power state */
	long commissioning_timeout;	   /* seconds a machine may stay COMMISSIONING */
	long deploying_timeout;		   /* ... DEPLOYING */
	long releasing_timeout;		   /* ... RELEASING */
	char *deployed_when;		   /* boot | dhcp: when a deploy ends in DEPLOYED */

	/* The REST API's and the boot-resource server's guard (common/httpguard.h);
	 * the timeouts in seconds. */
	long http_max_connections;
	long http_max_connections_per_client;
	long http_header_timeout;
	long http_request_timeout;
	long boot_resources_max_connections;
};

/* Descriptors the HTTP servers leave for the region's own files, sockets
 * and database connections (common/httpguard.h, httpguard_fd_cap). */
#define REGION_FD_RESERVE 256

extern const struct conf_key region_conf_keys[];
extern const size_t region_conf_keys_n;

/* The region's PKI material, PEM, loaded from state_dir/tls (region/tls.c). */
struct region_tls {
	char *ca_key;
	char *ca_cert;
	char *server_key;
	char *server_chain; /* server certificate followed by the CA */
};

struct region {
	struct event_base *base;
	struct region_conf conf;
	char name[256]; /* resolved region_name */
	struct pgembed *pg;
	/* Start-up and one-shot commands only (migrations, the first API key);
	 * NULL while the loop runs: everything then goes through dbpool. */
	struct db *db;
	struct db_pool *dbpool; /* region/db/pool.h */
	struct rpc_loop *rpc_loop;
	struct rpc_server *rpc;
	struct region_racks *racks; /* live sessions (region/rpc) */
	struct api *api;
	struct region_bootres *bootres;	  /* region/boot */
	struct region_dhcp *dhcp;	  /* region/dhcp */
	struct region_power *power;	  /* region/power */
	struct region_machines *machines; /* region/machine */
	struct region_tls tls;
	char ca_fingerprint[PKI_FINGERPRINT_LEN];
	/* The keyring that seals secrets at rest (region/secret.h), opened at
	 * start-up; thread-safe, so database jobs may seal and unseal with it. */
	struct secret_box *secrets;
	bool stopping;
};

/* region/tls.c: create the CA, the server certificate and the enrolment
 * secret on first start; load them afterwards. err says what failed. */
int region_tls_setup(struct region *r, char *err, size_t errlen);
void region_tls_done(struct region_tls *tls);
/* Issue a client certificate for a rack from its CSR. */
int region_tls_sign_rack(struct region *r, const char *csr_pem, const char *rack_id, char **ret_cert_pem,
			 char *ret_serial, size_t serial_len);
/* The enrolment secret (state_dir/enrol-secret); created if missing, and
 * then 1 is returned so the caller can show it once. */
int region_secret_get(const char *state_dir, char *ret, size_t len);
int region_secret_rotate(const char *state_dir, char *ret, size_t len);
/* Is identity (a client certificate's CN) an enrolled rack? cb gets
 * RPC_OK or the gRPC status to refuse with (RPC_UNAUTHENTICATED, or
 * RPC_UNAVAILABLE when the database cannot say), exactly once, possibly
 * before this returns. Refusals are logged; what names the request. */
typedef void (*region_rack_check_cb)(void *arg, int status);
void region_rpc_check_rack(struct region *r, const char *identity, const char *peer, const char *what,
			   region_rack_check_cb cb, void *arg);

/* Result of an operation on a connected rack, delivered on the loop thread.
 * status: 0 done; -ENOTCONN rack has no session; -ETIMEDOUT no answer before
 * the deadline; -EREMOTEIO the rack answered with an error (message says);
 * -ECANCELED the session ended first. rtt_us: round trip. version: for a
 * config push, the version the rack acknowledged. */
typedef void (*region_reply_cb)(void *arg, int status, const char *message, int64_t rtt_us, uint64_t version);

/* Commands down a rack's Session (region/rpc/sessions.c, region/rackcfg.c).
 * The callback is called exactly once (possibly before this returns, with
 * -ENOTCONN), unless the region stops first. A database failure is -EIO. */
void region_rack_ping(struct region *r, const char *rack_id, int timeout_ms, region_reply_cb cb, void *arg);
/* Store settings_json (a JSON object of strings) as the rack's next config
 * version, with the previous version's boot configs, and push it; cb fires
 * when the rack has it on disk. */
void region_rack_push_config(struct region *r, const char *rack_id, const char *settings_json, int timeout_ms,
			     region_reply_cb cb, void *arg);
/* The same with new boot configs: boot_configs_json is a JSON array checked
 * by api_boot_configs_check; NULL keeps the previous version's. */
void region_rack_push_config_boot(struct region *r, const char *rack_id, const char *settings_json,
				  const char *boot_configs_json, int timeout_ms, region_reply_cb cb, void *arg);
/* Send a connected rack its latest stored snapshot if it holds an older
 * one (region/dhcp stores snapshots of its own); nothing otherwise. */
void region_rack_offer_config(struct region *r, const char *rack_id);
bool region_rack_connected(struct region *r, const char *rack_id);
size_t region_racks_connected_count(struct region *r);
