/* rackd.conf: every key the rack understands (source of --help and docs). */
#include <stddef.h>

#include "rack/rack.h"

/* One key a row reads best as written. */
/* clang-format off */
#define KEY(name, type, field, min, max, def, help) \
	{ name, type, offsetof(struct rack_conf, field), min, max, def, help }

const struct conf_key rack_conf_keys[] = {
	KEY("state_dir", CONF_PATH, state_dir, 0, 0, "/var/lib/ironrack-rack",
	    "identity (key, certificate, pinned CA) and the last configuration from the region"),
	KEY("region", CONF_LIST, region, 0, 0, "",
	    "region gRPC endpoints (host:port, default port 5250), tried in turn with backoff"),
	KEY("secret", CONF_STRING, secret, 0, 0, "",
	    "enrolment secret; needed only until the rack is enrolled (on the command line every user sees it in ps: "
	    "prefer secret_file)"),
	KEY("secret_file", CONF_STRING, secret_file, 0, 0, "",
	    "file holding the enrolment secret (its first line); default: $IRONRACK_ENROL_SECRET_FILE"),
	KEY("ca_fingerprint", CONF_STRING, ca_fingerprint, 0, 0, "",
	    "SHA256 fingerprint of the region CA to pin at enrolment; empty = trust on first use"),
	KEY("hostname", CONF_STRING, hostname, 0, 0, "", "name reported to the region; empty = system hostname"),
	KEY("netns", CONF_STRING, netns, 0, 0, "",
	    "network namespace (ip netns name) holding the interfaces this rack serves; empty = its own"),
	KEY("user", CONF_STRING, user, 0, 0, "ironrack",
	    "unprivileged user the rack runs as when started as root, keeping only its network capabilities; it is "
	    "given state_dir, boot_root and dhcp_dir; root = stay root"),
	KEY("reconnect_max", CONF_DURATION, reconnect_max, 1, 3600, "30s",
	    "longest wait between attempts to reach a region"),
	KEY("log_level", CONF_LOGLEVEL, log_level, 0, 0, "info", "error, warn, info or debug"),
	KEY("tftp_listen", CONF_STRING, tftp_listen, 0, 0, "0.0.0.0:69",
	    "TFTP server address:port ([::]:69 for IPv6 and IPv4), inside netns if set; empty = no TFTP"),
	KEY("boot_root", CONF_STRING, boot_root, 0, 0, "",
	    "directory served over TFTP (absolute path); empty = STATE_DIR/boot"),
	KEY("tftp_max_transfers", CONF_INT, tftp_max_transfers, 1, 100000, "1000",
	    "concurrent TFTP transfers; more requests get ERROR 0 'server busy'"),
	KEY("tftp_max_transfers_per_client", CONF_INT, tftp_max_transfers_per_client, 1, 100000, "16",
	    "concurrent TFTP transfers from one client address; more requests from it get ERROR 0"),
	KEY("tftp_workers", CONF_INT, tftp_workers, 0, 64, "0",
	    "threads TFTP transfers run on, each with its own event loop; 0 = one per CPU the rack may use, at most 8"),
	KEY("tftp_max_blksize", CONF_INT, tftp_max_blksize, 512, 65464, "1468",
	    "largest TFTP block size granted (1468 fills a 1500-byte Ethernet frame)"),
	KEY("http_boot_listen", CONF_STRING, http_boot_listen, 0, 0, "0.0.0.0:5248",
	    "HTTP boot server address:port ([::]:5248 for IPv6 and IPv4), inside netns if set; empty = none"),
	KEY("http_boot_max_connections", CONF_INT, http_boot_max_connections, 1, 100000, "1000",
	    "concurrent HTTP boot connections, counted when accepted; a further one is answered 503 and closed"),
	KEY("http_boot_max_connections_per_client", CONF_INT, http_boot_max_connections_per_client, 1, 100000, "64",
	    "concurrent HTTP boot connections from one address (IPv6: one /64)"),
	KEY("http_boot_header_timeout", CONF_DURATION, http_boot_header_timeout, 1, 3600, "10s",
	    "time from accepting an HTTP boot connection (or a later request's first byte) to the end of the request's "
	    "header; bytes arriving do not extend it"),
	KEY("http_boot_request_timeout", CONF_DURATION, http_boot_request_timeout, 1, 3600, "60s",
	    "the same to the end of a request's body (the machine agent's report)"),
	KEY("loaders", CONF_STRING, loaders, 0, 0, "auto",
	    "auto = copy boot loaders (pxelinux, syslinux, iPXE, GRUB, shim) from installed packages into the boot root; off = leave it alone"),
	KEY("dhcp_dir", CONF_STRING, dhcp_dir, 0, 0, "",
	    "DHCP lease store directory (absolute path); empty = STATE_DIR/dhcp"),
	KEY("dhcp_probe_timeout", CONF_INT, dhcp_probe_timeout, 10, 10000, "300",
	    "milliseconds to wait for an answer to the ARP/ICMP probe of an address before offering it"),
	KEY("dhcp_commit_interval", CONF_INT, dhcp_commit_interval, 0, 100, "5",
	    "least milliseconds between two lease journal commits (write + fdatasync): one fdatasync covers every "
	    "lease of the interval; the next datagram after it starts the commit, or with none a timer half an "
	    "interval later, so an ACK waits up to 1.5 times this much longer; 0 = commit at once"),
	KEY("dhcp_rx_coalesce", CONF_INT, dhcp_rx_coalesce, 0, 10000, "1000",
	    "microseconds between two reads of a DHCP socket while datagrams keep coming: one wake-up then takes "
	    "several, a request waits at most this much longer, and a datagram after a lull is read at once; 0 = "
	    "wake on every datagram"),
	KEY("power_concurrency", CONF_INT, power_concurrency, 1, 4096, "64",
	    "BMC calls (power actions and polls) running at once; a machine never has more than one"),
	KEY("power_timeout", CONF_DURATION, power_timeout, 1, 3600, "30s",
	    "time a power action may take, retries included, before it fails as a timeout"),
	KEY("power_attempts", CONF_INT, power_attempts, 1, 10, "3",
	    "tries of a power action whose BMC answers busy or drops the session"),
	KEY("agent_hold_timeout", CONF_DURATION, agent_hold_timeout, 1, 600, "25s",
	    "how long a machine agent's report waits for the region (held while it is away) before the agent is told "
	    "503 and posts it again"),
	KEY("discovery", CONF_BOOL, discovery, 0, 0, "on",
	    "passive discovery: watch ARP and mDNS on the served DHCP interfaces (and discovery_interfaces) and report "
	    "who uses which address to the region"),
	KEY("discovery_interfaces", CONF_LIST, discovery_interfaces, 0, 0, "",
	    "more interfaces to observe only (no DHCP served there); the served DHCP interfaces are always observed"),
	KEY("discovery_rate", CONF_INT, discovery_rate, 1, 100000, "100",
	    "discovery events per second per interface reported to the region; more are dropped and counted"),
	KEY("discovery_burst", CONF_INT, discovery_burst, 1, 1000000, "500",
	    "discovery events per interface reported at once before discovery_rate applies"),
	KEY("discovery_refresh", CONF_DURATION, discovery_refresh, 60, 86400, "10m",
	    "an address seen again with nothing changed is reported again (REFRESHED) after this long"),
	KEY("discovery_scan_rate", CONF_INT, discovery_scan_rate, 1, 10000, "100",
	    "ARP requests per second the active scan sends, all subnets together (the region says which subnets)"),
	KEY("ha_listen", CONF_STRING, ha_listen, 0, 0, "0.0.0.0:5251",
	    "DHCP HA partner link: address:port the rack listens on as the secondary of a pair (its own namespace, "
	    "not netns: the management network); empty = the rack takes no HA role"),
	KEY("ha_advertise", CONF_STRING, ha_advertise, 0, 0, "",
	    "host:port the HA partner dials to reach ha_listen when the address the region sees is not it (NAT); "
	    "empty = that address and ha_listen's port"),
	KEY("ha_heartbeat_ms", CONF_INT, ha_heartbeat_ms, 50, 60000, "1000",
	    "DHCP HA: milliseconds between the state messages a rack sends its partner"),
	KEY("ha_timeout_ms", CONF_INT, ha_timeout_ms, 200, 600000, "5000",
	    "DHCP HA: a partner silent this long is dropped and redialled (longer than ha_heartbeat_ms)"),
	KEY("ha_mclt", CONF_DURATION, ha_mclt_s, 1, 7 * 86400, "1h",
	    "DHCP HA: maximum client lead time, how far past what the partner knows a lease may be promised "
	    "while the partner cannot be reached (docs/dhcp-ha.md)"),
	KEY("ha_rebalance", CONF_BOOL, ha_rebalance, 0, 0, "on",
	    "DHCP HA: in NORMAL, a rack whose free share of a range falls below half of its partner's asks the "
	    "partner for some of its free addresses"),
};

/* clang-format on */
const size_t rack_conf_keys_n = sizeof(rack_conf_keys) / sizeof(rack_conf_keys[0]);
