/* Unit tests for the infrastructure deploy planner (region/ipam/plan.h): the
 * diff between deployed and staged designs and its safe order -- create,
 * connect, disconnect, join an existing network (also within one instance
 * array), delete, change, SAN pruning, validation and the no-op. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "region/ipam/plan.h"

/* A design built up in place. */
struct db {
	struct infra_array arrays[8];
	struct infra_network networks[8];
	struct infra_connection conns[16];
	struct infra_design d;
};

static void db_init(struct db *b)
{
	memset(b, 0, sizeof(*b));
	b->d.arrays = b->arrays;
	b->d.networks = b->networks;
	b->d.conns = b->conns;
}

static void db_array(struct db *b, int64_t id, const char *name, uint32_t instances, uint32_t ports, uint32_t drives)
{
	b->arrays[b->d.n_arrays++] =
	    (struct infra_array){id, name, instances, ports, drives, 0, 0, 0, NULL, NULL, NULL};
}

static void db_net(struct db *b, int64_t id, const char *name, enum infra_net_type t)
{
	b->networks[b->d.n_networks++] = (struct infra_network){id, name, t};
}

static void db_conn(struct db *b, int64_t array, uint32_t port, int64_t net)
{
	b->conns[b->d.n_conns++] = (struct infra_connection){array, port, net};
}

/* Render a plan as one line per action, e.g. "create network 10" or
 * "create connection 1:0->10", so expectations read like the plan a user sees. */
static void render(const struct plan *p, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n && off < len; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->object == PLAN_OBJ_CONNECTION)
			off += (size_t)snprintf(buf + off, len - off, "%s connection %lld:%u->%lld%s\n",
						plan_op_name(a->op), (long long)a->conn.array_id, a->conn.port,
						(long long)a->conn.network_id, a->san_pruned ? " (san)" : "");
		else
			off += (size_t)snprintf(buf + off, len - off, "%s %s %lld%s\n", plan_op_name(a->op),
						plan_object_name(a->object), (long long)a->id,
						a->san_pruned ? " (san)" : "");
	}
}

static void plan_is(const struct db *dep, const struct db *stg, const char *want)
{
	struct plan p;
	struct plan_error err;
	char got[2048];

	int r = plan_compute(dep ? &dep->d : NULL, stg ? &stg->d : NULL, &p, &err);
	if (r != 0)
		fail_msg("plan_compute: %d (%s)", r, err.reason);
	render(&p, got, sizeof(got));
	assert_string_equal(got, want);
	plan_done(&p);
}

/* Two instance arrays and a LAN between them. */
static void base_design(struct db *b)
{
	db_init(b);
	db_array(b, 1, "web", 2, 2, 0);
	db_array(b, 2, "db", 1, 2, 0);
	db_net(b, 10, "lan-a", INFRA_NET_LAN);
	db_conn(b, 1, 0, 10);
	db_conn(b, 2, 0, 10);
}

static void test_noop(void **state)
{
	struct db dep, stg;

	base_design(&dep);
	base_design(&stg);
	plan_is(&dep, &stg, "");
	/* order of the input does not matter */
	stg.conns[0] = dep.conns[1];
	stg.conns[1] = dep.conns[0];
	stg.arrays[0] = dep.arrays[1];
	stg.arrays[1] = dep.arrays[0];
	plan_is(&dep, &stg, "");
	plan_is(NULL, NULL, "");
}

static void test_create_from_empty(void **state)
{
	struct db stg;

	base_design(&stg);
	db_net(&stg, 11, "wan", INFRA_NET_WAN);
	db_conn(&stg, 1, 1, 11);
	plan_is(NULL, &stg,
		"create network 10\n"
		"create network 11\n"
		"create instance_array 1\n"
		"create instance_array 2\n"
		"create connection 1:0->10\n"
		"create connection 1:1->11\n"
		"create connection 2:0->10\n");
}

static void test_connect_new_network(void **state)
{
	struct db dep, stg;

	/* drag from a port of one array to a port of the other: a new LAN */
	base_design(&dep);
	base_design(&stg);
	db_net(&stg, 12, "lan-b", INFRA_NET_LAN);
	db_conn(&stg, 1, 1, 12);
	db_conn(&stg, 2, 1, 12);
	plan_is(&dep, &stg,
		"create network 12\n"
		"create connection 1:1->12\n"
		"create connection 2:1->12\n");
}

static void test_join_existing(void **state)
{
	struct db dep, stg;

	/* a third array joins the existing LAN */
	base_design(&dep);
	base_design(&stg);
	db_array(&stg, 3, "cache", 3, 1, 0);
	db_conn(&stg, 3, 0, 10);
	plan_is(&dep, &stg,
		"create instance_array 3\n"
		"create connection 3:0->10\n");

	/* within one instance array: its second port joins the same network */
	base_design(&stg);
	db_conn(&stg, 1, 1, 10);
	plan_is(&dep, &stg, "create connection 1:1->10\n");

	/* a network that only one array's servers share (seed: option #2) */
	base_design(&dep);
	db_net(&dep, 13, "private", INFRA_NET_LAN);
	db_conn(&dep, 2, 1, 13);
	base_design(&stg);
	db_net(&stg, 13, "private", INFRA_NET_LAN);
	db_conn(&stg, 2, 1, 13);
	db_conn(&stg, 1, 1, 13);
	plan_is(&dep, &stg, "create connection 1:1->13\n");
}

static void test_disconnect(void **state)
{
	struct db dep, stg;

	base_design(&dep);
	base_design(&stg);
	stg.d.n_conns = 1; /* drop 2:0->10 */
	plan_is(&dep, &stg, "delete connection 2:0->10\n");
}

static void test_move_port(void **state)
{
	struct db dep, stg;

	base_design(&dep);
	base_design(&stg);
	db_net(&stg, 14, "lan-c", INFRA_NET_LAN);
	stg.conns[1].network_id = 14; /* 2:0 moves from 10 to 14 */
	plan_is(&dep, &stg,
		"create network 14\n"
		"delete connection 2:0->10\n"
		"create connection 2:0->14\n");
}

static void test_delete_network_and_array(void **state)
{
	struct db dep, stg;

	/* delete the LAN: both disconnects come first */
	base_design(&dep);
	db_init(&stg);
	db_array(&stg, 1, "web", 2, 2, 0);
	db_array(&stg, 2, "db", 1, 2, 0);
	plan_is(&dep, &stg,
		"delete connection 1:0->10\n"
		"delete connection 2:0->10\n"
		"delete network 10\n");

	/* delete an array: its connections go, then it; the network stays */
	db_init(&stg);
	db_array(&stg, 1, "web", 2, 2, 0);
	db_net(&stg, 10, "lan-a", INFRA_NET_LAN);
	db_conn(&stg, 1, 0, 10);
	plan_is(&dep, &stg,
		"delete connection 2:0->10\n"
		"delete instance_array 2\n");

	/* everything */
	plan_is(&dep, NULL,
		"delete connection 1:0->10\n"
		"delete connection 2:0->10\n"
		"delete instance_array 1\n"
		"delete instance_array 2\n"
		"delete network 10\n");
}

static void test_change(void **state)
{
	struct db dep, stg;
	struct plan p;

	base_design(&dep);
	base_design(&stg);
	stg.arrays[0].instance_count = 4;
	stg.arrays[0].name = "web-frontend";
	stg.networks[0].name = "lan-renamed";
	assert_int_equal(plan_compute(&dep.d, &stg.d, &p, NULL), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.actions[0].op, PLAN_OP_CHANGE);
	assert_int_equal(p.actions[0].object, PLAN_OBJ_NETWORK);
	assert_int_equal(p.actions[0].changed, PLAN_CHANGED_NAME);
	assert_string_equal(p.actions[0].network_old->name, "lan-a");
	assert_string_equal(p.actions[0].network_new->name, "lan-renamed");
	assert_int_equal(p.actions[1].op, PLAN_OP_CHANGE);
	assert_int_equal(p.actions[1].object, PLAN_OBJ_ARRAY);
	assert_int_equal(p.actions[1].id, 1);
	assert_int_equal(p.actions[1].changed, PLAN_CHANGED_NAME | PLAN_CHANGED_INSTANCES);
	assert_int_equal(p.actions[1].array_old->instance_count, 2);
	assert_int_equal(p.actions[1].array_new->instance_count, 4);
	plan_done(&p);

	/* The machines' requirements alone make a change (it applies to the
	 * instances bound from then on). */
	base_design(&stg);
	stg.arrays[0].min_memory_gib = 16;
	assert_int_equal(plan_compute(&dep.d, &stg.d, &p, NULL), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.actions[0].object, PLAN_OBJ_ARRAY);
	assert_int_equal(p.actions[0].changed, PLAN_CHANGED_REQUIREMENTS);
	assert_int_equal(p.actions[0].array_new->min_memory_gib, 16);
	plan_done(&p);

	/* type change is reported as such */
	base_design(&stg);
	stg.networks[0].type = INFRA_NET_WAN;
	assert_int_equal(plan_compute(&dep.d, &stg.d, &p, NULL), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.actions[0].changed, PLAN_CHANGED_TYPE);
	plan_done(&p);

	/* NULL name equals "" */
	base_design(&dep);
	base_design(&stg);
	dep.arrays[1].name = NULL;
	stg.arrays[1].name = "";
	plan_is(&dep, &stg, "");
}

/* Port count changes sit between disconnects and connects. */
static void test_port_changes_order(void **state)
{
	struct db dep, stg;

	base_design(&dep);
	db_conn(&dep, 1, 1, 10);
	base_design(&stg);
	stg.arrays[0].n_ports = 1; /* port 1 goes away ... */
	stg.arrays[1].n_ports = 3; /* ... and array 2 gets a port 2 */
	db_conn(&stg, 2, 2, 10);
	plan_is(&dep, &stg,
		"delete connection 1:1->10\n"
		"change instance_array 1\n"
		"change instance_array 2\n"
		"create connection 2:2->10\n");
}

static void test_san(void **state)
{
	struct db dep, stg;
	struct plan p;

	/* a SAN staged for an array without drives is not created */
	base_design(&dep);
	base_design(&stg);
	db_net(&stg, 20, "san", INFRA_NET_SAN);
	db_conn(&stg, 2, 1, 20);
	plan_is(&dep, &stg, "");

	/* with drives attached it is */
	stg.arrays[1].drive_count = 2;
	plan_is(&dep, &stg,
		"create network 20\n"
		"change instance_array 2\n"
		"create connection 2:1->20\n");

	/* deployed with drives; the drives are detached in the staged design */
	base_design(&dep);
	dep.arrays[1].drive_count = 2;
	db_net(&dep, 20, "san", INFRA_NET_SAN);
	db_conn(&dep, 2, 1, 20);
	plan_is(&dep, &stg, "");
	stg.arrays[1].drive_count = 0;
	plan_is(&dep, &stg,
		"delete connection 2:1->20 (san)\n"
		"change instance_array 2\n"
		"delete network 20 (san)\n");
	assert_int_equal(plan_compute(&dep.d, &stg.d, &p, NULL), 0);
	assert_int_equal(p.actions[1].changed, PLAN_CHANGED_DRIVES);
	plan_done(&p);
}

static void invalid_is(const struct db *dep, const struct db *stg, bool staged, enum plan_object o, size_t index,
		       const char *reason)
{
	struct plan p;
	struct plan_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(plan_compute(&dep->d, &stg->d, &p, &err), -EINVAL);
	assert_int_equal(p.n, 0);
	assert_null(p.actions);
	assert_int_equal(err.staged, staged);
	assert_int_equal(err.object, o);
	assert_int_equal(err.index, index);
	assert_string_equal(err.reason, reason);
	plan_done(&p); /* harmless */
}

static void test_invalid(void **state)
{
	struct db dep, stg;

	base_design(&dep);
	base_design(&stg);
	db_array(&stg, 1, "dup", 1, 1, 0);
	invalid_is(&dep, &stg, true, PLAN_OBJ_ARRAY, 2, "duplicate id");

	base_design(&stg);
	db_net(&stg, 10, "dup", INFRA_NET_LAN);
	invalid_is(&dep, &stg, true, PLAN_OBJ_NETWORK, 1, "duplicate id");

	base_design(&stg);
	db_conn(&stg, 1, 1, 99);
	invalid_is(&dep, &stg, true, PLAN_OBJ_CONNECTION, 2, "unknown network");

	base_design(&stg);
	db_conn(&stg, 7, 0, 10);
	invalid_is(&dep, &stg, true, PLAN_OBJ_CONNECTION, 2, "unknown instance array");

	base_design(&stg);
	db_conn(&stg, 1, 2, 10);
	invalid_is(&dep, &stg, true, PLAN_OBJ_CONNECTION, 2, "port out of range");

	base_design(&stg);
	db_conn(&stg, 1, 0, 10);
	invalid_is(&dep, &stg, true, PLAN_OBJ_CONNECTION, 2, "duplicate connection");

	base_design(&stg);
	stg.networks[0].type = (enum infra_net_type)7;
	invalid_is(&dep, &stg, true, PLAN_OBJ_NETWORK, 0, "bad network type");

	/* the deployed design is checked too */
	base_design(&stg);
	dep.conns[0].port = 5;
	invalid_is(&dep, &stg, false, PLAN_OBJ_CONNECTION, 0, "port out of range");

	/* ret_err may be NULL */
	struct plan p;
	assert_int_equal(plan_compute(&dep.d, &stg.d, &p, NULL), -EINVAL);
}

static void test_names(void **state)
{
	assert_string_equal(plan_op_name(PLAN_OP_CREATE), "create");
	assert_string_equal(plan_op_name(PLAN_OP_CHANGE), "change");
	assert_string_equal(plan_op_name(PLAN_OP_DELETE), "delete");
	assert_string_equal(plan_op_name((enum plan_op)9), "?");
	assert_string_equal(plan_object_name(PLAN_OBJ_NETWORK), "network");
	assert_string_equal(plan_object_name(PLAN_OBJ_ARRAY), "instance_array");
	assert_string_equal(plan_object_name(PLAN_OBJ_CONNECTION), "connection");
	assert_string_equal(infra_net_type_name(INFRA_NET_LAN), "lan");
	assert_string_equal(infra_net_type_name(INFRA_NET_WAN), "wan");
	assert_string_equal(infra_net_type_name(INFRA_NET_SAN), "san");
	plan_done(NULL);
}

/* ---- machine binding ---- */

static const char *const tag_gpu[] = {"gpu"};
/* Four READY machines: two small in default, one large with a GPU, one
 * in another zone. */
static const struct alloc_machine bind_fleet[] = {
    {.id = 11, .hostname = "s1", .zone = "default", .cpu_count = 2, .memory_mib = 4096, .interfaces = 1},
    {.id = 12, .hostname = "s2", .zone = "default", .cpu_count = 2, .memory_mib = 4096, .interfaces = 2},
    {.id = 13,
     .hostname = "l1",
     .zone = "default",
     .cpu_count = 16,
     .memory_mib = 65536,
     .interfaces = 2,
     .tags = tag_gpu,
     .n_tags = 1},
    {.id = 14, .hostname = "o1", .zone = "other", .cpu_count = 64, .memory_mib = 262144, .interfaces = 4},
};

static void test_bind_best_fit_in_zone(void **state)
{
	struct alloc_filter web = {.zone = "default"}, db = {.zone = "default", .min_cpu = 8};
	const struct plan_bind_need needs[] = {
	    {1, "web", 0, &web},
	    {1, "web", 1, &web},
	    {2, "db", 0, &db},
	};
	long pick[3];
	char text[512];

	assert_int_equal(plan_bind(needs, 3, bind_fleet, 4, pick), 0);
	/* The two small machines for web (best fit), the large one for db;
	 * never the machine of the other zone. */
	assert_int_equal(pick[0], 0);
	assert_int_equal(pick[1], 1);
	assert_int_equal(pick[2], 2);
	plan_bind_shortage(needs, 3, pick, bind_fleet, 4, text, sizeof(text));
	assert_string_equal(text, "");
}

static void test_bind_ports_need_interfaces(void **state)
{
	/* Two ports connected: only machines with two NICs qualify. */
	struct alloc_filter two = {.zone = "default", .min_interfaces = 2};
	const struct plan_bind_need needs[] = {{1, "web", 0, &two}, {1, "web", 1, &two}, {1, "web", 2, &two}};
	long pick[3];
	char text[512];

	assert_int_equal(plan_bind(needs, 3, bind_fleet, 4, pick), 1);
	assert_int_equal(pick[0], 1);
	assert_int_equal(pick[1], 2);
	assert_int_equal(pick[2], -1);
	plan_bind_shortage(needs, 3, pick, bind_fleet, 4, text, sizeof(text));
	assert_string_equal(text, "instance array \"web\" needs 3 machines in zone default with at least 2 "
				  "interfaces; 2 READY machines match");
}

static void test_bind_shortage_texts(void **state)
{
	struct alloc_filter web = {.zone = "default"}, big = {.zone = "default", .min_cpu = 32};
	struct alloc_filter any = {.zone = "default", .min_cpu = 2};
	long pick[4];
	char text[1024];

	/* No machine meets the array's requirements at all: the allocation's
	 * own sentence. */
	const struct plan_bind_need huge[] = {{7, "db", 0, &big}};
	assert_int_equal(plan_bind(huge, 1, bind_fleet, 4, pick), 1);
	plan_bind_shortage(huge, 1, pick, bind_fleet, 4, text, sizeof(text));
	assert_string_equal(text, "instance array \"db\": no READY machine in zone default with at least 32 CPUs: 3 "
				  "READY machines there, the largest has 16 CPUs");

	/* Machines that match went to another array first. */
	const struct plan_bind_need two[] = {
	    {1, "web", 0, &web}, {1, "web", 1, &web}, {1, "web", 2, &web}, {2, "app", 0, &any}};
	assert_int_equal(plan_bind(two, 4, bind_fleet, 4, pick), 1);
	assert_int_equal(pick[3], -1);
	plan_bind_shortage(two, 4, pick, bind_fleet, 4, text, sizeof(text));
	assert_string_equal(text, "instance array \"app\" needs 1 machine in zone default with at least 2 CPUs; 3 "
				  "READY machines match (3 of them for instances of other arrays)");

	/* No machines at all; two arrays short: one sentence each. */
	const struct plan_bind_need none[] = {{1, "web", 0, &web}, {1, "web", 1, &web}, {2, "db", 0, &big}};
	assert_int_equal(plan_bind(none, 3, bind_fleet, 0, pick), 3);
	plan_bind_shortage(none, 3, pick, bind_fleet, 0, text, sizeof(text));
	assert_string_equal(text, "instance array \"web\": no READY machine in zone default: there are no READY "
				  "machines at all; instance array \"db\": no READY machine in zone default with at "
				  "least 32 CPUs: there are no READY machines at all");
	/* Nothing needed. */
	assert_int_equal(plan_bind(NULL, 0, bind_fleet, 4, pick), 0);
	plan_bind_shortage(NULL, 0, pick, bind_fleet, 4, text, sizeof(text));
	assert_string_equal(text, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_noop),
	    cmocka_unit_test(test_create_from_empty),
	    cmocka_unit_test(test_connect_new_network),
	    cmocka_unit_test(test_join_existing),
	    cmocka_unit_test(test_disconnect),
	    cmocka_unit_test(test_move_port),
	    cmocka_unit_test(test_delete_network_and_array),
	    cmocka_unit_test(test_change),
	    cmocka_unit_test(test_port_changes_order),
	    cmocka_unit_test(test_san),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_bind_best_fit_in_zone),
	    cmocka_unit_test(test_bind_ports_need_interfaces),
	    cmocka_unit_test(test_bind_shortage_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
