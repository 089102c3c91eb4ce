/* rack/machine/agent_engine: the region's Status as an HTTP answer, the
 * JSON bodies, and the bookkeeping of reports waiting on the region
 * (held, sent, re-held when the session drops, expired at the deadline). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/rpc/rpc.h"
#include "rack/machine/agent_engine.h"

#define T AGENT_TIMEOUT_US

static void test_verdicts(void **state)
{
	static const struct {
		int code;
		int http;
		const char *error;
		bool retry;
	} cases[] = {
	    {RPC_OK, 200, NULL, false},
	    {RPC_INVALID_ARGUMENT, 400, "invalid", false},
	    {RPC_PERMISSION_DENIED, 403, "token", false},
	    {RPC_UNAUTHENTICATED, 403, "token", false},
	    {RPC_NOT_FOUND, 404, "not_found", false},
	    {RPC_FAILED_PRECONDITION, 409, "state", false},
	    {RPC_ALREADY_EXISTS, 409, "state", false},
	    {RPC_ABORTED, 409, "state", false},
	    {RPC_RESOURCE_EXHAUSTED, 429, "busy", true},
	    {RPC_UNAVAILABLE, 503, "unavailable", true},
	    {RPC_DEADLINE_EXCEEDED, 503, "unavailable", true},
	    {RPC_UNIMPLEMENTED, 503, "unavailable", true}, /* a region without the feature */
	    {RPC_INTERNAL, 503, "unavailable", true},
	    {RPC_UNKNOWN, 503, "unavailable", true},
	    {RPC_CANCELLED, 503, "unavailable", true},
	    {99, 503, "unavailable", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_verdict v;
		agent_verdict_of(cases[i].code, &v);
		assert_int_equal(v.http_status, cases[i].http);
		if (cases[i].error)
			assert_string_equal(v.error, cases[i].error);
		else
			assert_null(v.error);
		assert_int_equal(v.retry_after, cases[i].retry);
		assert_non_null(v.reason);
	}
}

static json_t *body_of(int code, const char *message)
{
	struct agent_verdict v;
	agent_verdict_of(code, &v);
	char *s = agent_body_json(&v, message);
	json_t *j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	return j;
}

static void test_bodies(void **state)
{
	json_t *j = body_of(RPC_OK, "enlisted as node-525400a1b2c3 (machine 7)");
	assert_string_equal(json_string_value(json_object_get(j, "result")), "ok");
	assert_string_equal(json_string_value(json_object_get(j, "message")),
			    "enlisted as node-525400a1b2c3 (machine 7)");
	assert_null(json_object_get(j, "error"));
	json_decref(j);

	/* quotes and backslashes in the region's words stay JSON */
	j = body_of(RPC_INVALID_ARGUMENT, "disks[0].name: \"a\\b\" is not a name");
	assert_string_equal(json_string_value(json_object_get(j, "error")), "invalid");
	assert_string_equal(json_string_value(json_object_get(j, "message")), "disks[0].name: \"a\\b\" is not a name");
	assert_null(json_object_get(j, "result"));
	json_decref(j);

	j = body_of(RPC_PERMISSION_DENIED, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "error")), "token");
	assert_string_equal(json_string_value(json_object_get(j, "message")), "");
	json_decref(j);

	/* bytes that are not UTF-8 do not make an invalid body */
	j = body_of(RPC_FAILED_PRECONDITION, "state \xff\xfe");
	assert_string_equal(json_string_value(json_object_get(j, "error")), "state");
	assert_non_null(json_string_value(json_object_get(j, "message")));
	json_decref(j);
}

static void test_answer_problem(void **state)
{
	(void)state;
	const char *job = "{\"action\": \"erase\", \"mode\": \"quick\"}";
	const uint8_t *b = (const uint8_t *)job;

	assert_null(agent_answer_problem(RPC_OK, b, strlen(job)));
	assert_string_equal(agent_answer_problem(RPC_PERMISSION_DENIED, b, strlen(job)),
			    "the region refused the report");
	assert_string_equal(agent_answer_problem(RPC_OK, NULL, 0), "the region's answer is empty");
	assert_string_equal(agent_answer_problem(RPC_OK, b, 0), "the region's answer is empty");
	assert_string_equal(agent_answer_problem(RPC_OK, b, AGENT_ANSWER_MAX + 1), "the region's answer is too large");
	assert_string_equal(agent_answer_problem(RPC_OK, b, strlen(job) - 1),
			    "the region's answer is not a JSON object");
	assert_string_equal(agent_answer_problem(RPC_OK, (const uint8_t *)"[1]", 3),
			    "the region's answer is not a JSON object");
	assert_string_equal(agent_answer_problem(RPC_OK, (const uint8_t *)"{\"a\":1,\"a\":2}", 13),
			    "the region's answer is not a JSON object");
}

static void test_queue_held_then_sent(void **state)
{
	struct agent_queue q;
	struct agent_req r[3];

	agent_queue_init(&q, 8);
	assert_null(agent_queue_next_held(&q));
	assert_int_equal(agent_queue_next_deadline(&q), -1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(agent_queue_add(&q, &r[i], 1000 + i, T), 0);
	assert_int_equal(q.n, 3);
	assert_int_equal(agent_queue_next_deadline(&q), 1000 + T);
	/* sent oldest first */
	assert_ptr_equal(agent_queue_next_held(&q), &r[0]);
	agent_queue_sent(&q, &r[0], 41);
	assert_ptr_equal(agent_queue_next_held(&q), &r[1]);
	agent_queue_sent(&q, &r[1], 42);
	assert_ptr_equal(agent_queue_next_held(&q), &r[2]);
	assert_ptr_equal(agent_queue_find(&q, 42), &r[1]);
	assert_ptr_equal(agent_queue_find(&q, 41), &r[0]);
	assert_null(agent_queue_find(&q, 43));
	assert_null(agent_queue_find(&q, 0)); /* a held one has no id */
	/* answered: gone; a second verdict for it finds nothing */
	agent_queue_remove(&q, &r[1]);
	assert_null(agent_queue_find(&q, 42));
	assert_int_equal(q.n, 2);
	assert_ptr_equal(q.head, &r[0]);
	assert_ptr_equal(q.head->next, &r[2]);
	assert_ptr_equal(q.tail, &r[2]);
}

static void test_queue_session_drops(void **state)
{
	struct agent_queue q;
	struct agent_req r[3];

	agent_queue_init(&q, 8);
	for (int i = 0; i < 3; i++)
		assert_int_equal(agent_queue_add(&q, &r[i], 0, T), 0);
	agent_queue_sent(&q, &r[0], 1);
	agent_queue_sent(&q, &r[1], 2);
	/* the session dropped: both sent ones wait again, in arrival order */
	assert_int_equal(agent_queue_disconnected(&q), 2);
	assert_null(agent_queue_find(&q, 1));
	assert_null(agent_queue_find(&q, 2));
	assert_ptr_equal(agent_queue_next_held(&q), &r[0]);
	/* the region's late verdict on the old id is not taken for the resend */
	agent_queue_sent(&q, &r[0], 7);
	assert_null(agent_queue_find(&q, 1));
	assert_ptr_equal(agent_queue_find(&q, 7), &r[0]);
	assert_int_equal(agent_queue_disconnected(&q), 1);
	assert_int_equal(agent_queue_disconnected(&q), 0);
	/* deadlines stay those of arrival */
	assert_int_equal(r[0].deadline_us, T);
}

static void test_queue_limit(void **state)
{
	struct agent_queue q;
	static struct agent_req r[AGENT_HELD_MAX + 1];

	agent_queue_init(&q, AGENT_HELD_MAX);
	for (int i = 0; i < AGENT_HELD_MAX; i++)
		assert_int_equal(agent_queue_add(&q, &r[i], i, T), 0);
	assert_int_equal(agent_queue_add(&q, &r[AGENT_HELD_MAX], 0, T), -ENOSPC);
	assert_int_equal(q.n, AGENT_HELD_MAX);
	/* one answered frees a place */
	agent_queue_remove(&q, &r[10]);
	assert_int_equal(agent_queue_add(&q, &r[AGENT_HELD_MAX], 0, T), 0);
	assert_ptr_equal(q.tail, &r[AGENT_HELD_MAX]);
}

static void test_queue_expiry(void **state)
{
	struct agent_queue q;
	struct agent_req r[3];

	agent_queue_init(&q, 8);
	assert_int_equal(agent_queue_add(&q, &r[0], 0, T), 0);
	assert_int_equal(agent_queue_add(&q, &r[1], 5000000, T), 0);
	assert_int_equal(agent_queue_add(&q, &r[2], 10000000, T), 0);
	agent_queue_sent(&q, &r[1], 9); /* sent or held, the deadline is the same */
	assert_null(agent_queue_expired(&q, T - 1));
	assert_ptr_equal(agent_queue_expired(&q, T), &r[0]);
	agent_queue_remove(&q, &r[0]);
	assert_null(agent_queue_expired(&q, T));
	assert_int_equal(agent_queue_next_deadline(&q), 5000000 + T);
	/* both late ones, oldest first */
	assert_ptr_equal(agent_queue_expired(&q, 60000000), &r[1]);
	agent_queue_remove(&q, &r[1]);
	assert_null(agent_queue_find(&q, 9)); /* its verdict, if it comes, is ignored */
	assert_ptr_equal(agent_queue_expired(&q, 60000000), &r[2]);
	agent_queue_remove(&q, &r[2]);
	assert_null(agent_queue_expired(&q, 60000000));
	assert_int_equal(q.n, 0);
	assert_null(q.head);
	assert_null(q.tail);
	assert_int_equal(agent_queue_next_deadline(&q), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verdicts),
	    cmocka_unit_test(test_bodies),
	    cmocka_unit_test(test_answer_problem),
	    cmocka_unit_test(test_queue_held_then_sent),
	    cmocka_unit_test(test_queue_session_drops),
	    cmocka_unit_test(test_queue_limit),
	    cmocka_unit_test(test_queue_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
