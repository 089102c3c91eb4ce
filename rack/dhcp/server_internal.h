/* Shared between the DHCP server's files (server.c: lifecycle, verdicts,
 * held replies, commit and timers; server_apply.c: config swaps;
 * server_io.c: sockets, receive, send; probe.c: ARP/ICMP conflict probes;
 * external.c: external DHCP detection). Not an API: nothing outside
 * rack/dhcp/server*.c, probe.c and external.c includes it, except
 * tests/unit/test_dhcp_server.c, which fakes struct dhcp_server_io, and
 * tests/unit/test_dhcp_sock.c, which drives server_io.c's real sockets. */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/wire/dhcp4.h"
#include "common/wire/rawpkt.h"
#include "rack/dhcp/server.h"

struct event;

#define DHCP_SRV_BATCH	       64   /* datagrams per readable event */
#define DHCP_SRV_RX_BUF	       4096 /* one received datagram */
#define DHCP_SRV_TX_BUF	       4096 /* one encoded reply */
#define DHCP_SRV_RAW_BUF       (RAWPKT_IP_HDR_LEN + RAWPKT_UDP_HDR_LEN + DHCP_SRV_TX_BUF) /* ... as IPv4 */
#define DHCP_SRV_PROBES_MAX    256 /* conflict probes in flight */
#define DHCP_SRV_RCVBUF	       (4 << 20)
#define DHCP_SRV_COMPACT_BYTES (8u << 20)
#define DHCP_SRV_EXT_WAIT_S    2 /* how long an external probe round collects offers */
#define DHCP_SRV_EXT_FIRST_S   2 /* first round this long after apply */
#define DHCP_SRV_EXT_SERVERS   16

/* external.c's narrow view of the server. */
struct dhcp_ext_ops {
	uint32_t (*interval_s)(void *arg); /* 0: detection is off */
	bool (*is_own_addr)(void *arg, uint32_t addr);
	bool (*warn_allowed)(void *arg);
	/* A round on ifname ended; may apply a new config (and free the sock). */
	void (*on_result)(void *arg, const char *ifname, uint16_t vid, uint64_t vlan_id, const uint32_t *servers,
			  size_t n);
};

/* External DHCP detection state of one interface (external.c). */
struct dhcp_ext {
	const struct dhcp_ext_ops *ops;
	void *arg;
	struct dhcp4_msg *msg; /* the round's DISCOVER, then each offer; NULL between rounds */
	struct event *timer;   /* next round start, or the end of the current one */
	struct event *ev;      /* the round's socket is readable */
	int fd;		       /* port-68 socket while a round runs, else -1 */
	uint32_t xid;
	size_t n_servers;
	uint32_t servers[DHCP_SRV_EXT_SERVERS];
};

struct dhcp_sock;

/* ---- server_io.c: the sockets, a leaf like systemd's dhcp-network.c ----
 * It opens, reads and writes sockets and hands what it reads to the
 * callbacks; it knows neither the engine nor the lease store. */

/* One datagram read on a port-67 socket; buf lives until the callback
 * returns. */
struct dhcp_datagram {
	const uint8_t *buf;
	size_t len;
	bool truncated;		       /* longer than DHCP_SRV_RX_BUF: not in buf whole */
	const struct in_pktinfo *pi;   /* NULL: the kernel gave none */
	const struct sockaddr_in *src; /* the sender; NULL: unknown */
};

/* One IPv4 frame from the interface's release socket: unicast UDP to
 * port 67 from a client on the link (giaddr 0), with its Ethernet source.
 * buf (the IPv4 header on) lives until the callback returns. */
struct dhcp_frame {
	const uint8_t *buf;
	size_t len;
	uint8_t src_mac[6];
	bool csum_unchecked; /* the UDP checksum is not to be trusted nor checked (offload) */
};

struct dhcp_sock_ops {
	void (*on_datagram)(void *arg, struct dhcp_sock *sock, const struct dhcp_datagram *dg);
	/* After each readable event's datagrams; err = -errno of a failed
	 * read (not EAGAIN), else 0. */
	void (*on_batch_end)(void *arg, struct dhcp_sock *sock, int err);
	/* The interface's ARP socket is readable. */
	void (*on_arp_readable)(void *arg, struct dhcp_sock *sock);
	/* A frame from the release socket (after its frames, on_batch_end). */
	void (*on_frame)(void *arg, struct dhcp_sock *sock, const struct dhcp_frame *f);
};

/* What every socket of one server shares (embedded in the server). */
struct dhcp_net {
	struct event_base *base;
	int nsfd; /* netns_open() result, or -1 */
	const struct dhcp_sock_ops *ops;
	void *arg;
	uint8_t (*rx_bufs)[DHCP_SRV_RX_BUF];   /* DHCP_SRV_BATCH of them */
	uint8_t (*raw_bufs)[DHCP_SRV_RAW_BUF]; /* DHCP_SRV_BATCH: IPv4 packets to chaddr, sent together */
	uint16_t ip_id;			       /* of raw IPv4 packets sent to chaddr */
	/* > 0: after a batch, read the UDP socket again this many
	 * microseconds later instead of on its next datagram, until a read
	 * finds none (server_io.c, sock_readable). */
	int64_t rx_coalesce_us;
};

/* One reply to send: encoded DHCP message and where it goes. */
struct dhcp_tx {
	enum dhcp_dest dest;
	uint32_t dest_addr; /* host order */
	uint16_t dest_port;
	uint32_t src_addr; /* IP source for a CHADDR send (host order) */
	uint8_t chaddr[6];
	uint8_t type; /* DHCP4_OFFER / ACK / NAK, 0 = nothing to send */
	size_t len;
	uint8_t buf[DHCP_SRV_TX_BUF];
};

/* The sockets of one served interface, kept across applies while the
 * interface stays in the config. */
struct dhcp_sock {
	struct dhcp_net *net;
	char name[IFNAMSIZ];
	int ifindex;
	uint8_t mac[6];
	bool has_mac;
	uint32_t local_addr; /* host order; 0 = unknown (refreshed on demand) */
	uint16_t vid;
	uint64_t vlan_id;
	int udp_fd; /* 0.0.0.0:67 bound to the device */
	struct event *udp_ev;
	struct event *udp_poll; /* net->rx_coalesce_us: the next read, while datagrams keep coming */
	int pkt_fd;		/* AF_PACKET SOCK_DGRAM, send only: replies to chaddr */
	/* AF_PACKET SOCK_DGRAM ETH_P_IP with a filter for unicast UDP to port
	 * 67 without giaddr: a RELEASE's frame source, which the UDP socket
	 * does not tell (a RELEASE is honoured only from its lease's MAC). */
	int rel_fd;
	struct event *rel_ev;
	int arp_fd; /* AF_PACKET SOCK_DGRAM ETH_P_ARP: probes; -1 unless cfg.probe */
	struct event *arp_ev;
	struct dhcp_ext ext;
};

/* A reply held until the lease change it promises is durable
 * (commit_seq <= lease_store_durable_seq), with the events to report
 * then. Kept across callbacks while the group commit runs. */
struct dhcp_held_reply {
	struct dhcp_sock *sock; /* NULL: events only */
	char ifname[IFNAMSIZ];
	int64_t commit_seq;
	struct dhcp_tx tx;
	uint64_t ha_vlan; /* != 0: also waits for the HA partner's ack of commit_seq */
	size_t n_events;
	struct dhcp_event events[DHCP_EVENTS_MAX];
};

/* The server's seam to the outside, for tests: real sockets and a worker
 * thread unless dhcp_server_conf.io gives fakes. */
struct dhcp_server_io {
	int (*sock_open)(struct dhcp_net *net, const char *name, bool want_arp, struct dhcp_sock **ret, char *why,
			 size_t why_len);
	void (*sock_free)(struct dhcp_sock *sock);
	/* 0 sent, or -errno; *ret_chaddr_err: a CHADDR send failed with it
	 * and the reply was broadcast instead (0: no fallback). */
	int (*send)(struct dhcp_sock *sock, const struct dhcp_tx *tx, int *ret_chaddr_err);
	/* Run the group commit: run(arg) off the loop, then done(arg, false)
	 * on the loop (done(arg, true) when cancelled at free). */
	void (*commit)(void *io_arg, void (*run)(void *arg), void (*done)(void *arg, bool cancelled), void *arg);
	void *io_arg;
	/* Optional: send n (at most DHCP_SRV_BATCH) replies through one
	 * socket at once; ret[i] and ret_chaddr_err[i] as send's. NULL: send
	 * is called for each. */
	void (*send_many)(struct dhcp_sock *sock, const struct dhcp_tx *const *tx, size_t n, int *ret,
			  int *ret_chaddr_err);
};

/* One conflict probe in flight. Owns a copy of everything it needs, so a
 * config swap or a closed socket cannot leave it dangling: the interface
 * is found again by name when the probe ends. */
struct dhcp_probe {
	struct dhcp_probes *set;
	struct event *timer;
	size_t slot; /* index in set->all */
	char ifname[IFNAMSIZ];
	struct dhcp_rx_info rx; /* rx.ifname points at ifname */
	uint32_t addr;		/* probed address (host order) */
	bool relayed;		/* ICMP, else ARP */
	uint16_t icmp_seq;
	uint8_t chaddr[DHCP4_CHADDR_LEN];
	uint8_t hlen;
	struct dhcp4_msg req;
};

/* probe.c's narrow view of the server: the outcome of each probe. */
struct dhcp_probe_ops {
	/* The probe of p->addr ended (in_use: someone answered). The callee
	 * owns p: it frees it or probes again with dhcp_probe_start(). */
	void (*on_done)(void *arg, struct dhcp_probe *p, bool in_use);
};

/* The probes in flight and their ICMP socket (embedded in the server,
 * owned by probe.c). */
struct dhcp_probes {
	struct event_base *base;
	int nsfd;
	int64_t timeout_ms;
	const struct dhcp_probe_ops *ops;
	void *arg;
	int icmp_fd; /* raw ICMP for probes across relays; -1 unless cfg.probe */
	struct event *icmp_ev;
	uint16_t icmp_id;
	uint16_t icmp_seq;
	struct dhcp_probe *all[DHCP_SRV_PROBES_MAX];
	size_t n;
};

struct dhcp_server {
	struct event_base *base;
	const struct dhcp_server_ops *ops;
	void *arg;
	struct dhcp_server_io io;
	struct dhcp_net net; /* nsfd, scratch receive buffers, socket callbacks */
	char *lease_dir;
	struct lease_store_config store_cfg;
	struct lease_store *leases;
	struct dhcp_loaded *loaded; /* NULL: not serving */

	struct dhcp_sock **socks;
	size_t n_socks;

	struct dhcp_probes probes;

	struct event *tick; /* reclaim + compaction, every second */
	bool tick_due;	    /* the last one came during a flush: run it when that ends */
	bool compact_due;   /* the next flush carries a compaction */
	uint64_t compact_bytes;
	int64_t compact_build_us; /* the snapshot of the flush in flight, built on the loop */
	int64_t compact_retry_ms; /* none before (monotonic ms): the last one failed */

	/* Scratch, one of each: large structs never go on the stack. */
	struct dhcp4_msg req;
	struct dhcp_decision dec;
	struct dhcp_held_reply *held; /* replies and events waiting for their commit */
	size_t n_held, held_cap;

	/* Group commit off the loop: one flush (write + fdatasync) at a time
	 * on a worker thread, while the loop goes on receiving and staging
	 * the next batch. */
	struct work_pool *flusher;
	struct lease_flush flush_tok;
	bool flushing;
	int64_t commit_interval_us, last_commit_us; /* commits spaced this far apart */
	struct event *commit_timer;		    /* the next one, when it waits for the interval */

	/* Rate limit for warnings (send failures and the like). */
	int64_t warn_second;
	unsigned warn_lines, warn_suppressed;

	struct dhcp_server_stats stats;

	/* DHCP HA (server_ha.c) */
	struct dhcp_ha_vlan **ha;
	size_t n_ha;
	const struct dhcp_ha_ops *ha_ops;
	void *ha_arg;
	bool ha_applying;     /* staging the partner's records: not sent back to it */
	bool ha_applied_once; /* a config was applied since start (a new pairing after that is no restart) */
	/* VLANs that left their pair while it was not NORMAL (or before this
	 * rack knew its state): the partner's share becomes ours only at
	 * `at` (monotonic us), when no lease it gave alone can still run. */
	struct ha_deferred {
		uint64_t vlan_id;
		int64_t at;
	} * ha_deferred;
	size_t n_ha_deferred;
	int64_t ha_mclt_s; /* the rack's ha_mclt: the wait when the pair's own is not known */
};

/* server.c */
bool dhcp_server_warn_allowed(struct dhcp_server *s);
struct dhcp_sock *dhcp_server_sock(struct dhcp_server *s, const char *name);
bool dhcp_server_is_own_mac(const struct dhcp_server *s, const uint8_t *chaddr, uint8_t hlen);
bool dhcp_server_is_own_addr(const struct dhcp_server *s, uint32_t addr);
/* Act on a verdict of the engine for req/rx (reply -> held, probe ->
 * start one, events -> held). probe is the probe this came from, or
 * NULL. */
void dhcp_server_dispatch(struct dhcp_server *s, struct dhcp_sock *sock, const struct dhcp4_msg *req,
			  const struct dhcp_rx_info *rx, int verdict, struct dhcp_probe *probe);
/* Commit what is staged (at once, or when commit_interval_us since the
 * last commit has passed: at the first call after that, or by the timer
 * half an interval later), then send what may go and report events. */
void dhcp_server_flush(struct dhcp_server *s);
/* The socket is going away: replies held for it are dropped (their
 * events are still reported). */
void dhcp_server_forget_sock(struct dhcp_server *s, const struct dhcp_sock *sock);

/* server_ha.c */
/* After an apply: follow the new config's HA VLANs (state kept per VLAN,
 * copied into the config; a secondary's never-split ranges held back until
 * the first sync; ranges of a VLAN no longer in a pair all ours again). */
void dhcp_server_ha_applied(struct dhcp_server *s);
/* The HA VLAN a reply through sock waits for (0: none). */
uint64_t dhcp_server_ha_wait_vlan(const struct dhcp_server *s, const struct dhcp_sock *sock);
/* May a reply waiting for vlan's ack of seq go? */
bool dhcp_server_ha_acked_seq(const struct dhcp_server *s, uint64_t vlan_id, uint64_t seq);
/* A group commit took the batch: send the staged records to the partner. */
void dhcp_server_ha_commit_begin(struct dhcp_server *s);
void dhcp_server_ha_free_all(struct dhcp_server *s);
/* Every second (server_tick): a deferred share whose wait is over is ours. */
void dhcp_server_ha_tick(struct dhcp_server *s);
/* The index of vlan_id's interface in the config served, or -1. */
ssize_t dhcp_server_ha_iface_of_vlan(const struct dhcp_server *s, uint64_t vlan_id);
/* Are both ends of r owner's in the pool-owner map? (Both ours: not split
 * yet; both the partner's: held back until the first sync.) */
bool dhcp_server_ha_ends_owned_by(struct dhcp_server *s, const struct dhcp_range *r, enum lease_owner owner);

/* server_io.c */
int dhcp_sock_open(struct dhcp_net *net, const char *name, bool want_arp, struct dhcp_sock **ret, char *why,
		   size_t why_len);
int dhcp_sock_open_arp(struct dhcp_net *net, struct dhcp_sock *sock, int *ret_fd, char *why, size_t why_len);
void dhcp_sock_attach_arp(struct dhcp_sock *sock, int fd);
void dhcp_sock_free(struct dhcp_sock *sock);
void dhcp_sock_refresh(struct dhcp_sock *sock);
int dhcp_sock_send(struct dhcp_sock *sock, const struct dhcp_tx *tx, int *ret_chaddr_err);
void dhcp_sock_send_many(struct dhcp_sock *sock, const struct dhcp_tx *const *tx, size_t n, int *ret,
			 int *ret_chaddr_err);

/* probe.c: knows the probes, the sockets it sends on, and nothing of the
 * engine or the lease store (the outcome goes to ops->on_done). */
void dhcp_probes_init(struct dhcp_probes *set, struct event_base *base, int nsfd, int64_t timeout_ms,
		      const struct dhcp_probe_ops *ops, void *arg);
bool dhcp_probe_client_busy(const struct dhcp_probes *set, const struct dhcp4_msg *req);
/* Start (probe == NULL) or continue probing for req. Returns 0, or -errno
 * when the probe cannot be sent (then the caller treats it as free). */
int dhcp_probe_start(struct dhcp_probes *set, struct dhcp_sock *sock, const struct dhcp4_msg *req,
		     const struct dhcp_rx_info *rx, uint32_t addr, bool relayed, struct dhcp_probe *probe);
void dhcp_probe_free(struct dhcp_probe *p);
void dhcp_probe_cancel_all(struct dhcp_probes *set);
int dhcp_probe_icmp_open(struct dhcp_probes *set, int *ret_fd);
void dhcp_probe_icmp_attach(struct dhcp_probes *set, int fd);
void dhcp_probe_arp_readable(struct dhcp_probes *set, struct dhcp_sock *sock);

/* external.c: knows the interface's sockets and ops, nothing else of the
 * server. schedule: first round in delay_s unless one is planned. */
void dhcp_ext_schedule(struct dhcp_sock *sock, int delay_s, const struct dhcp_ext_ops *ops, void *arg);
void dhcp_ext_stop(struct dhcp_sock *sock);
