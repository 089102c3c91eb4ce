/* Unit tests for the pure parts of the infrastructure editor: the REST
 * API's body parsing and JSON (region/api/infra_json.c) and the CLI's
 * tables (region/cli/infra_print.c, included directly: region/cli/ is not
 * in libregion.a). The database side is covered by
 * tests/system/test_infra.py. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region/api/infra.h"
#include "region/cli/infra_print.c"
#include "region/cli/table.c"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	assert_non_null(j);
	return j;
}

static void test_new_parse(void **state)
{
	struct infra_new in;
	struct ipprefix *pools = NULL;
	struct api_fail fail;
	char t[IPPREFIX_STRLEN];

	json_t *b = parse("{\"name\":\"web\",\"description\":\"d\",\"wan_pools\":[\"192.0.2.0/24\",\"10.0.0.0/16\"]}");
	assert_int_equal(api_infra_new_parse(b, &in, &pools, &fail), 0);
	assert_string_equal(in.name, "web");
	assert_string_equal(in.description, "d");
	assert_null(in.zone);
	assert_int_equal(in.n_wan_pools, 2);
	assert_string_equal(ipprefix_format(&in.wan_pools[1], t, sizeof(t)), "10.0.0.0/16");
	free(pools);
	json_decref(b);

	static const struct {
		const char *body, *field, *text;
	} bad[] = {
	    {"[]", "", "object"},
	    {"{}", "name", "required"},
	    {"{\"name\":1}", "name", "string"},
	    {"{\"name\":\"a\",\"colour\":\"red\"}", "colour", "unknown"},
	    {"{\"name\":\"a\",\"wan_pools\":\"192.0.2.0/24\"}", "wan_pools", "array"},
	    {"{\"name\":\"a\",\"wan_pools\":[\"192.0.2.1/24\"]}", "wan_pools", "192.0.2.0/24"},
	    {"{\"name\":\"a\",\"wan_pools\":[\"192.0.2.1\"]}", "wan_pools", "prefix"},
	    {"{\"name\":\"a\",\"wan_pools\":[\"nonsense\"]}", "wan_pools", "prefix"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = parse(bad[i].body);
		pools = NULL;
		assert_int_equal(api_infra_new_parse(b, &in, &pools, &fail), -EINVAL);
		assert_string_equal(fail.field, bad[i].field);
		assert_non_null(strstr(fail.message, bad[i].text));
		assert_null(pools);
		json_decref(b);
	}
}

static void test_array_parse(void **state)
{
	struct infra_array_spec spec;
	struct api_fail fail;

	json_t *b = parse("{\"name\":\"web\",\"instance_count\":3}");
	assert_int_equal(api_infra_array_parse(b, true, &spec, &fail), 0);
	assert_true(spec.set_instances && spec.instances == 3 && !spec.set_ports);
	json_decref(b);

	b = parse("{\"ports\":4}");
	assert_int_equal(api_infra_array_parse(b, true, &spec, &fail), -EINVAL);
	assert_string_equal(fail.field, "name");
	assert_int_equal(api_infra_array_parse(b, false, &spec, &fail), 0);
	assert_true(spec.set_ports && spec.ports == 4 && !spec.name);
	json_decref(b);

	const char *bad[][2] = {
	    {"{\"name\":\"a\",\"instance_count\":1025}", "instance_count"},
	    {"{\"name\":\"a\",\"instance_count\":-1}", "instance_count"},
	    {"{\"name\":\"a\",\"instance_count\":2.5}", "instance_count"},
	    {"{\"name\":\"a\",\"ports\":0}", "ports"},
	    {"{\"name\":\"a\",\"ports\":17}", "ports"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = parse(bad[i][0]);
		assert_int_equal(api_infra_array_parse(b, true, &spec, &fail), -EINVAL);
		assert_string_equal(fail.field, bad[i][1]);
		json_decref(b);
	}
	b = parse("{}");
	assert_int_equal(api_infra_array_parse(b, false, &spec, &fail), -EINVAL);
	json_decref(b);
}

/* An array's OS: image ("" = none), user_data, ssh_keys kept as JSON. */
static void test_array_os_parse(void **state)
{
	struct infra_array_spec spec;
	struct api_fail fail;

	json_t *b = parse("{\"image\":\"deb-12\",\"user_data\":\"#cloud-config\\n\","
			  "\"ssh_keys\":[\"ssh-ed25519 AAAA a@b\"]}");
	assert_int_equal(api_infra_array_parse(b, false, &spec, &fail), 0);
	assert_string_equal(spec.image, "deb-12");
	assert_string_equal(spec.user_data, "#cloud-config\n");
	char *keys = api_infra_array_keys_dump(b);
	assert_string_equal(keys, "[\"ssh-ed25519 AAAA a@b\"]");
	free(keys);
	json_decref(b);

	b = parse("{\"image\":\"\"}");
	assert_int_equal(api_infra_array_parse(b, false, &spec, &fail), 0);
	assert_string_equal(spec.image, "");
	assert_null(spec.user_data);
	assert_null(api_infra_array_keys_dump(b));
	json_decref(b);

	const char *bad[][2] = {
	    {"{\"image\":\"../x\"}", "image"},	   {"{\"image\":\"-x\"}", "image"},
	    {"{\"image\":\"a/b\"}", "image"},	   {"{\"image\":3}", "image"},
	    {"{\"user_data\":5}", "user_data"},	   {"{\"ssh_keys\":\"ssh-rsa x\"}", "ssh_keys"},
	    {"{\"ssh_keys\":[\"\"]}", "ssh_keys"}, {"{\"ssh_keys\":[\"ssh-rsa a\\nssh-rsa b\"]}", "ssh_keys"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = parse(bad[i][0]);
		assert_int_equal(api_infra_array_parse(b, false, &spec, &fail), -EINVAL);
		assert_string_equal(fail.field, bad[i][1]);
		json_decref(b);
	}
}

static void test_network_and_conn_parse(void **state)
{
	const char *name, *array, *net;
	enum infra_net_type type;
	uint32_t port;
	struct api_fail fail;

	json_t *b = parse("{\"name\":\"s\",\"type\":\"san\"}");
	assert_int_equal(api_infra_network_parse(b, true, &name, &type, &fail), 0);
	assert_int_equal(type, INFRA_NET_SAN);
	assert_int_equal(api_infra_network_parse(b, false, &name, &type, &fail), -EINVAL);
	assert_string_equal(fail.field, "type"); /* rename takes only a name */
	json_decref(b);
	b = parse("{\"name\":\"s\",\"type\":\"dmz\"}");
	assert_int_equal(api_infra_network_parse(b, true, &name, &type, &fail), -EINVAL);
	assert_string_equal(fail.field, "type");
	json_decref(b);

	b = parse("{\"array\":\"web\",\"network\":\"n\"}");
	assert_int_equal(api_infra_conn_parse(b, &array, &port, &net, &fail), 0);
	assert_int_equal(port, 0);
	json_decref(b);
	b = parse("{\"array\":\"web\",\"port\":\"eth3\",\"network\":\"n\"}");
	assert_int_equal(api_infra_conn_parse(b, &array, &port, &net, &fail), 0);
	assert_int_equal(port, 3);
	json_decref(b);
	const char *bad[] = {"{\"array\":\"w\",\"port\":16,\"network\":\"n\"}",
			     "{\"array\":\"w\",\"port\":\"eth-1\",\"network\":\"n\"}",
			     "{\"array\":\"w\",\"port\":\"eth\",\"network\":\"n\"}",
			     "{\"array\":\"w\",\"port\":true,\"network\":\"n\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = parse(bad[i]);
		assert_int_equal(api_infra_conn_parse(b, &array, &port, &net, &fail), -EINVAL);
		assert_string_equal(fail.field, "port");
		json_decref(b);
	}

	assert_int_equal(api_infra_port_text_parse("15", &port), 0);
	assert_int_equal(port, 15);
	assert_int_equal(api_infra_port_text_parse("eth0", &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(api_infra_port_text_parse("eth16", &port), -EINVAL);
	assert_int_equal(api_infra_port_text_parse("-1", &port), -EINVAL);
	assert_int_equal(api_infra_port_text_parse("", &port), -EINVAL);
}

static void test_order_and_drive_parse(void **state)
{
	unsigned len;
	uint32_t size;
	struct api_fail fail;

	json_t *b = parse("{\"prefix_length\":28}");
	assert_int_equal(api_infra_order_parse(b, &len, &fail), 0);
	assert_int_equal(len, 28);
	json_decref(b);
	const char *bad[] = {"{}", "{\"prefix_length\":0}", "{\"prefix_length\":33}", "{\"prefix_length\":\"28\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = parse(bad[i]);
		assert_int_equal(api_infra_order_parse(b, &len, &fail), -EINVAL);
		assert_string_equal(fail.field, "prefix_length");
		json_decref(b);
	}
	b = parse("{\"size_gb\":100}");
	assert_int_equal(api_infra_drive_parse(b, &size, &fail), 0);
	assert_int_equal(size, 100);
	json_decref(b);
	b = parse("{\"size_gb\":0}");
	assert_int_equal(api_infra_drive_parse(b, &size, &fail), -EINVAL);
	assert_string_equal(fail.field, "size_gb");
	json_decref(b);
}

/* A deploy's result as the API shows it and the CLI prints it. */
static void test_plan_json_and_print(void **state)
{
	struct infra_action actions[] = {
	    {.op = PLAN_OP_CREATE, .object = PLAN_OBJ_NETWORK, .name = "wan0", .type = INFRA_NET_WAN},
	    {.op = PLAN_OP_CHANGE,
	     .object = PLAN_OBJ_ARRAY,
	     .name = "web",
	     .changed = PLAN_CHANGED_INSTANCES,
	     .old_instances = 2,
	     .new_instances = 6},
	    {.op = PLAN_OP_CREATE,
	     .object = PLAN_OBJ_CONNECTION,
	     .array = "web",
	     .port = 1,
	     .network = "wan0",
	     .type = INFRA_NET_WAN},
	    {.op = PLAN_OP_DELETE,
	     .object = PLAN_OBJ_NETWORK,
	     .name = "san0",
	     .type = INFRA_NET_SAN,
	     .san_pruned = true},
	};
	struct infra_alloc allocs[] = {
	    {.kind = INFRA_ALLOC_VLAN, .network = "wan0", .vid = 2000},
	    {.kind = INFRA_ALLOC_BLOCK_GROW, .network = "wan0"},
	};
	ipprefix_parse("192.0.2.0/29", true, &allocs[1].from);
	ipprefix_parse("192.0.2.0/28", true, &allocs[1].block);
	struct infra_plan_result r = {
	    .revision = 3, .applied = true, .actions = actions, .n_actions = 4, .allocs = allocs, .n_allocs = 2};

	json_t *j = api_infra_plan_json("shop", &r);
	assert_non_null(j);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(text, "\"changes\":{\"instance_count\":{\"from\":2,\"to\":6}}"));
	assert_non_null(strstr(text, "\"port_name\":\"eth1\""));
	assert_non_null(strstr(text, "\"reason\":\"san_without_drives\""));
	assert_non_null(strstr(text, "{\"from\":\"192.0.2.0/29\",\"kind\":\"primary\",\"network\":\"wan0\","
				     "\"object\":\"subnet\",\"op\":\"grow\",\"prefix\":\"192.0.2.0/28\"}"));
	free(text);

	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_int_equal(cli_infra_plan_print(j, true, out), 0);
	fclose(out);
	assert_string_equal(buf, "Deployed shop, revision 3:\n"
				 "ACTION    OBJECT          NAME              DETAIL\n"
				 "create    network         wan0              wan\n"
				 "change    instance array  web               instance_count 2 -> 6\n"
				 "create    connection      web:eth1 -> wan0  wan\n"
				 "delete    network         san0              san, SAN without drives\n"
				 "allocate  vlan            wan0              vid 2000\n"
				 "grow      subnet          wan0              192.0.2.0/29 -> 192.0.2.0/28\n");
	free(buf);
	json_decref(j);

	struct infra_plan_result empty = {.revision = 3};
	j = api_infra_plan_json("shop", &empty);
	out = open_memstream(&buf, &len);
	assert_int_equal(cli_infra_plan_print(j, false, out), 0);
	fclose(out);
	assert_string_equal(buf, "Nothing to deploy: the staged design of shop is the deployed one.\n");
	free(buf);
	json_decref(j);
}

/* Shrinking a WAN: the plan's JSON and the CLI show the block released
 * and the block halved (docs/deploy.md, "Shrinking a WAN"). */
static void test_plan_shrink_json_and_print(void **state)
{
	struct infra_alloc allocs[] = {
	    {.kind = INFRA_ALLOC_BLOCK_RELEASE, .network = "wan1"},
	    {.kind = INFRA_ALLOC_BLOCK_SHRINK, .network = "wan1"},
	};
	ipprefix_parse("198.18.0.32/29", true, &allocs[0].block);
	ipprefix_parse("198.18.0.0/27", true, &allocs[1].from);
	ipprefix_parse("198.18.0.0/29", true, &allocs[1].block);
	struct infra_plan_result r = {.revision = 4, .allocs = allocs, .n_allocs = 2};

	json_t *j = api_infra_plan_json("om", &r);
	assert_non_null(j);
	char *text = json_dumps(json_object_get(j, "allocations"), JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "[{\"kind\":\"primary\",\"network\":\"wan1\",\"object\":\"subnet\",\"op\":"
				  "\"release\",\"prefix\":\"198.18.0.32/29\"},{\"from\":\"198.18.0.0/27\",\"kind\":"
				  "\"primary\",\"network\":\"wan1\",\"object\":\"subnet\",\"op\":\"shrink\",\"prefix\":"
				  "\"198.18.0.0/29\"}]");
	free(text);

	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_int_equal(cli_infra_plan_print(j, false, out), 0);
	fclose(out);
	assert_string_equal(buf, "Plan for om (revision 4 -> 5):\n"
				 "ACTION   OBJECT  NAME  DETAIL\n"
				 "release  subnet  wan1  198.18.0.32/29 (primary)\n"
				 "shrink   subnet  wan1  198.18.0.0/27 -> 198.18.0.0/29\n");
	free(buf);
	json_decref(j);
}

static void test_infra_json(void **state)
{
	struct infra_block_row blocks[2] = {{.extra = false}, {.extra = true}};
	ipprefix_parse("192.0.2.0/29", true, &blocks[0].prefix);
	ipprefix_parse("192.0.2.16/28", true, &blocks[1].prefix);
	struct infra_network_row dnet = {.id = 1,
					 .name = "wan0",
					 .type = INFRA_NET_WAN,
					 .vid = 2000,
					 .has_gateway = true,
					 .blocks = blocks,
					 .n_blocks = 2};
	ipaddr_parse("192.0.2.1", &dnet.gateway);
	struct infra_network_row snet = {.id = 1, .name = "wan0", .type = INFRA_NET_WAN};
	struct infra_instance_row inst[] = {{.index = 0, .machine = "node1"}, {.index = 1}};
	struct infra_array_row darr = {.id = 2, .name = "web", .instances = 2, .ports = 2, .inst = inst, .n_inst = 2};
	struct infra_array_row sarr = {.id = 2, .name = "web", .instances = 2, .ports = 2};
	struct infra_conn_row conn = {.array_id = 2, .port = 0, .network_id = 1, .array = "web", .network = "wan0"};
	struct infra_row row = {
	    .name = "shop",
	    .description = "",
	    .zone = "default",
	    .fabric = "fabric-0",
	    .revision = 1,
	    .staged = {&sarr, 1, &snet, 1, &conn, 1},
	    .deployed = {&darr, 1, &dnet, 1, &conn, 1},
	};

	json_t *j = api_infra_json(&row, true);
	assert_non_null(j);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(text, "\"deployed_at\":null"));
	assert_non_null(strstr(text, "\"gateway\":\"192.0.2.1\""));
	assert_non_null(strstr(text, "\"subnets\":[{\"kind\":\"primary\",\"prefix\":\"192.0.2.0/29\"},"
				     "{\"kind\":\"extra\",\"prefix\":\"192.0.2.16/28\"}]"));
	assert_non_null(
	    strstr(text, "\"instances\":[{\"index\":0,\"machine\":\"node1\"},{\"index\":1,\"machine\":null}]"));
	/* The staged design has no deployed-only members. */
	json_t *staged = json_object_get(j, "staged");
	assert_null(json_object_get(json_array_get(json_object_get(staged, "networks"), 0), "vid"));
	assert_null(json_object_get(json_array_get(json_object_get(staged, "instance_arrays"), 0), "instances"));
	free(text);

	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_int_equal(cli_infra_show_print(j, out), 0);
	fclose(out);
	assert_non_null(strstr(buf, "  wan0     wan   2000  192.0.2.1  192.0.2.0/29, 192.0.2.16/28\n"));
	assert_non_null(strstr(buf, "  web:eth0  wan0\n"));
	free(buf);
	json_decref(j);
}

static void test_port_split(void **state)
{
	char array[16];
	const char *port;

	assert_int_equal(cli_infra_port_split("web:eth1", array, sizeof(array), &port), 0);
	assert_string_equal(array, "web");
	assert_string_equal(port, "eth1");
	assert_int_equal(cli_infra_port_split("web", array, sizeof(array), &port), 0);
	assert_string_equal(port, "eth0");
	assert_int_equal(cli_infra_port_split(":1", array, sizeof(array), &port), -EINVAL);
	assert_int_equal(cli_infra_port_split("web:", array, sizeof(array), &port), -EINVAL);
	assert_int_equal(cli_infra_port_split("a-very-long-array-name:1", array, sizeof(array), &port), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_parse),
	    cmocka_unit_test(test_array_parse),
	    cmocka_unit_test(test_array_os_parse),
	    cmocka_unit_test(test_network_and_conn_parse),
	    cmocka_unit_test(test_order_and_drive_parse),
	    cmocka_unit_test(test_plan_json_and_print),
	    cmocka_unit_test(test_plan_shrink_json_and_print),
	    cmocka_unit_test(test_infra_json),
	    cmocka_unit_test(test_port_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
