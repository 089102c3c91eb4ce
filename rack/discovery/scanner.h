/* Active discovery's shell (issue 17): the pacing engine (scan.h) on the
 * rack's event loop, sending its ARP requests through one packet socket
 * per interface, made in the rack's network namespace (rack/netns.h). The
 * answers are frames the interface receives, so the discovery capture
 * (capture.h) sees them and the neighbour table reports them like any
 * other sighting; the scanner itself reads nothing.
 *
 * The socket is a raw AF_PACKET socket with protocol 0 (it receives
 * nothing), opened when a scan first needs the interface; its index and
 * MAC are read through the socket itself, so they are the namespace's.
 * Needs CAP_NET_RAW (and CAP_SYS_ADMIN with a namespace), as the capture
 * does. Probes go out untagged on the interface the DhcpConfig names (a
 * VLAN is served on its own sub-interface). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ironrack/v1/region.pb-c.h"

struct event_base;
struct disc_scanner;

/* rate: ARP requests per second (discovery_scan_rate). nsfd: the
 * namespace (netns_open), -1 the caller's; borrowed, kept open by the
 * caller. NULL for a bad rate. */
struct disc_scanner *disc_scanner_new(struct event_base *base, int nsfd, uint32_t rate);
void disc_scanner_free(struct disc_scanner *s);

/* The subnets a committed config lets the rack scan (NULL: none). */
void disc_scanner_config(struct disc_scanner *s, const Ironrack__V1__DhcpConfig *dhcp);

/* On demand: scan subnet_id now. Returns an RPC status code (RPC_OK,
 * RPC_NOT_FOUND when it is not a target of the current config, or when
 * cidr, if given, differs from the config's) with what happens in msg. */
int disc_scanner_request(struct disc_scanner *s, uint64_t subnet_id, const char *cidr, const char *who, char *msg,
			 size_t msg_len);
