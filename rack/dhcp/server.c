/* The DHCPv4 server: lifecycle, acting on engine verdicts, replies held
 * for the group commit, and the reclaim/compaction timer; see server.h.
 * Config swaps are in server_apply.c, sockets in server_io.c, conflict
 * probes in probe.c, external DHCP detection in external.c. */
#include "rack/dhcp/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/wire/rawpkt.h"
#include "common/work.h"
#include "rack/dhcp/server_internal.h"

#define WARNINGS_PER_S 20
#define RECLAIM_BATCH  64
#define HELD_INITIAL   (DHCP_SRV_BATCH + 8)

bool dhcp_server_warn_allowed(struct dhcp_server *s)
{
	int64_t sec = clock_mono_ms() / 1000;

	if (sec != s->warn_second) {
		if (s->warn_suppressed)
			log_warn("dhcp: %u more warnings were not logged", s->warn_suppressed);
		s->warn_second = sec;
		s->warn_lines = 0;
		s->warn_suppressed = 0;
	}
	if (s->warn_lines < WARNINGS_PER_S) {
		s->warn_lines++;
		return true;
	}
	s->warn_suppressed++;
	return false;
}

struct dhcp_sock *dhcp_server_sock(struct dhcp_server *s, const char *name)
{
	for (size_t i = 0; i < s->n_socks; i++)
		if (strcmp(s->socks[i]->name, name) == 0)
			return s->socks[i];
	return NULL;
}

bool dhcp_server_is_own_mac(const struct dhcp_server *s, const uint8_t *chaddr, uint8_t hlen)
{
	if (hlen != 6)
		return false;
	for (size_t i = 0; i < s->n_socks; i++)
		if (s->socks[i]->has_mac && memcmp(s->socks[i]->mac, chaddr, 6) == 0)
			return true;
	return false;
}

bool dhcp_server_is_own_addr(const struct dhcp_server *s, uint32_t addr)
{
	for (size_t i = 0; i < s->n_socks; i++)
		if (s->socks[i]->local_addr == addr)
			return true;
	if (!s->loaded)
		return false;
	const struct dhcp_config *cfg = &s->loaded->cfg;
	for (size_t i = 0; i < cfg->n_ifaces; i++) {
		const struct dhcp_iface *ifc = &cfg->ifaces[i];
		for (size_t j = 0; j < ifc->n_subnets; j++)
			if (ifc->subnets[j].server_addr == addr)
				return true;
		for (size_t j = 0; j < ifc->n_relayed; j++)
			if (ifc->relayed[j].server_addr == addr)
				return true;
	}
	return false;
}

/* ---- the lease store ---------------------------------------------------- */

static int server_store_open(struct dhcp_server *s)
{
	struct lease_replay_stats st;
	int r = lease_store_open(&s->store_cfg, &s->leases, &st);

	if (r < 0) {
		s->leases = NULL;
		log_err("dhcp: cannot open the lease store in %s: %s", s->lease_dir, strerror(-r));
		return r;
	}
	log_info("dhcp: lease store %s: %llu leases (%llu from snapshot, %llu journal records, %llu skipped), "
		 "seq %llu",
		 s->lease_dir, (unsigned long long)lease_store_count(s->leases),
		 (unsigned long long)st.snapshot_records, (unsigned long long)st.journal_records,
		 (unsigned long long)st.journal_skipped, (unsigned long long)st.seq);
	if (st.truncated_bytes)
		log_warn("dhcp: lease journal: cut %llu bytes of an incomplete tail",
			 (unsigned long long)st.truncated_bytes);
	if (st.corrupt)
		log_err("dhcp: lease journal was corrupt before its end; copy kept as leases.journal.corrupt");
	if (st.stale_tmp)
		log_info("dhcp: removed the temporary file of an interrupted compaction");
	if (s->ha_ops)
		dhcp_server_set_ha_ops(s, s->ha_ops, s->ha_arg);
	return 0;
}

/* The store is poisoned (a write or fdatasync failed): nothing about the
 * journal tail can be trusted in this process, so start again from disk. */
static void server_store_reopen(struct dhcp_server *s)
{
	lease_store_free(s->leases);
	s->leases = NULL;
	if (server_store_open(s) == 0)
		log_warn("dhcp: lease store reopened after a failed write; unacknowledged changes were dropped");
}

/* ---- replies held for durability, and events ------------------------------ */

static struct dhcp_held_reply *held_add(struct dhcp_server *s)
{
	if (s->n_held == s->held_cap) {
		s->held_cap *= 2;
		s->held = xreallocarray(s->held, s->held_cap, sizeof(*s->held));
	}
	struct dhcp_held_reply *p = &s->held[s->n_held++];
	p->sock = NULL;
	p->ifname[0] = '\0';
	p->tx.type = 0;
	p->tx.len = 0;
	p->n_events = 0;
	p->commit_seq = 0;
	p->ha_vlan = 0;
	return p;
}

static uint32_t reply_server_id(const struct dhcp4_msg *reply, uint32_t fallback)
{
	uint32_t sid;

	if (dhcp4_msg_server_id(reply, &sid) == 0 && sid)
		return ntohl(sid);
	return fallback;
}

/* Queue the reply and events of s->dec. */
static void server_queue(struct dhcp_server *s, struct dhcp_sock *sock, const struct dhcp4_msg *req,
			 const struct dhcp_rx_info *rx, int verdict)
{
	const struct dhcp_decision *d = &s->dec;
	bool reply = verdict == DHCP_OFFER || verdict == DHCP_ACK || verdict == DHCP_NAK;

	if (!reply && !d->n_events && d->commit_seq <= 0)
		return;
	struct dhcp_held_reply *p = held_add(s);
	snprintf(p->ifname, sizeof(p->ifname), "%s", rx->ifname ? rx->ifname : "");
	p->commit_seq = d->commit_seq;
	if (reply && d->commit_seq > 0)
		p->ha_vlan = dhcp_server_ha_wait_vlan(s, sock);
	p->n_events = d->n_events;
	memcpy(p->events, d->events, d->n_events * sizeof(d->events[0]));
	if (!reply || !sock)
		return;
	struct dhcp_tx *tx = &p->tx;
	int n = dhcp4_msg_encode(&d->reply, d->max_size, tx->buf, sizeof(tx->buf));
	if (n < 0) {
		if (dhcp_server_warn_allowed(s))
			log_warn("dhcp: %s: cannot encode %s for xid 0x%08x: %s", p->ifname, dhcp_verdict_name(verdict),
				 req->xid, strerror(-n));
		return;
	}
	p->sock = sock;
	tx->type = (uint8_t)verdict;
	tx->len = (size_t)n;
	tx->dest = d->dest;
	tx->dest_addr = d->dest_addr;
	tx->dest_port = d->dest_port;
	tx->src_addr = reply_server_id(&d->reply, rx->local_addr);
	memcpy(tx->chaddr, req->chaddr, sizeof(tx->chaddr));
	if (req->htype != DHCP4_HTYPE_ETHER || req->hlen != 6) {
		if (tx->dest == DHCP_DEST_CHADDR)
			tx->dest = req->ciaddr ? DHCP_DEST_CIADDR : DHCP_DEST_BROADCAST;
	}
}

static void server_log_decision(const struct dhcp_rx_info *rx, const struct dhcp4_msg *req, int verdict,
				const struct dhcp_decision *d)
{
	char addr[INET_ADDRSTRLEN] = "";
	int type = dhcp4_msg_type(req);

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	if (verdict == DHCP_PROBE) {
		struct in_addr a = {htonl(d->probe_addr)};
		inet_ntop(AF_INET, &a, addr, sizeof(addr));
	} else if (verdict == DHCP_OFFER || verdict == DHCP_ACK) {
		struct in_addr a = {d->reply.yiaddr};
		inet_ntop(AF_INET, &a, addr, sizeof(addr));
	}
	log_debug("dhcp: %s: %s from %02x:%02x:%02x:%02x:%02x:%02x xid 0x%08x: %s %s%s%s", rx->ifname,
		  type > 0 ? dhcp4_msg_type_name((unsigned)type) : "BOOTP", req->chaddr[0], req->chaddr[1],
		  req->chaddr[2], req->chaddr[3], req->chaddr[4], req->chaddr[5], req->xid,
		  verdict < 0 ? strerror(-verdict) : dhcp_verdict_name(verdict), addr, d->reason ? " " : "",
		  d->reason ? d->reason : "");
	if (d->n_left_out && verdict > 0)
		log_debug("dhcp: %s: xid 0x%08x: %u options left out to fit %zu bytes", rx->ifname, req->xid,
			  d->n_left_out, d->max_size);
}

void dhcp_server_dispatch(struct dhcp_server *s, struct dhcp_sock *sock, const struct dhcp4_msg *req,
			  const struct dhcp_rx_info *rx, int verdict, struct dhcp_probe *probe)
{
	for (;;) {
		server_log_decision(rx, req, verdict, &s->dec);
		if (verdict < 0) {
			if (verdict == -EIO)
				s->stats.ignored++;
			break;
		}
		server_queue(s, sock, req, rx, verdict);
		if (verdict != DHCP_PROBE)
			break;
		int r = dhcp_probe_start(&s->probes, sock, req, rx, s->dec.probe_addr, s->dec.probe_relayed, probe);
		if (r == 0) {
			s->stats.probes++;
			return; /* the probe owns the request now */
		}
		/* A probe that cannot be sent counts as one that timed out. */
		if (dhcp_server_warn_allowed(s))
			log_warn("dhcp: %s: cannot send a %s probe: %s; offering unprobed", rx->ifname,
				 s->dec.probe_relayed ? "ICMP" : "ARP", strerror(-r));
		verdict = dhcp_engine_probe_done(&s->loaded->cfg, s->leases, req, rx, s->dec.probe_addr, false,
						 time(NULL), &s->dec);
	}
	if (verdict == DHCP_IGNORE)
		s->stats.ignored++;
	dhcp_probe_free(probe);
}

/* A reply went out (r = 0) or could not (-errno): count it, and say why. */
static void server_sent(struct dhcp_server *s, const struct dhcp_held_reply *p, int r, int chaddr_err)
{
	const struct dhcp_tx *tx = &p->tx;
	uint16_t port = tx->dest_port ? tx->dest_port : DHCP4_CLIENT_PORT;

	s->stats.replied++;
	s->stats.offers += tx->type == DHCP_OFFER;
	s->stats.acks += tx->type == DHCP_ACK;
	s->stats.naks += tx->type == DHCP_NAK;
	if (chaddr_err && dhcp_server_warn_allowed(s))
		log_warn("dhcp: %s: unicast to chaddr failed (%s), broadcasting", p->sock->name, strerror(-chaddr_err));
	if (r < 0 && dhcp_server_warn_allowed(s)) {
		struct in_addr a = {htonl(tx->dest == DHCP_DEST_CHADDR ? 0xffffffffu : tx->dest_addr)};
		char text[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a, text, sizeof(text));
		log_warn("dhcp: %s: send %s to %s:%u failed: %s", p->sock->name, dhcp4_msg_type_name(tx->type), text,
			 port, strerror(-r));
	}
}

/* Send n replies (at most DHCP_SRV_BATCH), each run of one socket's at once
 * when the io can. */
static void server_send_batch(struct dhcp_server *s, const struct dhcp_held_reply *const *p, size_t n)
{
	const struct dhcp_tx *tx[DHCP_SRV_BATCH];
	int ret[DHCP_SRV_BATCH], chaddr_err[DHCP_SRV_BATCH];

	for (size_t i = 0; i < n;) {
		size_t run = 1;
		while (i + run < n && p[i + run]->sock == p[i]->sock)
			run++;
		if (s->io.send_many) {
			for (size_t k = 0; k < run; k++)
				tx[k] = &p[i + k]->tx;
			s->io.send_many(p[i]->sock, tx, run, ret, chaddr_err);
		} else {
			for (size_t k = 0; k < run; k++)
				ret[k] = s->io.send(p[i + k]->sock, &p[i + k]->tx, &chaddr_err[k]);
		}
		for (size_t k = 0; k < run; k++)
			server_sent(s, p[i + k], ret[k], chaddr_err[k]);
		i += run;
	}
}

/* A quarantine takes an address out of the pool for an hour: the operator
 * hears of each one (docs/dhcp.md, "Conflicts"), at most WARNINGS_PER_S
 * lines a second. */
static void server_log_conflicts(struct dhcp_server *s, const struct dhcp_held_reply *p)
{
	static const char *const why[] = {"conflict", "declined by its client", "answered an ARP probe",
					  "answered an ICMP echo", "marked by the region"};
	for (size_t i = 0; i < p->n_events; i++) {
		const struct dhcp_event *e = &p->events[i];
		if (e->kind != DHCP_EV_CONFLICT || !dhcp_server_warn_allowed(s))
			continue;
		struct in_addr a = {htonl(e->addr)};
		char text[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a, text, sizeof(text));
		log_warn("dhcp: %s: %s quarantined for %lld s: %s (client %02x:%02x:%02x:%02x:%02x:%02x)", p->ifname,
			 text, (long long)(e->expiry - (int64_t)time(NULL)), why[e->conflict < 5 ? e->conflict : 0],
			 e->chaddr[0], e->chaddr[1], e->chaddr[2], e->chaddr[3], e->chaddr[4], e->chaddr[5]);
	}
}

/* Is p's lease change not durable yet (or not acked by the HA partner)? */
static bool held_waiting(const struct dhcp_server *s, const struct dhcp_held_reply *p, uint64_t durable)
{
	return p->commit_seq > 0 && ((uint64_t)p->commit_seq > durable ||
				     (p->ha_vlan && !dhcp_server_ha_acked_seq(s, p->ha_vlan, (uint64_t)p->commit_seq)));
}

/* Send the replies and report the events whose changes are on disk; hold
 * the rest for the flush in flight. The replies first, DHCP_SRV_BATCH at
 * a time (server_send_batch), then the events. */
static void server_deliver(struct dhcp_server *s)
{
	uint64_t durable = s->leases ? lease_store_durable_seq(s->leases) : 0;
	const struct dhcp_held_reply *out[DHCP_SRV_BATCH];
	size_t kept = 0, n_out = 0;

	for (size_t i = 0; i < s->n_held; i++) {
		const struct dhcp_held_reply *p = &s->held[i];
		if (held_waiting(s, p, durable) || !p->tx.type || !p->sock)
			continue;
		out[n_out++] = p;
		if (n_out == DHCP_SRV_BATCH) {
			server_send_batch(s, out, n_out);
			n_out = 0;
		}
	}
	server_send_batch(s, out, n_out);
	for (size_t i = 0; i < s->n_held; i++) {
		const struct dhcp_held_reply *p = &s->held[i];
		if (held_waiting(s, p, durable)) {
			if (kept != i)
				s->held[kept] = *p;
			kept++;
			continue;
		}
		server_log_conflicts(s, p);
		if (p->n_events && s->ops && s->ops->on_events)
			s->ops->on_events(s->arg, p->ifname, p->events, p->n_events);
	}
	s->n_held = kept;
}

/* A write or fdatasync failed: nothing that waited on it may be sent. */
static void server_commit_failed(struct dhcp_server *s, int r)
{
	uint64_t durable = lease_store_durable_seq(s->leases);
	size_t dropped = 0, kept = 0;

	for (size_t i = 0; i < s->n_held; i++) {
		if (s->held[i].commit_seq > 0 && (uint64_t)s->held[i].commit_seq > durable) {
			dropped++;
			continue;
		}
		s->held[kept++] = s->held[i];
	}
	s->n_held = kept;
	log_err("dhcp: LEASE JOURNAL WRITE FAILED (%s): %zu replies waiting on it dropped, reopening the store",
		strerror(-r), dropped);
	server_store_reopen(s);
}

#define FLUSH_NOT_RUN INT32_MIN

static void flush_work(void *arg)
{
	struct dhcp_server *s = arg;
	lease_flush_run(&s->flush_tok); /* touches only the token */
}

static void server_flush_start(struct dhcp_server *s);
static void server_tick_work(struct dhcp_server *s);

#define COMPACT_RETRY_MS 60000 /* after a failed compaction */

/* A compaction rode on the flush that just ended, whose batch was written
 * (f is its token, after lease_store_flush_done). */
static void server_log_compaction(struct dhcp_server *s, const struct lease_flush *f)
{
	if (f->compact_poison) { /* the store is reopened (server_commit_failed) */
		log_err("dhcp: the lease journal was compacted but its new file cannot be opened: %s",
			strerror(-f->compact_result));
		return;
	}
	if (f->compact_result < 0) {
		s->compact_retry_ms = clock_mono_ms() + COMPACT_RETRY_MS;
		log_warn(
		    "dhcp: lease journal compaction failed, the journal goes on growing until the next try in %d s: "
		    "%s",
		    COMPACT_RETRY_MS / 1000, strerror(-f->compact_result));
		return;
	}
	log_info("dhcp: compacted the lease journal (%llu bytes, %zu lease%s): snapshot built in %.1f ms on the loop, "
		 "written in %.1f ms on the commit thread",
		 (unsigned long long)f->journal_was, f->snap_records, f->snap_records == 1 ? "" : "s",
		 (double)s->compact_build_us / 1000.0, (double)f->compact_us / 1000.0);
}

static void flush_done(void *arg, bool cancelled)
{
	struct dhcp_server *s = arg;
	bool compacting = s->flush_tok.snap != NULL;

	if (s->flush_tok.result == FLUSH_NOT_RUN)
		lease_flush_run(&s->flush_tok);
	int r = lease_store_flush_done(s->leases, &s->flush_tok);
	s->flushing = false;
	s->stats.commits++;
	if (cancelled)
		return; /* the server is being freed */
	if (compacting && s->flush_tok.result >= 0)
		server_log_compaction(s, &s->flush_tok);
	if (r < 0) {
		server_commit_failed(s, r);
		return;
	}
	if (s->ha_ops && s->ha_ops->on_durable)
		s->ha_ops->on_durable(s->ha_arg, lease_store_durable_seq(s->leases));
	if (s->tick_due) {
		s->tick_due = false;
		server_tick_work(s); /* it flushes */
		return;
	}
	dhcp_server_flush(s); /* send; commit what came meanwhile when its time comes */
}

static void server_flush_start(struct dhcp_server *s)
{
	int r;

	if (s->compact_due) {
		int64_t t0 = clock_mono_us();
		s->compact_due = false;
		r = lease_store_flush_begin_compact(s->leases, &s->flush_tok);
		s->compact_build_us = clock_mono_us() - t0;
	} else {
		r = lease_store_flush_begin(s->leases, &s->flush_tok);
	}
	if (r == 0)
		return;
	if (r < 0) {
		server_commit_failed(s, r);
		return;
	}
	s->flushing = true;
	s->last_commit_us = clock_mono_us();
	dhcp_server_ha_commit_begin(s); /* the partner's round trip overlaps the fdatasync */
	s->flush_tok.result = FLUSH_NOT_RUN;
	s->io.commit(s->io.io_arg, flush_work, flush_done, s);
}

void dhcp_server_flush(struct dhcp_server *s)
{
	if (s->leases && !s->flushing && (lease_store_has_pending(s->leases) || s->compact_due)) {
		int64_t wait = s->last_commit_us + s->commit_interval_us - clock_mono_us();
		if (wait <= 0) {
			evtimer_del(s->commit_timer);
			server_flush_start(s);
		} else if (!evtimer_pending(s->commit_timer, NULL)) {
			/* Under load a datagram ends the wait (the batch end
			 * calls this again): the timer, half an interval later,
			 * is for a lull. At 1,000 leases/s that spares the loop
			 * 200 sleeps and wake-ups a second (docs/benchmarks.md,
			 * "Where a lease's CPU goes"). */
			wait += s->commit_interval_us / 2;
			struct timeval tv = {wait / 1000000, wait % 1000000};
			evtimer_add(s->commit_timer, &tv);
		}
	}
	server_deliver(s);
}

static void server_commit_due(evutil_socket_t fd, short what, void *arg)
{
	dhcp_server_flush(arg);
}

/* The socket is going away: replies still waiting for a commit through it
 * are dropped (their events are still reported). */
void dhcp_server_forget_sock(struct dhcp_server *s, const struct dhcp_sock *sock)
{
	for (size_t i = 0; i < s->n_held; i++)
		if (s->held[i].sock == sock)
			s->held[i].sock = NULL;
}

static void server_commit_submit(void *io_arg, void (*run)(void *arg), void (*done)(void *arg, bool cancelled),
				 void *arg)
{
	work_submit(io_arg, run, done, arg);
}

/* ---- datagrams from server_io.c -------------------------------------------- */

static void server_on_datagram(void *arg, struct dhcp_sock *sock, const struct dhcp_datagram *dg)
{
	struct dhcp_server *s = arg;
	const struct in_pktinfo *pi = dg->pi;
	const char *why = NULL;

	s->stats.received++;
	if (dg->truncated) {
		s->stats.ignored++;
		return;
	}
	if (!s->loaded || !s->leases)
		return;
	if (dhcp4_msg_decode(dg->buf, dg->len, &s->req, &why) < 0) {
		log_debug("dhcp: %s: malformed packet (%zu bytes): %s", sock->name, dg->len, why ? why : "?");
		s->stats.ignored++;
		return;
	}
	if (s->req.op != DHCP4_BOOTREQUEST || dhcp_server_is_own_mac(s, s->req.chaddr, s->req.hlen)) {
		s->stats.ignored++; /* our own external-DHCP probe, looped back */
		return;
	}
	if (!sock->local_addr)
		dhcp_sock_refresh(sock);
	struct dhcp_rx_info rx = {
	    .ifname = sock->name,
	    .ifindex = pi && pi->ipi_ifindex ? pi->ipi_ifindex : sock->ifindex,
	    .local_addr = sock->local_addr,
	    .dst_addr = pi ? ntohl(pi->ipi_addr.s_addr) : 0xffffffffu,
	    .has_src_addr = dg->src != NULL,
	    .src_addr = dg->src ? ntohl(dg->src->sin_addr.s_addr) : 0,
	};
	if (!rx.local_addr && pi)
		rx.local_addr = ntohl(pi->ipi_spec_dst.s_addr);
	if (dhcp4_msg_type(&s->req) == DHCP4_DISCOVER && s->loaded->cfg.probe) {
		if (dhcp_probe_client_busy(&s->probes, &s->req)) {
			s->stats.ignored++; /* a retransmission while we probe for it */
			return;
		}
		if (s->probes.n >= DHCP_SRV_PROBES_MAX) {
			s->stats.dropped_busy++; /* the client retransmits */
			return;
		}
	}
	int v = dhcp_engine_handle(&s->loaded->cfg, s->leases, &s->req, &rx, time(NULL), &s->dec);
	dhcp_server_dispatch(s, sock, &s->req, &rx, v, NULL);
}

/* End of a readable event: commit what the batch staged, send what may go. */
static void server_on_batch_end(void *arg, struct dhcp_sock *sock, int err)
{
	struct dhcp_server *s = arg;

	if (err < 0 && dhcp_server_warn_allowed(s))
		log_warn("dhcp: %s: receive: %s", sock->name, strerror(-err));
	if (err == 0)
		dhcp_server_flush(s);
}

static void server_on_arp_readable(void *arg, struct dhcp_sock *sock)
{
	struct dhcp_server *s = arg;
	dhcp_probe_arp_readable(&s->probes, sock);
}

/* A frame of the release socket. Only RELEASEs are taken here, with the
 * frame's source MAC and address (the engine honours a RELEASE on the
 * link only from its lease's); everything else was also read, and is
 * answered, through the UDP socket. */
static void server_on_frame(void *arg, struct dhcp_sock *sock, const struct dhcp_frame *f)
{
	struct dhcp_server *s = arg;
	struct rawpkt_udp u;

	if (!s->loaded || !s->leases || rawpkt_udp_parse_csum(f->buf, f->len, !f->csum_unchecked, &u) < 0 ||
	    u.dport != DHCP4_SERVER_PORT || dhcp4_msg_decode(u.payload, u.len, &s->req, NULL) < 0 ||
	    s->req.op != DHCP4_BOOTREQUEST || s->req.giaddr || dhcp4_msg_type(&s->req) != DHCP4_RELEASE)
		return;
	if (!sock->local_addr)
		dhcp_sock_refresh(sock);
	struct dhcp_rx_info rx = {
	    .ifname = sock->name,
	    .ifindex = sock->ifindex,
	    .local_addr = sock->local_addr,
	    .dst_addr = u.dst,
	    .has_src_addr = true,
	    .src_addr = u.src,
	    .has_src_mac = true,
	};
	memcpy(rx.src_mac, f->src_mac, 6);
	int v = dhcp_engine_handle(&s->loaded->cfg, s->leases, &s->req, &rx, time(NULL), &s->dec);
	dhcp_server_dispatch(s, sock, &s->req, &rx, v, NULL);
}

static const struct dhcp_sock_ops server_sock_ops = {
    .on_datagram = server_on_datagram,
    .on_batch_end = server_on_batch_end,
    .on_arp_readable = server_on_arp_readable,
    .on_frame = server_on_frame,
};

/* A probe ended: ask the engine again, now knowing whether the address is
 * in use. */
static void server_on_probe_done(void *arg, struct dhcp_probe *p, bool in_use)
{
	struct dhcp_server *s = arg;
	struct dhcp_sock *sock = dhcp_server_sock(s, p->ifname);

	s->stats.conflicts += in_use;
	if (!s->loaded || !s->leases || !sock) {
		dhcp_probe_free(p); /* the interface is no longer served */
		return;
	}
	int v =
	    dhcp_engine_probe_done(&s->loaded->cfg, s->leases, &p->req, &p->rx, p->addr, in_use, time(NULL), &s->dec);
	dhcp_server_dispatch(s, sock, &p->req, &p->rx, v, p);
	dhcp_server_flush(s);
}

static const struct dhcp_probe_ops server_probe_ops = {
    .on_done = server_on_probe_done,
};

/* ---- timers --------------------------------------------------------------- */

static void server_reclaim(struct dhcp_server *s)
{
	struct dhcp_event ev[RECLAIM_BATCH];
	struct dhcp_event *all = NULL;
	size_t n_all = 0;
	time_t now = time(NULL);

	for (;;) {
		size_t n = 0;
		int r = dhcp_engine_reclaim(s->leases, now, ev, RECLAIM_BATCH, &n);
		if (r < 0) {
			if (dhcp_server_warn_allowed(s))
				log_warn("dhcp: lease reclaim failed: %s", strerror(-r));
			break;
		}
		if (n) {
			all = xreallocarray(all, n_all + n, sizeof(*all));
			memcpy(all + n_all, ev, n * sizeof(*ev));
			n_all += n;
		}
		if (r < RECLAIM_BATCH)
			break;
	}
	/* The expiries are reported once their journal records are on disk
	 * (after a failed write they come back on a later tick, after replay). */
	int64_t seq = lease_store_has_pending(s->leases) ? (int64_t)lease_store_last_seq(s->leases) : 0;
	for (size_t i = 0; i < n_all; i += DHCP_EVENTS_MAX) {
		struct dhcp_held_reply *p = held_add(s);
		p->commit_seq = seq;
		p->n_events = n_all - i < DHCP_EVENTS_MAX ? n_all - i : DHCP_EVENTS_MAX;
		memcpy(p->events, all + i, p->n_events * sizeof(*all));
	}
	if (n_all)
		log_debug("dhcp: reclaimed %zu expired leases", n_all);
	free(all);
	dhcp_server_flush(s);
}

/* Reclaim, compaction (it rides on the next flush: the loop builds the
 * snapshot, the commit thread writes it), the HA clocks. Never while a
 * flush is in flight: the tick then runs when it ends. */
static void server_tick_work(struct dhcp_server *s)
{
	server_reclaim(s); /* it flushes */
	if (!s->leases)
		return; /* a failed commit reopens the store: it may be gone */
	if (lease_store_journal_bytes(s->leases) > s->compact_bytes && !s->compact_due &&
	    clock_mono_ms() >= s->compact_retry_ms) {
		s->compact_due = true;
		dhcp_server_flush(s);
	}
	dhcp_server_ha_tick(s);
}

static void server_tick(evutil_socket_t fd, short what, void *arg)
{
	struct dhcp_server *s = arg;

	if (!s->leases && server_store_open(s) < 0)
		return;
	if (s->flushing) {
		s->tick_due = true; /* a slow disk or a busy server: after the flush in flight */
		return;
	}
	server_tick_work(s);
}

/* ---- lifecycle ------------------------------------------------------------ */

int dhcp_server_new(struct event_base *base, const struct dhcp_server_conf *conf, const struct dhcp_server_ops *ops,
		    void *arg, struct dhcp_server **ret)
{
	if (!base || !conf || !conf->lease_dir || !ret)
		return -EINVAL;
	if (mkdir(conf->lease_dir, 0700) < 0 && errno != EEXIST) {
		int r = -errno;
		log_err("dhcp: cannot create %s: %s", conf->lease_dir, strerror(errno));
		return r;
	}
	struct dhcp_server *s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->ops = ops;
	s->arg = arg;
	s->net = (struct dhcp_net){
	    .base = base,
	    .nsfd = conf->nsfd,
	    .ops = &server_sock_ops,
	    .arg = s,
	    .rx_coalesce_us = conf->rx_coalesce_us > 0 && conf->rx_coalesce_us < 1000000 ? conf->rx_coalesce_us : 0};
	dhcp_probes_init(&s->probes, base, conf->nsfd, conf->probe_timeout_ms > 0 ? conf->probe_timeout_ms : 300,
			 &server_probe_ops, s);
	s->lease_dir = xstrdup(conf->lease_dir);
	s->net.rx_bufs = xmalloc(DHCP_SRV_BATCH * sizeof(*s->net.rx_bufs));
	s->net.raw_bufs = xmalloc(DHCP_SRV_BATCH * sizeof(*s->net.raw_bufs));
	s->held_cap = HELD_INITIAL;
	s->held = xreallocarray(NULL, s->held_cap, sizeof(*s->held));
	s->tick = event_new(base, -1, EV_PERSIST, server_tick, s);
	s->commit_interval_us = conf->commit_interval_us > 0 ? conf->commit_interval_us : 0;
	s->compact_bytes = conf->compact_bytes > 0 ? conf->compact_bytes : DHCP_SRV_COMPACT_BYTES;
	s->ha_mclt_s = conf->ha_mclt_s > 0 ? conf->ha_mclt_s : 3600;
	s->commit_timer = evtimer_new(base, server_commit_due, s);
	if (conf->io) {
		s->io = *conf->io;
	} else if (work_pool_new(base, 1, &s->flusher) >= 0) {
		s->io = (struct dhcp_server_io){.sock_open = dhcp_sock_open,
						.sock_free = dhcp_sock_free,
						.send = dhcp_sock_send,
						.commit = server_commit_submit,
						.io_arg = s->flusher,
						.send_many = dhcp_sock_send_many};
	}
	if (!s->tick || !s->commit_timer || !s->io.commit) {
		dhcp_server_free(s);
		return -ENOMEM;
	}
	s->store_cfg = (struct lease_store_config){.dir = s->lease_dir};
	int r = server_store_open(s);
	if (r < 0) {
		dhcp_server_free(s);
		return r;
	}
	struct timeval one = {1, 0};
	event_add(s->tick, &one);
	*ret = s;
	return 0;
}

void dhcp_server_free(struct dhcp_server *s)
{
	if (!s)
		return;
	dhcp_probe_cancel_all(&s->probes);
	work_pool_free(s->flusher); /* finishes the flush in flight */
	for (size_t i = 0; i < s->n_socks; i++)
		s->io.sock_free(s->socks[i]);
	free(s->socks);
	dhcp_probe_icmp_attach(&s->probes, -1);
	if (s->tick)
		event_free(s->tick);
	if (s->commit_timer)
		event_free(s->commit_timer);
	if (s->leases) {
		int r = lease_store_commit(s->leases);
		if (r < 0)
			log_err("dhcp: final lease commit failed: %s", strerror(-r));
		lease_store_free(s->leases);
	}
	dhcp_loaded_free(s->loaded);
	dhcp_server_ha_free_all(s);
	free(s->held);
	free(s->net.rx_bufs);
	free(s->net.raw_bufs);
	free(s->lease_dir);
	free(s);
}

const struct lease_store *dhcp_server_leases(const struct dhcp_server *s)
{
	return s->leases;
}

void dhcp_server_get_stats(const struct dhcp_server *s, struct dhcp_server_stats *ret)
{
	*ret = s->stats;
}
