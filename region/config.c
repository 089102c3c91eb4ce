/* regiond.conf: every key the region understands. This table is the
 * source of --help and of docs/configuration.md. */
#include <stddef.h>

#include "region/region.h"

/* One key a row reads best as written. */
/* clang-format off */
#define KEY(name, type, field, min, max, def, help) \
	{ name, type, offsetof(struct region_conf, field), min, max, def, help }

const struct conf_key region_conf_keys[] = {
	KEY("state_dir", CONF_PATH, state_dir, 0, 0, "/var/lib/ironrack-region",
	    "CA, certificates, enrolment secret and the embedded database live here"),
	KEY("database_dsn", CONF_STRING, database_dsn, 0, 0, "",
	    "libpq connection string of an existing PostgreSQL; empty = run an embedded cluster in state_dir"),
	KEY("pg_bindir", CONF_STRING, pg_bindir, 0, 0, "",
	    "directory with initdb and postgres for the embedded cluster; empty = newest /usr/lib/postgresql/N/bin"),
	KEY("user", CONF_STRING, user, 0, 0, "ironrack",
	    "unprivileged user the region runs as when started as root, with no capabilities; it owns state_dir and "
	    "boot_resources_dir and runs the embedded cluster; root = stay root (then pg_user runs the cluster)"),
	KEY("pg_user", CONF_STRING, pg_user, 0, 0, "ironrack",
	    "unprivileged system user that runs the embedded cluster when the region stays root (user = root)"),
	KEY("http_listen", CONF_LISTEN, http_listen, 0, 0, "0.0.0.0:5240", "REST API and web UI address"),
	KEY("http_tls", CONF_STRING, http_tls, 0, 0, "auto",
	    "REST API over HTTPS with the region CA's certificate: auto (HTTPS unless http_listen is a loopback "
	    "address), on, or off (plain HTTP, even off loopback)"),
	KEY("grpc_listen", CONF_LISTEN, grpc_listen, 0, 0, "0.0.0.0:5250", "address racks connect to (gRPC, TLS)"),
	KEY("region_name", CONF_STRING, region_name, 0, 0, "", "name of this region process; empty = hostname"),
	KEY("tls_names", CONF_LIST, tls_names, 0, 0, "",
	    "extra DNS names or IP addresses to put in the region's server certificate"),
	KEY("heartbeat_interval", CONF_DURATION, heartbeat_interval, 1, 3600, "10s",
	    "how often racks send a heartbeat on their session"),
	KEY("rack_timeout", CONF_DURATION, rack_timeout, 3, 86400, "45s",
	    "a session without a heartbeat for this long is closed and the rack shown disconnected"),
	KEY("max_body_bytes", CONF_INT, max_body_bytes, 1024, 64L * 1024 * 1024, "1048576",
	    "largest REST request body accepted"),
	KEY("http_max_connections", CONF_INT, http_max_connections, 1, 100000, "1000",
	    "REST API connections at once (fewer if the open file limit is lower); more are answered 503 and closed"),
	KEY("http_max_connections_per_client", CONF_INT, http_max_connections_per_client, 1, 100000, "64",
	    "REST API and boot-resource connections at once from one address (IPv6: one /64)"),
	KEY("http_header_timeout", CONF_DURATION, http_header_timeout, 1, 3600, "10s",
	    "time from accepting a REST API or boot-resource connection (or a later request's first byte) to the end of "
	    "the request's header; bytes arriving do not extend it"),
	KEY("http_request_timeout", CONF_DURATION, http_request_timeout, 1, 86400, "120s",
	    "the same to the end of a REST request's body"),
	KEY("boot_resources_max_connections", CONF_INT, boot_resources_max_connections, 1, 100000, "256",
	    "boot-resource connections at once (fewer if the open file limit is lower)"),
	KEY("log_level", CONF_LOGLEVEL, log_level, 0, 0, "info", "error, warn, info or debug"),
	KEY("boot_resources_dir", CONF_STRING, boot_resources_dir, 0, 0, "",
	    "directory of boot resources (kernels, initrds) published to racks; empty = STATE_DIR/boot-resources"),
	KEY("boot_resources_listen", CONF_STRING, boot_resources_listen, 0, 0, "0.0.0.0:5241",
	    "ADDRESS:PORT serving boot resources to racks over HTTPS (mutual TLS); empty = not served here"),
	KEY("boot_resources_url", CONF_STRING, boot_resources_url, 0, 0, "",
	    "https:// base URL racks fetch boot resources from; empty = https://GRPC_LISTEN_HOST_OR_REGION_NAME:PORT"),
	KEY("boot_resources_rescan", CONF_DURATION, boot_resources_rescan, 0, 86400, "60s",
	    "how often boot_resources_dir is scanned for changes (also on SIGHUP); 0 = only at start and on SIGHUP"),
	KEY("enlist_kernel", CONF_STRING, enlist_kernel, 0, 0, "ephemeral/amd64/vmlinuz",
	    "kernel (path under the rack's boot root) that unknown machines boot to enlist (GetBootConfig)"),
	KEY("enlist_initrd", CONF_STRING, enlist_initrd, 0, 0, "ephemeral/amd64/initrd.img",
	    "initrd for enlisting machines; empty = none"),
	KEY("enlist_cmdline", CONF_STRING, enlist_cmdline, 0, 0,
	    "console=tty0 console=ttyS0,115200 ironrack.purpose=enlist",
	    "kernel command line for enlisting machines; commissioning uses the same kernel, initrd and line with "
	    "ironrack.purpose=commission and the machine's token"),
	KEY("dhcp_boot_files", CONF_LIST, dhcp_boot_files, 0, 0,
	    "0=lpxelinux.0 7=bootx64.efi 9=bootx64.efi 11=bootaa64.efi 16=http:bootx64.efi 19=http:bootaa64.efi",
	    "boot file per client architecture (DHCP option 93) served by racks' DHCP, as ARCH=FILE, or "
	    "ARCH=http:FILE for UEFI HTTP boot (sent as a URL); an architecture not listed gets no boot file"),
	KEY("dhcp_pxe", CONF_BOOL, dhcp_pxe, 0, 0, "yes", "racks' DHCP servers answer PXE clients with a boot file"),
	KEY("dhcp_pxe_lease_time", CONF_DURATION, dhcp_pxe_lease_time, 10, 86400, "30s",
	    "lease time given to PXE clients (firmware renews nothing; a short lease frees the address soon)"),
	KEY("dhcp_lease_time", CONF_DURATION, dhcp_lease_time, 30, 31536000, "600s",
	    "lease time of racks' DHCP servers where the subnet sets none"),
	KEY("dhcp_probe", CONF_BOOL, dhcp_probe, 0, 0, "yes",
	    "racks probe an address (ARP, ICMP) before offering it and quarantine it if something answers"),
	KEY("dhcp_external_probe_interval", CONF_DURATION, dhcp_external_probe_interval, 0, 86400, "10m",
	    "how often racks look for other DHCP servers on the VLANs they serve; 0 = never"),
	KEY("dhcp_ha_auto_down", CONF_DURATION, dhcp_ha_auto_down, 0, 2592000, "1h",
	    "DHCP HA: the region grants a rack partner-down (it serves its dead partner's share after the MCLT) "
	    "once it has heard nothing from the partner for this long; a VLAN's dhcp_ha_auto_down overrides it; "
	    "0 = only by the operator's command"),
	KEY("power_poll_interval", CONF_DURATION, power_poll_interval, 10, 86400, "5m",
	    "how often racks poll each machine's BMC for its power state (spread over the interval)"),
	KEY("commissioning_timeout", CONF_DURATION, commissioning_timeout, 5, 86400, "30m",
	    "a machine still COMMISSIONING this long goes FAILED_COMMISSIONING (its agent never reported)"),
	KEY("deploying_timeout", CONF_DURATION, deploying_timeout, 5, 86400, "30m",
	    "a machine still DEPLOYING this long goes FAILED_DEPLOYMENT"),
	KEY("releasing_timeout", CONF_DURATION, releasing_timeout, 5, 86400, "10m",
	    "a machine still RELEASING this long goes BROKEN"),
	KEY("deployed_when", CONF_STRING, deployed_when, 0, 0, "boot",
	    "when a deploying machine is DEPLOYED after its agent wrote the image: boot (its power cycle is done) or "
	    "dhcp (its OS took a DHCP lease)"),
};
/* clang-format on */

const size_t region_conf_keys_n = sizeof(region_conf_keys) / sizeof(region_conf_keys[0]);
