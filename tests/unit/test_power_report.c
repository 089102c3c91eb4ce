/* Power results on their way to the region (rack/power/report.c): batching,
 * an action's outcome kept until the region has recorded it (resent after a
 * refusal or a lost session), polled states dropped while the region is
 * away, the full report; and the Wake-on-LAN magic packet (rack/power/wol.c).
 * Every report sent is packed and unpacked, as the session would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rack/power/report.h"
#include "rack/power/wol.h"

#define MAX_SENT 64

struct fx {
	bool connected;
	bool refuse_send;
	uint64_t next_id;
	size_t n_sent;
	uint64_t ids[MAX_SENT];
	Ironrack__V1__PowerReport *sent[MAX_SENT];
};

static bool fx_connected(void *arg)
{
	return ((struct fx *)arg)->connected;
}

static uint64_t fx_send(void *arg, Ironrack__V1__PowerReport *rep)
{
	struct fx *f = arg;
	if (!f->connected || f->refuse_send || f->n_sent == MAX_SENT)
		return 0;
	size_t len = ironrack__v1__power_report__get_packed_size(rep);
	uint8_t *buf = malloc(len + 1);
	ironrack__v1__power_report__pack(rep, buf);
	f->sent[f->n_sent] = ironrack__v1__power_report__unpack(NULL, len, buf);
	free(buf);
	f->ids[f->n_sent] = ++f->next_id;
	return f->ids[f->n_sent++];
}

static const struct power_report_ops fx_ops = {fx_connected, fx_send};

static void fx_done(struct fx *f)
{
	for (size_t i = 0; i < f->n_sent; i++)
		ironrack__v1__power_report__free_unpacked(f->sent[i], NULL);
}

static void result(struct power_reports *q, uint64_t machine, uint64_t action, bool ok, const char *state)
{
	Ironrack__V1__PowerResult r = IRONRACK__V1__POWER_RESULT__INIT;
	r.machine_id = machine;
	r.action_id = action;
	r.action = (char *)(action ? "on" : "query");
	r.ok = ok;
	r.state = (char *)state;
	r.error = (char *)(ok ? "" : "BMC 10.0.0.5: password invalid");
	power_reports_add(q, &r);
}

static void test_batch_and_ack(void **state)
{
	struct fx f = {.connected = true};
	struct power_reports *q = power_reports_new(NULL, &fx_ops, &f);
	result(q, 2, 0, true, "off");
	result(q, 4, 0, true, "on");
	assert_int_equal(f.n_sent, 0); /* polled states wait for the batch */
	result(q, 3, 12, false, "");   /* an action's outcome goes at once, with them */
	assert_int_equal(f.n_sent, 1);
	Ironrack__V1__PowerReport *r = f.sent[0];
	assert_int_equal(r->n_results, 3);
	assert_false(r->full);
	assert_int_equal(r->results[0]->machine_id, 2);
	assert_int_equal(r->results[0]->action_id, 0);
	assert_string_equal(r->results[0]->state, "off");
	assert_int_equal(r->results[2]->action_id, 12);
	assert_false(r->results[2]->ok);
	assert_string_equal(r->results[2]->error, "BMC 10.0.0.5: password invalid");
	power_reports_status(q, f.ids[0], true);
	power_reports_flush(q);
	assert_int_equal(f.n_sent, 1); /* recorded: nothing left to send */
	result(q, 1, 11, true, "on");
	assert_int_equal(f.n_sent, 2);
	assert_int_equal(f.sent[1]->results[0]->action_id, 11);
	assert_string_equal(f.sent[1]->results[0]->state, "on");
	power_reports_free(q);
	fx_done(&f);
}

static void test_refused_report_is_resent(void **state)
{
	struct fx f = {.connected = true};
	struct power_reports *q = power_reports_new(NULL, &fx_ops, &f);
	result(q, 1, 11, true, "on");
	power_reports_flush(q);
	power_reports_status(q, f.ids[0], false); /* the region's database was away */
	power_reports_flush(q);
	assert_int_equal(f.n_sent, 2);
	assert_int_equal(f.sent[1]->n_results, 1);
	assert_int_equal(f.sent[1]->results[0]->action_id, 11);
	struct power_reports_stats st;
	power_reports_get_stats(q, &st);
	assert_int_equal(st.resent, 1);
	power_reports_free(q);
	fx_done(&f);
}

static void test_lost_session_keeps_actions_drops_polls(void **state)
{
	struct fx f = {.connected = true};
	struct power_reports *q = power_reports_new(NULL, &fx_ops, &f);
	result(q, 2, 0, true, "off");
	result(q, 1, 11, true, "on"); /* sent at once, with the poll */
	assert_int_equal(f.n_sent, 1);
	assert_int_equal(f.sent[0]->n_results, 2);
	/* The session goes before the region answered. */
	f.connected = false;
	power_reports_disconnected(q);
	result(q, 3, 0, true, "on"); /* a poll while away: dropped */
	result(q, 4, 12, false, ""); /* an action while away: kept */
	power_reports_flush(q);
	assert_int_equal(f.n_sent, 1); /* nothing goes while away */
	f.connected = true;
	power_reports_flush(q);
	assert_int_equal(f.n_sent, 2);
	Ironrack__V1__PowerReport *r = f.sent[1];
	assert_int_equal(r->n_results, 2); /* the in-flight action, the new one; no polls */
	uint64_t got[2] = {r->results[0]->action_id, r->results[1]->action_id};
	assert_true((got[0] == 11 && got[1] == 12) || (got[0] == 12 && got[1] == 11));
	/* The status of the lost report, arriving late, changes nothing. */
	power_reports_status(q, f.ids[0], true);
	power_reports_status(q, f.ids[1], true);
	power_reports_flush(q);
	assert_int_equal(f.n_sent, 2);
	power_reports_free(q);
	fx_done(&f);
}

static void test_batches_are_bounded(void **state)
{
	struct fx f = {.connected = true};
	struct power_reports *q = power_reports_new(NULL, &fx_ops, &f);
	for (uint64_t i = 1; i <= POWER_REPORT_BATCH_MAX + 10; i++)
		result(q, i, 0, true, "on");
	/* The batch limit sends without waiting for the timer. */
	assert_int_equal(f.n_sent, 1);
	assert_int_equal(f.sent[0]->n_results, POWER_REPORT_BATCH_MAX);
	power_reports_flush(q);
	assert_int_equal(f.n_sent, 2);
	assert_int_equal(f.sent[1]->n_results, 10);
	power_reports_free(q);
	fx_done(&f);
}

static void test_full_report(void **state)
{
	struct fx f = {.connected = true};
	struct power_reports *q = power_reports_new(NULL, &fx_ops, &f);
	Ironrack__V1__PowerResult r[3], *p[3];
	for (int i = 0; i < 3; i++) {
		ironrack__v1__power_result__init(&r[i]);
		r[i].machine_id = (uint64_t)i + 1;
		r[i].state = (char *)"off";
		r[i].ok = true;
		p[i] = &r[i];
	}
	power_reports_full(q, p, 3);
	assert_int_equal(f.n_sent, 1);
	assert_true(f.sent[0]->full);
	assert_int_equal(f.sent[0]->n_results, 3);
	/* An empty set is still said: "I poll nothing". */
	power_reports_full(q, p, 0);
	assert_int_equal(f.n_sent, 2);
	assert_true(f.sent[1]->full);
	assert_int_equal(f.sent[1]->n_results, 0);
	power_reports_free(q);
	fx_done(&f);
}

static void test_wol_packet(void **state)
{
	const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x44, 0x00, 0x77};
	uint8_t pkt[WOL_PACKET_LEN], found[6];
	wol_packet(mac, pkt);
	for (int i = 0; i < 6; i++)
		assert_int_equal(pkt[i], 0xff);
	for (int k = 0; k < 16; k++)
		assert_memory_equal(pkt + 6 + 6 * k, mac, 6);
	assert_int_equal(wol_packet_find(pkt, sizeof(pkt), found), 0);
	assert_memory_equal(found, mac, 6);
	/* Inside a larger payload (some tools prefix a header). */
	uint8_t big[WOL_PACKET_LEN + 10] = {1, 2, 3};
	memcpy(big + 7, pkt, sizeof(pkt));
	assert_int_equal(wol_packet_find(big, sizeof(big), found), 0);
	/* One repetition wrong, or too short: not a magic packet. */
	pkt[6 + 6 * 15 + 5] ^= 1;
	assert_int_equal(wol_packet_find(pkt, sizeof(pkt), NULL), -ENOENT);
	assert_int_equal(wol_packet_find(pkt, 50, NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_and_ack),
	    cmocka_unit_test(test_refused_report_is_resent),
	    cmocka_unit_test(test_lost_session_keeps_actions_drops_polls),
	    cmocka_unit_test(test_batches_are_bounded),
	    cmocka_unit_test(test_full_report),
	    cmocka_unit_test(test_wol_packet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
