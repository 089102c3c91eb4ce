/* libFuzzer target for what the HA partner sends (rack/dhcp/ha_msg.c):
 * any bytes through the decoder; what it accepts must keep every bound,
 * encode again and decode to the same message. Accepted lease updates are
 * then merged (rack/dhcp/ha_merge.c) against a fixed local set both ways
 * round, which must agree.
 *
 *   make fuzz                    every target for FUZZ_SECONDS
 *   build-fuzz/fuzz_ha tests/fuzz/corpus/ha
 *
 * The input is one encoded HaMessage. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rack/dhcp/ha_merge.h"
#include "rack/dhcp/ha_msg.h"
#include "tests/fuzz/fuzz.h"

static void check_bounds(const struct ha_msg *m)
{
	CHECK(m->n_leases <= HA_UPDATES_MAX);
	CHECK(m->n_asks <= HA_POOL_MAX && m->n_ranges <= HA_POOL_MAX);
	for (size_t i = 0; i < m->n_leases; i++) {
		const struct lease *l = &m->leases[i];
		CHECK(l->addr != 0 && l->state >= LEASE_ACTIVE && l->state <= LEASE_STATE_MAX);
		CHECK(l->hlen <= LEASE_HWADDR_MAX);
		CHECK(memchr(l->hostname, '\0', sizeof(l->hostname)) != NULL);
		CHECK(l->seq > 0 && (i == 0 || l->seq > m->leases[i - 1].seq));
	}
	for (size_t i = 0; i < m->n_ranges; i++)
		CHECK(m->ranges[i].first && m->ranges[i].first <= m->ranges[i].last &&
		      (i == 0 || m->ranges[i].first > m->ranges[i - 1].last));
	if (m->type == HA_MSG_HELLO)
		CHECK(memchr(m->hello.rack_id, '\0', sizeof(m->hello.rack_id)) && m->hello.rack_id[0]);
}

static void check_merge(const struct ha_msg *m)
{
	struct lease local[4];
	memset(local, 0, sizeof(local));
	for (int i = 0; i < 4; i++) {
		local[i].addr = m->leases[0].addr + (uint32_t)i;
		local[i].state = (uint8_t)(LEASE_ACTIVE + i);
		local[i].htype = 1;
		local[i].hlen = 6;
		local[i].chaddr[5] = (uint8_t)i;
		local[i].start = m->leases[0].start;
		local[i].expiry = m->leases[0].expiry + i - 1;
		local[i].seq = (uint64_t)i + 1;
		if (!local[i].addr)
			local[i].addr = 1;
	}
	struct ha_merge_result a, b;
	ha_merge(local, 4, m->leases, m->n_leases, &a);
	ha_merge(m->leases, m->n_leases, local, 4, &b);
	CHECK(a.n_conflicts == b.n_conflicts);
	CHECK(a.n_same == b.n_same);
	CHECK(a.n_apply <= m->n_leases);
	ha_merge_result_done(&a);
	ha_merge_result_done(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ha_msg m;
	const char *why = NULL;
	int rc = ha_msg_decode(data, size, &m, &why);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EBADMSG || rc == -EMSGSIZE);
	if (rc < 0) {
		CHECK(why != NULL);
		CHECK(m.leases == NULL && m.asks == NULL && m.ranges == NULL);
		return 0;
	}
	check_bounds(&m);

	/* Encode again: the same message comes back. */
	uint8_t *buf;
	size_t len;
	CHECK(ha_msg_encode(&m, &buf, &len) == 0);
	struct ha_msg again;
	CHECK(ha_msg_decode(buf, len, &again, NULL) == 0);
	CHECK(again.type == m.type && again.seq == m.seq);
	CHECK(again.n_leases == m.n_leases && again.n_asks == m.n_asks && again.n_ranges == m.n_ranges);
	CHECK(m.n_leases == 0 || memcmp(again.leases, m.leases, m.n_leases * sizeof(*m.leases)) == 0);
	CHECK(m.n_asks == 0 || memcmp(again.asks, m.asks, m.n_asks * sizeof(*m.asks)) == 0);
	CHECK(m.n_ranges == 0 || memcmp(again.ranges, m.ranges, m.n_ranges * sizeof(*m.ranges)) == 0);
	CHECK(memcmp(&again.hello, &m.hello, sizeof(m.hello)) == 0);
	CHECK(memcmp(&again.state, &m.state, sizeof(m.state)) == 0);
	ha_msg_done(&again);
	free(buf);

	if (m.type == HA_MSG_UPDATES && m.n_leases)
		check_merge(&m);
	ha_msg_done(&m);
	return 0;
}
