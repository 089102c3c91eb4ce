/* The DHCPv4 configuration a rack serves, as the region pushes it: plain,
 * immutable structs. A config is built by the loader (region push -> these
 * structs; not part of this module), checked once by dhcp_config_validate(),
 * and then swapped in whole (nginx-style reload): the engine only ever reads
 * it, and a config that fails validation is never served — the rack keeps
 * the old one and reports the message.
 *
 * Addresses are IPv4 in host byte order (uint32_t), so ranges are plain
 * integer intervals. Every pointer in the tree is owned by whoever built
 * the config (the loader, or a test's static data); nothing here frees.
 *
 * Lookup helpers used by the engine are here too, since they answer
 * questions about the config alone (which subnet holds this address, which
 * boot file for this architecture). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire/dhcp4.h" /* DHCP4_ARCH_*, DHCP4_SNIPPET_MAX */

#define DHCP_DEFAULT_LEASE_TIME 600  /* seconds, as MAAS: default-lease-time 600 */
#define DHCP_PXE_LEASE_TIME	30   /* MAAS's class "PXE" gives PXE clients 30 s leases */
#define DHCP_DEFAULT_OFFER_HOLD 60   /* an offered address stays held for the client this long */
#define DHCP_DEFAULT_QUARANTINE 3600 /* a DECLINEd or probed-in-use address is not offered for this long */
#define DHCP_HTTP_BOOT_PORT	5248 /* the rack's HTTP boot server */
#define DHCP_MTU_DEFAULT	1500 /* option 26 is sent only for another MTU */
#define DHCP_HOSTNAME_MAX	63
#define DHCP_HA_TAKEOVER_SECS	10   /* RFC 3074 service delay before answering the partner's clients */
#define DHCP_HA_MCLT		3600 /* maximum client lead time (docs/dhcp-ha.md "Terms") */
#define DHCP_HA_TIMEOUT		10   /* partner timeout, seconds, until the HA service says otherwise */
#define DHCP_HA_MAX_SKEW	5    /* clock difference the pair tolerates (rule 8) */

/* One extra option, pre-encoded by the region (it validated and encoded
 * the (code, type, value) triple; the rack checks it again). */
struct dhcp_snippet {
	uint8_t code;
	uint16_t len; /* <= DHCP4_SNIPPET_MAX; 0 allowed (flag options) */
	const uint8_t *data;
};

struct dhcp_snippets {
	const struct dhcp_snippet *v;
	size_t n;
};

/* A classless static route, option 121 (RFC 3442). */
struct dhcp_route {
	uint32_t dest;
	uint8_t prefix_len; /* 0..32; dest must have no host bits */
	uint32_t gateway;
};

/* A dynamic range: the only place dynamic leases come from. */
struct dhcp_range {
	uint32_t id;	      /* the region's id; stored in leases (range_id) */
	uint32_t first, last; /* inclusive */
	struct dhcp_snippets snippets;
};

/* A host reservation: this MAC always gets this address. */
struct dhcp_host {
	uint8_t mac[6];
	uint32_t addr;	      /* in the subnet, outside every dynamic range */
	const char *hostname; /* option 12, or NULL */
	struct dhcp_snippets snippets;
};

struct dhcp_subnet {
	uint32_t id; /* the region's subnet id; stored in leases (subnet_id) and events */
	uint32_t network;
	uint8_t prefix_len; /* 8..30 */
	/* The rack's own address on this subnet: server id (54) and
	 * next-server for on-link clients. 0 = the address of the interface
	 * the request came in on (always the case for relayed subnets). */
	uint32_t server_addr;
	uint32_t router;     /* option 3; 0 = none */
	const uint32_t *dns; /* option 6 */
	size_t n_dns;
	const char *domain;  /* option 15, or NULL */
	const uint32_t *ntp; /* option 42 */
	size_t n_ntp;
	uint16_t mtu;			 /* option 26 when != 1500; 0 = not set */
	const struct dhcp_route *routes; /* option 121 */
	size_t n_routes;
	uint32_t lease_time; /* seconds; 0 = config default */
	const struct dhcp_range *ranges;
	size_t n_ranges;
	const struct dhcp_host *hosts;
	size_t n_hosts;
	struct dhcp_snippets snippets;
	const uint16_t *disabled_arches; /* option 93 values that get no boot file here */
	size_t n_disabled_arches;
	/* Key leases by option 61 when the client sends one (Kea's
	 * match-client-id); false: by chaddr, as MAAS (see engine.h). */
	bool match_client_id;
};

/* DHCP HA (docs/dhcp-ha.md): the VLAN of an interface is served by a
 * pair of racks. The loader fills role and takeover_secs from the
 * region's pair; the server keeps the rest current as the pair's state
 * changes — the one part of a config that is not immutable. The engine
 * only reads it (rack/dhcp/engine_ha.c). */
struct dhcp_ha {
	uint8_t role;		/* enum ha_role (rack/dhcp/ha_hash.h) */
	uint16_t takeover_secs; /* answer the partner's clients once secs exceeds this (RFC 3074); 0 = never */
	/* The pair's state, set by the server. */
	uint8_t state;	   /* enum ha_state (rack/dhcp/ha_state.h); RECOVER until told otherwise */
	bool takeover;	   /* PARTNER-DOWN past the MCLT: the partner's share is ours too */
	int64_t mclt_s;	   /* maximum client lead time */
	int64_t timeout_s; /* the partner timeout (reuse wait in NORMAL) */
	int64_t skew_s;	   /* clock difference the pair tolerates */
};

/* A served interface (one VLAN). subnets are on the link; relayed are
 * the subnets of VLANs whose relay VLAN is this one — requests for them
 * arrive through a relay agent (giaddr) and are matched by giaddr or by
 * option 82 link selection, never by the arrival interface alone. */
struct dhcp_iface {
	const char *name; /* kernel interface name; the rack serves only these */
	uint16_t vid;	  /* VLAN id, for events; 0 = untagged */
	const struct dhcp_subnet *subnets;
	size_t n_subnets;
	const struct dhcp_subnet *relayed;
	size_t n_relayed;
	struct dhcp_ha *ha; /* NULL: this rack serves the VLAN alone */
};

/* Boot file per client architecture (option 93). */
struct dhcp_boot_file {
	uint16_t arch;
	/* A TFTP path ("pxelinux.0", "bootx64.efi"), or with http set a path
	 * on the rack's HTTP boot server, sent as a URL
	 * "http://<rack address>:<http_port>/<file>" (UEFI HTTP boot). */
	const char *file;
	bool http;
};

struct dhcp_pxe {
	bool enabled;
	const struct dhcp_boot_file *files;
	size_t n_files;
	uint16_t http_port;  /* 0 = DHCP_HTTP_BOOT_PORT */
	uint32_t lease_time; /* PXE clients' lease; 0 = DHCP_PXE_LEASE_TIME */
};

struct dhcp_config {
	uint64_t version;
	const struct dhcp_iface *ifaces;
	size_t n_ifaces;
	struct dhcp_snippets snippets; /* global scope */
	struct dhcp_pxe pxe;
	uint32_t lease_time;	  /* default for subnets without one; 0 = DHCP_DEFAULT_LEASE_TIME */
	uint32_t offer_hold;	  /* 0 = DHCP_DEFAULT_OFFER_HOLD */
	uint32_t quarantine_time; /* 0 = DHCP_DEFAULT_QUARANTINE */
	bool probe;		  /* ask the shell to ARP-probe a dynamic address before offering it */
};

/* Check everything the engine relies on: -EINVAL and a one-line reason in
 * why (always NUL-terminated) for: duplicate or unnamed interfaces,
 * subnets that overlap anywhere in the config (subnet selection must be
 * unambiguous), bad prefix lengths, a router or rack address outside its
 * subnet, routes with host bits, ranges that are reversed, leave the subnet, include the network
 * or broadcast address, the router or the rack's address, or overlap one
 * another; reservations outside their subnet, on the network/broadcast
 * address, inside a dynamic range (MAAS assigns static addresses outside
 * dynamic ranges; an address in a range could be leased dynamically to
 * someone else first), duplicated by address or MAC, with a bad hostname;
 * snippets with a code the engine owns (0, 255, 50-55, 57-59, 61, 82)
 * or too long (a snippet may replace any other option, e.g. 6 or 67:
 * the narrowest scope wins, and snippets win over built-in options); boot files missing or with odd characters; an MTU
 * below 68. */
int dhcp_config_validate(const struct dhcp_config *cfg, char *why, size_t why_len);

const struct dhcp_iface *dhcp_config_iface(const struct dhcp_config *cfg, const char *name);

/* The subnet holding addr, searching every interface's on-link and
 * relayed subnets (giaddr and link selection name a link, not a rack
 * interface). NULL if none. */
const struct dhcp_subnet *dhcp_config_subnet_of(const struct dhcp_config *cfg, uint32_t addr);
/* The on-link subnet of iface holding addr, or NULL. */
const struct dhcp_subnet *dhcp_iface_subnet_of(const struct dhcp_iface *ifc, uint32_t addr);

bool dhcp_subnet_contains(const struct dhcp_subnet *s, uint32_t addr);
uint32_t dhcp_subnet_mask(const struct dhcp_subnet *s);
uint32_t dhcp_subnet_broadcast(const struct dhcp_subnet *s);
const struct dhcp_range *dhcp_subnet_range_of(const struct dhcp_subnet *s, uint32_t addr);
const struct dhcp_host *dhcp_subnet_host_by_mac(const struct dhcp_subnet *s, const uint8_t mac[6]);
const struct dhcp_host *dhcp_subnet_host_by_addr(const struct dhcp_subnet *s, uint32_t addr);
bool dhcp_subnet_arch_disabled(const struct dhcp_subnet *s, uint16_t arch);

/* The boot file entry for an architecture, or NULL (unknown arch). */
const struct dhcp_boot_file *dhcp_pxe_boot_file(const struct dhcp_pxe *pxe, uint16_t arch);

/* Effective values with defaults applied. */
uint32_t dhcp_config_lease_time(const struct dhcp_config *cfg, const struct dhcp_subnet *s);
uint32_t dhcp_config_pxe_lease_time(const struct dhcp_config *cfg);
uint32_t dhcp_config_offer_hold(const struct dhcp_config *cfg);
uint32_t dhcp_config_quarantine_time(const struct dhcp_config *cfg);
