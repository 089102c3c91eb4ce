/* The DHCP server shell (rack/dhcp/server.c) with fake sockets and a fake
 * group commit (struct dhcp_server_io): no network, no worker thread.
 * Checks the server's promise "no ACK leaves before its lease is durable":
 * the test holds the commit and sees what the server sends meanwhile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "common/wire/dhcp4.h"
#include "rack/dhcp/server.h"
#include "rack/dhcp/server_internal.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define SERVER_ADDR    IP(192, 0, 2, 1)

static const struct dhcp_range ranges[] = {{.id = 11, .first = IP(192, 0, 2, 100), .last = IP(192, 0, 2, 103)}};
static const struct dhcp_subnet subnets[] = {{
    .id = 1,
    .network = IP(192, 0, 2, 0),
    .prefix_len = 24,
    .server_addr = SERVER_ADDR,
    .router = IP(192, 0, 2, 254),
    .ranges = ranges,
    .n_ranges = 1,
}};
static const struct dhcp_iface ifaces[] = {{.name = "eth0", .subnets = subnets, .n_subnets = 1}};

/* What the fake sockets sent, with the durable sequence at that moment. */
struct sent {
	uint8_t type;
	uint32_t yiaddr; /* host order */
	uint64_t durable_seq;
};

struct fx {
	struct event_base *base;
	char dir[64];
	struct dhcp_server *srv;
	struct dhcp_sock *sock; /* the one fake interface */
	struct sent sent[16];
	size_t n_sent;
	size_t send_calls[16]; /* replies per send_many call */
	size_t n_send_calls;
	/* the group commit the server asked for, held until the test runs it */
	void (*run)(void *arg);
	void (*done)(void *arg, bool cancelled);
	void *arg;
	size_t commits;
};

static struct fx *the_fx; /* the fake ops get no argument of their own but io_arg */

static int fake_open(struct dhcp_net *net, const char *name, bool want_arp, struct dhcp_sock **ret, char *why,
		     size_t why_len)
{
	struct dhcp_sock *k = xcalloc(1, sizeof(*k));
	k->net = net;
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->ifindex = 2;
	k->udp_fd = k->pkt_fd = k->arp_fd = k->ext.fd = -1;
	the_fx->sock = k;
	*ret = k;
	return 0;
}

static void fake_free(struct dhcp_sock *k)
{
	if (the_fx->sock == k)
		the_fx->sock = NULL;
	free(k);
}

static int fake_send(struct dhcp_sock *k, const struct dhcp_tx *tx, int *ret_chaddr_err)
{
	struct fx *f = the_fx;
	struct dhcp4_msg m;
	*ret_chaddr_err = 0;
	assert_true(f->n_sent < sizeof(f->sent) / sizeof(f->sent[0]));
	assert_int_equal(dhcp4_msg_decode(tx->buf, tx->len, &m, NULL), 0);
	f->sent[f->n_sent++] = (struct sent){
	    .type = tx->type,
	    .yiaddr = ntohl(m.yiaddr),
	    .durable_seq = lease_store_durable_seq(dhcp_server_leases(f->srv)),
	};
	return 0;
}

/* As server_io.c's: one call for several replies through one socket. */
static void fake_send_many(struct dhcp_sock *k, const struct dhcp_tx *const *tx, size_t n, int *ret,
			   int *ret_chaddr_err)
{
	struct fx *f = the_fx;
	assert_true(n > 0 && n <= DHCP_SRV_BATCH);
	assert_true(f->n_send_calls < sizeof(f->send_calls) / sizeof(f->send_calls[0]));
	f->send_calls[f->n_send_calls++] = n;
	for (size_t i = 0; i < n; i++)
		ret[i] = fake_send(k, tx[i], &ret_chaddr_err[i]);
}

static void fake_commit(void *io_arg, void (*run)(void *arg), void (*done)(void *arg, bool cancelled), void *arg)
{
	struct fx *f = io_arg;
	assert_null(f->run); /* one commit at a time */
	f->run = run;
	f->done = done;
	f->arg = arg;
	f->commits++;
}

/* Let the held commit write, fdatasync and report back, as the worker
 * thread and the loop would. */
static void commit_finish(struct fx *f)
{
	void (*run)(void *) = f->run, (*done)(void *, bool) = f->done;
	assert_non_null(run);
	f->run = NULL;
	f->done = NULL;
	run(f->arg);
	done(f->arg, false);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int64_t commit_interval_us; /* for the next setup */
static uint64_t compact_bytes;	   /* for the next setup */

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	static struct dhcp_server_io io = {fake_open, fake_free, fake_send, fake_commit, NULL, fake_send_many};
	the_fx = f;
	io.io_arg = f;
	f->base = event_base_new();
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_dhcp_server.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	struct dhcp_server_conf conf = {.lease_dir = f->dir,
					.nsfd = -1,
					.io = &io,
					.commit_interval_us = commit_interval_us,
					.compact_bytes = compact_bytes};
	assert_int_equal(dhcp_server_new(f->base, &conf, NULL, NULL, &f->srv), 0);

	struct dhcp_loaded *l = xcalloc(1, sizeof(*l)); /* hand-built: arena NULL */
	l->cfg = (struct dhcp_config){.version = 1, .ifaces = ifaces, .n_ifaces = 1};
	char why[256];
	assert_int_equal(dhcp_config_validate(&l->cfg, why, sizeof(why)), 0);
	assert_int_equal(dhcp_server_apply(f->srv, l, why, sizeof(why)), 0);
	assert_non_null(f->sock);
	*state = f;
	return 0;
}

static int setup_interval(void **state)
{
	commit_interval_us = 30000;
	int r = setup(state);
	commit_interval_us = 0;
	return r;
}

static int setup_compact(void **state)
{
	compact_bytes = 1;
	int r = setup(state);
	compact_bytes = 0;
	return r;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->run)
		commit_finish(f);
	dhcp_server_free(f->srv);
	event_base_free(f->base);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A client's datagram arrives on the fake socket, as server_io.c would
 * hand it over: one datagram, then the end of the batch. */
static void receive(struct fx *f, uint8_t type, uint32_t requested)
{
	struct dhcp4_msg m;
	uint8_t buf[1500];
	dhcp4_msg_init(&m);
	m.op = DHCP4_BOOTREQUEST;
	m.htype = DHCP4_HTYPE_ETHER;
	m.hlen = 6;
	m.xid = 0x4242;
	memcpy(m.chaddr, (const uint8_t[6]){0x52, 0x54, 0, 0, 0, 7}, 6);
	assert_int_equal(dhcp4_msg_set_u8(&m, DHCP4_OPT_MSG_TYPE, type), 0);
	if (requested) {
		assert_int_equal(dhcp4_msg_set_ip(&m, DHCP4_OPT_SERVER_ID, htonl(SERVER_ADDR)), 0);
		assert_int_equal(dhcp4_msg_set_ip(&m, DHCP4_OPT_REQUESTED_IP, htonl(requested)), 0);
	}
	int n = dhcp4_msg_encode(&m, 576, buf, sizeof(buf));
	assert_true(n > 0);
	struct in_pktinfo pi = {
	    .ipi_ifindex = 2, .ipi_spec_dst.s_addr = htonl(SERVER_ADDR), .ipi_addr.s_addr = 0xffffffffu};
	struct dhcp_datagram dg = {.buf = buf, .len = (size_t)n, .pi = &pi};
	struct dhcp_net *net = f->sock->net;
	net->ops->on_datagram(net->arg, f->sock, &dg);
	net->ops->on_batch_end(net->arg, f->sock, 0);
}

/* DISCOVER, then REQUEST: the ACK waits for the commit of its lease, and
 * leaves the moment that commit is durable. */
static void test_ack_waits_for_durable_lease(void **state)
{
	struct fx *f = *state;
	const struct lease_store *leases = dhcp_server_leases(f->srv);

	receive(f, DHCP4_DISCOVER, 0);
	while (f->run) /* whatever the OFFER staged */
		commit_finish(f);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].type, DHCP_OFFER);
	uint32_t offered = f->sent[0].yiaddr;
	assert_true(offered >= IP(192, 0, 2, 100) && offered <= IP(192, 0, 2, 103));

	size_t commits = f->commits;
	receive(f, DHCP4_REQUEST, offered);
	/* The lease is in memory and staged, its commit is in flight ... */
	assert_non_null(lease_store_find_addr(leases, offered));
	assert_int_equal(f->commits, commits + 1);
	uint64_t lease_seq = lease_store_last_seq(leases);
	assert_true(lease_store_durable_seq(leases) < lease_seq);
	/* ... and nothing has gone out. */
	assert_int_equal(f->n_sent, 1);

	/* The journal write ran but its completion has not reached the loop:
	 * still held. */
	void (*run)(void *) = f->run, (*done)(void *, bool) = f->done;
	f->run = NULL;
	f->done = NULL;
	run(f->arg);
	assert_int_equal(f->n_sent, 1);

	done(f->arg, false);
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[1].type, DHCP_ACK);
	assert_int_equal(f->sent[1].yiaddr, offered);
	assert_true(f->sent[1].durable_seq >= lease_seq);
}

/* A batch of datagrams shares one commit: a second REQUEST received while
 * the first commit runs is held until a later commit covers it. */
static void test_ack_staged_during_commit_waits_for_the_next(void **state)
{
	struct fx *f = *state;

	receive(f, DHCP4_DISCOVER, 0);
	while (f->run)
		commit_finish(f);
	uint32_t offered = f->sent[0].yiaddr;
	receive(f, DHCP4_REQUEST, offered);
	assert_non_null(f->run);
	/* The client retransmits while the first commit is on the disk. */
	receive(f, DHCP4_REQUEST, offered);
	uint64_t second_seq = lease_store_last_seq(dhcp_server_leases(f->srv));
	assert_int_equal(f->n_sent, 1);
	commit_finish(f); /* the first ACK goes; the second is not durable yet */
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[1].type, DHCP_ACK);
	assert_non_null(f->run); /* the server started the next commit at once */
	commit_finish(f);
	assert_int_equal(f->n_sent, 3);
	assert_int_equal(f->sent[2].type, DHCP_ACK);
	assert_true(f->sent[2].durable_seq >= second_seq);
}

/* An OFFER promises nothing: it leaves at once and starts no commit. */
static void test_offer_costs_no_commit(void **state)
{
	struct fx *f = *state;

	receive(f, DHCP4_DISCOVER, 0);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].type, DHCP_OFFER);
	assert_null(f->run);
	assert_int_equal(f->commits, 0);
	receive(f, DHCP4_REQUEST, f->sent[0].yiaddr);
	assert_int_equal(f->commits, 1);
	commit_finish(f);
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[1].type, DHCP_ACK);
}

/* With a commit interval, a commit needed right after another waits for
 * the interval, then covers what came meanwhile. With no datagram to end
 * the wait, the loop's timer does, half an interval later (30 + 15 ms). */
static void test_commit_interval_spaces_commits(void **state)
{
	struct fx *f = *state;

	receive(f, DHCP4_DISCOVER, 0);
	uint32_t offered = f->sent[0].yiaddr;
	int64_t t0 = clock_mono_us();
	receive(f, DHCP4_REQUEST, offered);
	assert_int_equal(f->commits, 1); /* the first one at once */
	commit_finish(f);
	assert_int_equal(f->n_sent, 2);
	receive(f, DHCP4_REQUEST, offered); /* a retransmission: a new ACK, a new commit */
	receive(f, DHCP4_REQUEST, offered);
	assert_int_equal(f->commits, 1); /* waits for the interval */
	assert_int_equal(f->n_sent, 2);
	while (!f->run)
		assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE), 0);
	assert_true(clock_mono_us() - t0 >= 45000);
	assert_int_equal(f->commits, 2); /* one for both */
	size_t calls = f->n_send_calls;
	commit_finish(f);
	assert_int_equal(f->n_sent, 4);
	assert_int_equal(f->sent[2].type, DHCP_ACK);
	assert_int_equal(f->sent[3].type, DHCP_ACK);
	/* ... and both ACKs leave in one send (one sendmmsg) */
	assert_int_equal(f->n_send_calls, calls + 1);
	assert_int_equal(f->send_calls[calls], 2);
}

/* Under load the next datagram after the interval starts the waiting
 * commit: the loop does not wake for the timer. */
static void test_commit_interval_ended_by_a_datagram(void **state)
{
	struct fx *f = *state;

	receive(f, DHCP4_DISCOVER, 0);
	uint32_t offered = f->sent[0].yiaddr;
	receive(f, DHCP4_REQUEST, offered);
	commit_finish(f);
	receive(f, DHCP4_REQUEST, offered);
	assert_int_equal(f->commits, 1); /* waits for the interval */
	usleep(31000);
	receive(f, DHCP4_DISCOVER, 0); /* its batch end: the interval is over */
	assert_int_equal(f->commits, 2);
	assert_int_equal(f->n_sent, 3); /* the OFFER at once */
	assert_int_equal(f->sent[2].type, DHCP_OFFER);
	commit_finish(f);
	assert_int_equal(f->n_sent, 4);
	assert_int_equal(f->sent[3].type, DHCP_ACK);
}

/* The second's tick comes while a commit is out: it waits for that commit
 * to end, then its compaction rides on the next one. The loop never
 * writes the snapshot itself: it is on disk only once that commit ran. */
static void test_compaction_rides_on_a_commit(void **state)
{
	struct fx *f = *state;
	char snap[128];
	struct stat st;
	const struct lease_store *leases = dhcp_server_leases(f->srv);

	snprintf(snap, sizeof(snap), "%s/leases.snap", f->dir);
	receive(f, DHCP4_DISCOVER, 0);
	uint32_t offered = f->sent[0].yiaddr;
	receive(f, DHCP4_REQUEST, offered);
	assert_int_equal(f->commits, 1);
	assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE), 0); /* the tick, the commit still out */
	assert_int_equal(f->commits, 1);
	commit_finish(f); /* the ACK goes; the deferred tick runs: a compaction */
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[1].type, DHCP_ACK);
	assert_int_equal(f->commits, 2);
	assert_true(lease_store_journal_bytes(leases) > LEASE_FILE_HEADER_LEN);
	assert_int_not_equal(stat(snap, &st), 0);
	receive(f, DHCP4_DISCOVER, 0); /* the loop goes on answering meanwhile */
	assert_int_equal(f->n_sent, 3);
	assert_int_equal(f->sent[2].type, DHCP_OFFER);
	commit_finish(f);
	assert_int_equal(stat(snap, &st), 0);
	assert_int_equal(lease_store_journal_bytes(leases), LEASE_FILE_HEADER_LEN);
	assert_non_null(lease_store_find_addr(leases, offered));
	assert_null(f->run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ack_waits_for_durable_lease, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack_staged_during_commit_waits_for_the_next, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offer_costs_no_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_interval_spaces_commits, setup_interval, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_interval_ended_by_a_datagram, setup_interval, teardown),
	    cmocka_unit_test_setup_teardown(test_compaction_rides_on_a_commit, setup_compact, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
