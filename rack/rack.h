/* ironrack-rackd: shared state of one rack process. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/log.h"

struct event_base;
struct event;
struct rpc_loop;
struct rpc_channel;
struct rpc_stream;
struct tftp_server;
struct rack_boot;
struct boot_http;
struct rack_resources;
struct dhcp_server;
struct dhcp_report;
struct rack_power;
struct rack_agent;
struct rack_discovery;
struct rack_ha;

struct rack_conf {
	char *state_dir;
	struct conf_list region; /* region gRPC endpoints, tried in turn */
	char *secret;		 /* enrolment secret, needed until enrolled */
	char *secret_file;	 /* or the file it is in */
	char *ca_fingerprint;	 /* expected region CA; "" = trust on first use */
	char *hostname;		 /* "" = system hostname */
	char *netns;		 /* namespace whose interfaces this rack serves */
	char *user;		 /* runs as, when started as root */
	long reconnect_max;	 /* seconds, cap of the reconnect backoff */
	int log_level;
	char *tftp_listen; /* "ADDRESS:PORT"; "" = no TFTP server */
	char *boot_root;   /* files served by TFTP; "" = state_dir/boot */
	long tftp_max_transfers;
	long tftp_max_transfers_per_client;
	long tftp_workers;
	long tftp_max_blksize;
	char *http_boot_listen; /* "ADDRESS:PORT"; "" = no HTTP boot server */
	long http_boot_max_connections;
	long http_boot_max_connections_per_client;
	long http_boot_header_timeout; /* seconds; common/httpguard.h */
	long http_boot_request_timeout;
	char *loaders;			       /* "auto" | "off" (rack/boot/loaders.c) */
	char *dhcp_dir;			       /* lease store; "" = state_dir/dhcp */
	long dhcp_probe_timeout;	       /* ms: ARP/ICMP conflict probe wait */
	long dhcp_commit_interval;	       /* ms between lease journal commits */
	long dhcp_rx_coalesce;		       /* us between reads of a busy DHCP socket */
	long power_concurrency;		       /* BMC calls at once (rack/power) */
	long power_timeout;		       /* seconds per power action, retries included */
	long power_attempts;		       /* tries of an action that fails transiently */
	long agent_hold_timeout;	       /* seconds an agent's report waits on the region (rack/machine) */
	bool discovery;			       /* rack/discovery: passive ARP/mDNS observation */
	struct conf_list discovery_interfaces; /* observed only, besides the served DHCP interfaces */
	long discovery_rate;		       /* events per second per interface */
	long discovery_burst;
	long discovery_refresh;	  /* seconds: REFRESHED after this long */
	long discovery_scan_rate; /* ARP requests per second of the active scan */
	char *ha_listen;	  /* "ADDRESS:PORT" of the HA partner link; "" = no HA role */
	char *ha_advertise;	  /* what the partner dials, when not the region's view */
	long ha_heartbeat_ms, ha_timeout_ms;
	long ha_mclt_s;
	bool ha_rebalance; /* rebalance the shares in NORMAL */
};

extern const struct conf_key rack_conf_keys[];
extern const size_t rack_conf_keys_n;

/* PEM material and the id the region gave us, from state_dir/tls. */
struct rack_identity {
	char *key;
	char *cert;
	char *ca;
	char rack_id[64];
};

struct rack {
	struct event_base *base;
	struct rack_conf conf;
	char hostname[256];
	struct rack_identity id;
	struct rpc_loop *rpc_loop;

	/* connection state (rack/session.c, rack/session.h) */
	struct rpc_channel *channel;
	struct rpc_stream *stream;
	size_t region_idx; /* which conf.region we try or hold */
	unsigned backoff_ms;
	struct event *retry_timer;
	struct event *heartbeat_timer;
	unsigned heartbeat_s;
	bool connected;
	uint64_t request_seq; /* last request id handed out (rack_session_request_id) */
	int64_t started_us;   /* clock_mono_us() at start */

	struct tftp_server *tftp;	  /* rack/tftp/server.c; NULL when disabled */
	struct rack_boot *boot;		  /* rack/boot/service.c: boot configs */
	struct boot_http *http;		  /* rack/boot/http.c; NULL when disabled */
	struct rack_agent *agent;	  /* rack/machine/agent.c: the HTTP boot server's; NULL without it */
	struct rack_resources *resources; /* rack/boot/resources.c */
	struct dhcp_server *dhcp;	  /* rack/dhcp/server.c */
	struct dhcp_report *report;	  /* rack/dhcp/report.c: lease reports to the region */
	int dhcp_nsfd;			  /* netns fd the DHCP server's sockets are made in, or -1 */
	struct rack_power *power;	  /* rack/power/service.c */
	struct rack_discovery *discovery; /* rack/discovery/service.c; NULL when off */
	struct rack_ha *ha;		  /* rack/dhcp/ha_service.c */

	/* stored configuration (rack/store.c) */
	uint64_t config_version;
	bool stopping;
};

/* rack/identity.c */
int rack_identity_load(struct rack *rack); /* 0 loaded, -ENOENT not enrolled */
int rack_identity_save(struct rack *rack, const char *key, const char *cert, const char *ca, const char *id);
void rack_identity_done(struct rack_identity *id);
/* Enrol with the region (blocking until done or refused for good). */
int rack_enrol(struct rack *rack);

/* rack/store.c: the last config snapshot, on disk (state_dir/config). */
int rack_store_load(struct rack *rack);
/* Store a serialized ironrack.v1.RackConfig atomically and durably. */
int rack_store_save(struct rack *rack, uint64_t version, const uint8_t *data, size_t len);
/* The stored snapshot, decoded (free with
 * ironrack__v1__rack_config__free_unpacked); -ENOENT if there is none. */
struct Ironrack__V1__RackConfig;
int rack_store_read(const struct rack *rack, struct Ironrack__V1__RackConfig **ret);

/* rack/ifaces.c: interfaces to report in Register. */
struct rack_iface_info {
	char name[32];
	char mac[18];
	char **addresses;
	size_t n_addresses;
	uint32_t vlan;
};
int rack_ifaces_list(const char *netns, struct rack_iface_info **ret, size_t *ret_n);
void rack_ifaces_free(struct rack_iface_info *ifs, size_t n);
struct sockaddr;
/* The name of the interface in the rack's namespace that holds address
 * local (the rack address a request arrived on); "" if none does. */
void rack_iface_of(const struct rack *rack, const struct sockaddr *local, char *buf, size_t len);
/* "198.51.100.1", "2001:db8::1" (v4-mapped shown as v4); "" if unknown. */
void rack_addr_text(const struct sockaddr *sa, char *buf, size_t len);
