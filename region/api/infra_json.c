/* The infrastructure editor's JSON: request bodies -> our structs, rows and
 * plans -> replies. Pure: no I/O, no libevent, no clock, no logging. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/api/infra.h"
#include "region/db/deploy_db.h"
#include "region/machine/nocloud.h"

/* ---- bodies ---- */

enum field_kind { F_STRING, F_INTEGER, F_STRINGS, F_PORT };

struct field {
	const char *name;
	enum field_kind kind;
};

static const char *kind_name(enum field_kind k)
{
	switch (k) {
	case F_STRING:
		return "a string";
	case F_INTEGER:
		return "an integer";
	case F_STRINGS:
		return "an array of strings";
	case F_PORT:
		return "a port number or name (eth0)";
	}
	return "?";
}

static bool kind_ok(enum field_kind k, const json_t *v)
{
	switch (k) {
	case F_STRING:
		return json_is_string(v);
	case F_INTEGER:
		return json_is_integer(v);
	case F_STRINGS:
		if (!json_is_array(v))
			return false;
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!json_is_string(json_array_get(v, i)))
				return false;
		return true;
	case F_PORT:
		return json_is_integer(v) || json_is_string(v);
	}
	return false;
}

/* The body is an object whose members are all known and of their type. */
static int body_check(const json_t *body, const struct field *fields, size_t n, struct api_fail *fail)
{
	const char *k;
	json_t *v;

	if (!json_is_object(body))
		return api_fail_set(fail, "", "body must be a JSON object");
	json_object_foreach((json_t *)body, k, v)
	{
		size_t i = 0;
		while (i < n && strcmp(fields[i].name, k) != 0)
			i++;
		if (i == n)
			return api_fail_set(fail, k, "unknown field \"%.64s\"", k);
		if (!kind_ok(fields[i].kind, v))
			return api_fail_set(fail, k, "%s must be %s", k, kind_name(fields[i].kind));
	}
	return 0;
}

static const char *str_member(const json_t *body, const char *name)
{
	return json_string_value(json_object_get(body, name));
}

static int u32_member(const json_t *body, const char *name, long min, long max, bool *ret_set, uint32_t *ret,
		      struct api_fail *fail)
{
	json_t *v = json_object_get(body, name);

	*ret_set = v != NULL;
	if (!v)
		return 0;
	json_int_t i = json_integer_value(v);
	if (i < min || i > max)
		return api_fail_set(fail, name, "%s must be from %ld to %ld", name, min, max);
	*ret = (uint32_t)i;
	return 0;
}

static int pools_parse(const json_t *arr, struct ipprefix **ret, size_t *ret_n, struct api_fail *fail)
{
	size_t n = json_array_size(arr);

	if (n > INFRA_WAN_POOLS_MAX)
		return api_fail_set(fail, "wan_pools", "at most %d WAN pools", INFRA_WAN_POOLS_MAX);
	struct ipprefix *pools = xcalloc(n + 1, sizeof(*pools));
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		char norm[IPPREFIX_STRLEN];
		int r = ipprefix_parse(s, true, &pools[i]);
		if (r < 0 || !strchr(s, '/')) {
			if (r < 0 && ipprefix_parse(s, false, &pools[i]) == 0)
				api_fail_set(fail, "wan_pools", "%.60s has host bits set; did you mean %s?", s,
					     ipprefix_format(&pools[i], norm, sizeof(norm)));
			else
				api_fail_set(fail, "wan_pools", "\"%.60s\" is not a prefix such as 192.0.2.0/24", s);
			free(pools);
			return -EINVAL;
		}
	}
	*ret = pools;
	*ret_n = n;
	return 0;
}

int api_infra_new_parse(const json_t *body, struct infra_new *ret, struct ipprefix **ret_pools, struct api_fail *fail)
{
	static const struct field fields[] = {{"name", F_STRING},
					      {"description", F_STRING},
					      {"zone", F_STRING},
					      {"fabric", F_STRING},
					      {"wan_pools", F_STRINGS}};

	memset(ret, 0, sizeof(*ret));
	*ret_pools = NULL;
	int r = body_check(body, fields, sizeof(fields) / sizeof(fields[0]), fail);
	if (r < 0)
		return r;
	ret->name = str_member(body, "name");
	if (!ret->name)
		return api_fail_set(fail, "name", "name is required");
	ret->description = str_member(body, "description");
	ret->zone = str_member(body, "zone");
	ret->fabric = str_member(body, "fabric");
	json_t *pools = json_object_get(body, "wan_pools");
	if (pools) {
		r = pools_parse(pools, ret_pools, &ret->n_wan_pools, fail);
		ret->wan_pools = *ret_pools;
	}
	return r;
}

int api_infra_update_parse(const json_t *body, struct infra_update *ret, struct ipprefix **ret_pools,
			   struct api_fail *fail)
{
	static const struct field fields[] = {{"description", F_STRING}, {"zone", F_STRING}, {"wan_pools", F_STRINGS}};

	memset(ret, 0, sizeof(*ret));
	*ret_pools = NULL;
	int r = body_check(body, fields, sizeof(fields) / sizeof(fields[0]), fail);
	if (r < 0)
		return r;
	if (json_object_size(body) == 0)
		return api_fail_set(fail, "", "nothing to change: give description, zone or wan_pools");
	ret->description = str_member(body, "description");
	ret->zone = str_member(body, "zone");
	json_t *pools = json_object_get(body, "wan_pools");
	if (pools) {
		ret->set_wan_pools = true;
		r = pools_parse(pools, ret_pools, &ret->n_wan_pools, fail);
		ret->wan_pools = *ret_pools;
	}
	return r;
}

#define IMAGE_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-"

/* A string without NUL bytes (JSON can carry \u0000). */
static bool is_text(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

/* The array's OS, checked as a machine deploy checks its body
 * (region/api/machines_deploy.c); "" as image = none. */
static int os_members(const json_t *body, struct infra_array_spec *ret, struct api_fail *fail)
{
	const json_t *v = json_object_get(body, "image");

	if (v) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (n > 63 || strspn(s, IMAGE_NAME_CHARS) != n || strlen(s) != n || (n && strchr("._+-", s[0]) != NULL))
			return api_fail_set(fail, "image", "image must be an image's name, or \"\" for none");
		ret->image = s;
	}
	v = json_object_get(body, "user_data");
	if (v) {
		if (!is_text(v) || json_string_length(v) > DEPLOY_USER_DATA_MAX)
			return api_fail_set(fail, "user_data", "user_data must be a string of at most %d bytes",
					    DEPLOY_USER_DATA_MAX);
		ret->user_data = json_string_value(v);
	}
	v = json_object_get(body, "ssh_keys");
	if (!v)
		return 0;
	if (json_array_size(v) > DEPLOY_SSH_KEYS_MAX)
		return api_fail_set(fail, "ssh_keys", "ssh_keys: at most %d keys", DEPLOY_SSH_KEYS_MAX);
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *k = json_array_get(v, i);
		const char *s = json_string_value(k);
		if (!is_text(k) || json_string_length(k) == 0 || json_string_length(k) > NOCLOUD_SSH_KEY_MAX)
			return api_fail_set(fail, "ssh_keys", "ssh_keys[%zu]: a key is a string of 1 to %d characters",
					    i, NOCLOUD_SSH_KEY_MAX);
		for (size_t j = 0; s[j]; j++)
			if ((unsigned char)s[j] < 0x20 || s[j] == 0x7f)
				return api_fail_set(fail, "ssh_keys",
						    "ssh_keys[%zu]: a key is one line without control characters", i);
	}
	return 0;
}

int api_infra_array_parse(const json_t *body, bool create, struct infra_array_spec *ret, struct api_fail *fail)
{
	static const struct field fields[] = {
	    {"name", F_STRING},	    {"instance_count", F_INTEGER}, {"ports", F_INTEGER},
	    {"min_cpu", F_INTEGER}, {"min_memory_gib", F_INTEGER}, {"min_disk_gb", F_INTEGER},
	    {"image", F_STRING},    {"user_data", F_STRING},	   {"ssh_keys", F_STRINGS}};

	memset(ret, 0, sizeof(*ret));
	int r = body_check(body, fields, sizeof(fields) / sizeof(fields[0]), fail);
	if (r < 0)
		return r;
	ret->name = str_member(body, "name");
	if (create && !ret->name)
		return api_fail_set(fail, "name", "name is required");
	if (!create && json_object_size(body) == 0)
		return api_fail_set(fail, "",
				    "nothing to change: give name, instance_count, ports, min_cpu, min_memory_gib, "
				    "min_disk_gb, image, user_data or ssh_keys");
	r = u32_member(body, "instance_count", 0, INFRA_INSTANCES_MAX, &ret->set_instances, &ret->instances, fail);
	if (r == 0)
		r = u32_member(body, "ports", 1, INFRA_PORTS_MAX, &ret->set_ports, &ret->ports, fail);
	/* What the instances' machines must have (docs/deploy.md). */
	if (r == 0)
		r = u32_member(body, "min_cpu", 0, INFRA_MIN_CPU_MAX, &ret->set_min_cpu, &ret->min_cpu, fail);
	if (r == 0)
		r = u32_member(body, "min_memory_gib", 0, INFRA_MIN_SIZE_MAX, &ret->set_min_memory_gib,
			       &ret->min_memory_gib, fail);
	if (r == 0)
		r = u32_member(body, "min_disk_gb", 0, INFRA_MIN_SIZE_MAX, &ret->set_min_disk_gb, &ret->min_disk_gb,
			       fail);
	if (r == 0)
		r = os_members(body, ret, fail);
	return r;
}

char *api_infra_array_keys_dump(const json_t *body)
{
	json_t *keys = json_object_get(body, "ssh_keys");

	if (!keys)
		return NULL;
	char *s = json_dumps(keys, JSON_COMPACT);
	if (!s)
		oom_abort(0);
	return s;
}

int api_infra_network_parse(const json_t *body, bool create, const char **ret_name, enum infra_net_type *ret_type,
			    struct api_fail *fail)
{
	static const struct field create_fields[] = {{"name", F_STRING}, {"type", F_STRING}};
	static const struct field update_fields[] = {{"name", F_STRING}};

	int r = create ? body_check(body, create_fields, 2, fail) : body_check(body, update_fields, 1, fail);
	if (r < 0)
		return r;
	*ret_name = str_member(body, "name");
	if (!*ret_name)
		return api_fail_set(fail, "name", "name is required");
	if (!create)
		return 0;
	const char *type = str_member(body, "type");
	if (!type)
		return api_fail_set(fail, "type", "type is required: lan, wan or san");
	if (strcmp(type, "lan") == 0)
		*ret_type = INFRA_NET_LAN;
	else if (strcmp(type, "wan") == 0)
		*ret_type = INFRA_NET_WAN;
	else if (strcmp(type, "san") == 0)
		*ret_type = INFRA_NET_SAN;
	else
		return api_fail_set(fail, "type", "type must be lan, wan or san, not \"%.32s\"", type);
	return 0;
}

int api_infra_port_text_parse(const char *s, uint32_t *ret)
{
	long v;

	if (!s)
		return -EINVAL;
	if (strncmp(s, "eth", 3) == 0)
		s += 3;
	if (api_long_parse(s, 0, INFRA_PORTS_MAX - 1, &v) < 0 || *s == '-')
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int api_infra_port_parse(const json_t *v, uint32_t *ret)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0 || i >= INFRA_PORTS_MAX)
			return -EINVAL;
		*ret = (uint32_t)i;
		return 0;
	}
	return api_infra_port_text_parse(json_string_value(v), ret);
}

int api_infra_conn_parse(const json_t *body, const char **ret_array, uint32_t *ret_port, const char **ret_network,
			 struct api_fail *fail)
{
	static const struct field fields[] = {{"array", F_STRING}, {"port", F_PORT}, {"network", F_STRING}};

	int r = body_check(body, fields, sizeof(fields) / sizeof(fields[0]), fail);
	if (r < 0)
		return r;
	*ret_array = str_member(body, "array");
	*ret_network = str_member(body, "network");
	*ret_port = 0;
	if (!*ret_array)
		return api_fail_set(fail, "array", "array is required");
	if (!*ret_network)
		return api_fail_set(fail, "network", "network is required");
	json_t *port = json_object_get(body, "port");
	if (port && api_infra_port_parse(port, ret_port) < 0)
		return api_fail_set(fail, "port", "port must be from 0 to %d (or eth0 to eth%d)", INFRA_PORTS_MAX - 1,
				    INFRA_PORTS_MAX - 1);
	return 0;
}

int api_infra_drive_parse(const json_t *body, uint32_t *ret_size_gb, struct api_fail *fail)
{
	static const struct field fields[] = {{"size_gb", F_INTEGER}};
	bool set = false;

	int r = body_check(body, fields, 1, fail);
	if (r == 0)
		r = u32_member(body, "size_gb", 1, INFRA_DRIVE_GB_MAX, &set, ret_size_gb, fail);
	if (r == 0 && !set)
		r = api_fail_set(fail, "size_gb", "size_gb is required");
	return r;
}

int api_infra_order_parse(const json_t *body, unsigned *ret_len, struct api_fail *fail)
{
	static const struct field fields[] = {{"prefix_length", F_INTEGER}};
	bool set = false;
	uint32_t len = 0;

	int r = body_check(body, fields, 1, fail);
	if (r == 0)
		r = u32_member(body, "prefix_length", 1, 32, &set, &len, fail);
	if (r == 0 && !set)
		r = api_fail_set(fail, "prefix_length", "prefix_length is required, e.g. 28 for a /28");
	*ret_len = len;
	return r;
}

/* ---- replies ---- */

/* Append o (stolen) to arr; false (and arr released) when out of memory. */
static bool push(json_t **arr, json_t *o)
{
	if (*arr && o && json_array_append_new(*arr, o) == 0)
		return true;
	json_decref(o);
	json_decref(*arr);
	*arr = NULL;
	return false;
}

static json_t *time_json(int64_t ms)
{
	return api_time_json(ms);
}

static json_t *port_name_json(uint32_t port)
{
	char name[16];

	snprintf(name, sizeof(name), "eth%" PRIu32, port);
	return json_string(name);
}

static json_t *prefix_json(const struct ipprefix *p)
{
	char t[IPPREFIX_STRLEN];

	return json_string(ipprefix_format(p, t, sizeof(t)));
}

json_t *api_infra_block_json(const struct infra_block_row *b)
{
	return json_pack("{s:o, s:s}", "prefix", prefix_json(&b->prefix), "kind", b->extra ? "extra" : "primary");
}

static json_t *array_json(const struct infra_array_row *a, bool deployed)
{
	json_t *drives = json_array(), *inst = deployed ? json_array() : NULL;

	for (size_t i = 0; i < a->n_drives; i++)
		push(&drives, json_pack("{s:I, s:I}", "id", (json_int_t)a->drives[i].id, "size_gb",
					(json_int_t)a->drives[i].size_gb));
	for (size_t i = 0; deployed && i < a->n_inst; i++) {
		const struct infra_instance_row *n = &a->inst[i];
		push(&inst, json_pack("{s:I, s:o}", "index", (json_int_t)n->index, "machine",
				      n->machine ? json_string(n->machine) : json_null()));
	}
	if (!drives || (deployed && !inst)) {
		json_decref(drives);
		json_decref(inst);
		return NULL;
	}
	json_t *keys = json_loads(a->ssh_keys ? a->ssh_keys : "[]", 0, NULL);
	if (!json_is_array(keys)) {
		json_decref(keys);
		keys = json_array();
	}
	/* The user-data may hold secrets: only its size is shown. */
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:o, s:o, s:o*}", "name", a->name, "instance_count",
			 (json_int_t)a->instances, "ports", (json_int_t)a->ports, "min_cpu", (json_int_t)a->min_cpu,
			 "min_memory_gib", (json_int_t)a->min_memory_gib, "min_disk_gb", (json_int_t)a->min_disk_gb,
			 "image", a->image ? a->image : "", "user_data_bytes",
			 (json_int_t)(a->user_data ? strlen(a->user_data) : 0), "ssh_keys", keys, "drives", drives,
			 "instances", inst);
}

static json_t *network_json(const struct infra_network_row *n, bool deployed)
{
	char gw[IPADDR_STRLEN];
	json_t *o = json_pack("{s:s, s:s}", "name", n->name, "type", infra_net_type_name(n->type));

	if (!o || !deployed)
		return o;
	json_t *blocks = json_array();
	for (size_t i = 0; i < n->n_blocks; i++)
		push(&blocks, api_infra_block_json(&n->blocks[i]));
	if (!blocks || json_object_set_new(o, "vid", n->vid ? json_integer(n->vid) : json_null()) < 0) {
		json_decref(blocks);
		json_decref(o);
		return NULL;
	}
	if (n->type != INFRA_NET_WAN) {
		json_decref(blocks);
		return o;
	}
	/* Seed 000: a WAN is a LAN plus "a gateway L3 interface (SVI)" and
	 * addresses "from a subnet configured at the infrastructure level". */
	json_t *gateway = n->has_gateway ? json_string(ipaddr_format(&n->gateway, gw, sizeof(gw))) : json_null();
	if (json_object_set_new(o, "gateway", gateway) < 0) {
		json_decref(blocks);
		json_decref(o);
		return NULL;
	}
	if (json_object_set_new(o, "subnets", blocks) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *design_json(const struct infra_design_rows *d, bool deployed)
{
	json_t *arrays = json_array(), *nets = json_array(), *conns = json_array();

	for (size_t i = 0; i < d->n_arrays; i++)
		push(&arrays, array_json(&d->arrays[i], deployed));
	for (size_t i = 0; i < d->n_networks; i++)
		push(&nets, network_json(&d->networks[i], deployed));
	for (size_t i = 0; i < d->n_conns; i++) {
		const struct infra_conn_row *c = &d->conns[i];
		push(&conns, json_pack("{s:s, s:I, s:o, s:s}", "array", c->array, "port", (json_int_t)c->port,
				       "port_name", port_name_json(c->port), "network", c->network));
	}
	if (!arrays || !nets || !conns) {
		json_decref(arrays);
		json_decref(nets);
		json_decref(conns);
		return NULL;
	}
	return json_pack("{s:o, s:o, s:o}", "instance_arrays", arrays, "networks", nets, "connections", conns);
}

static json_t *counts_json(size_t arrays, size_t networks)
{
	return json_pack("{s:I, s:I}", "instance_arrays", (json_int_t)arrays, "networks", (json_int_t)networks);
}

json_t *api_infra_json(const struct infra_row *row, bool with_designs)
{
	json_t *pools = json_array();

	for (size_t i = 0; i < row->n_wan_pools; i++)
		push(&pools, prefix_json(&row->wan_pools[i]));
	if (!pools)
		return NULL;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:o}", "name", row->name, "description",
			      row->description, "zone", row->zone, "fabric", row->fabric, "wan_pools", pools,
			      "revision", (json_int_t)row->revision, "created", time_json(row->created_ms), "updated",
			      time_json(row->updated_ms), "deployed_at", time_json(row->deployed_ms));
	if (!o)
		return NULL;
	json_t *staged =
	    with_designs ? design_json(&row->staged, false) : counts_json(row->n_staged_arrays, row->n_staged_networks);
	json_t *deployed = with_designs ? design_json(&row->deployed, true)
					: counts_json(row->n_deployed_arrays, row->n_deployed_networks);
	if (!staged || !deployed) {
		json_decref(staged);
		json_decref(deployed);
		json_decref(o);
		return NULL;
	}
	if (json_object_set_new(o, "staged", staged) < 0) {
		json_decref(deployed);
		json_decref(o);
		return NULL;
	}
	if (json_object_set_new(o, "deployed", deployed) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* {"instance_count":{"from":2,"to":6}, ...} for what a CHANGE changes. */
static json_t *changes_json(const struct infra_action *a)
{
	json_t *c = json_object();

	if (c && (a->changed & PLAN_CHANGED_NAME))
		json_object_set_new(c, "name",
				    json_pack("{s:s, s:s}", "from", a->old_name ? a->old_name : "", "to", a->name));
	if (c && (a->changed & PLAN_CHANGED_INSTANCES))
		json_object_set_new(
		    c, "instance_count",
		    json_pack("{s:I, s:I}", "from", (json_int_t)a->old_instances, "to", (json_int_t)a->new_instances));
	if (c && (a->changed & PLAN_CHANGED_PORTS))
		json_object_set_new(
		    c, "ports",
		    json_pack("{s:I, s:I}", "from", (json_int_t)a->old_ports, "to", (json_int_t)a->new_ports));
	if (c && (a->changed & PLAN_CHANGED_REQUIREMENTS))
		json_object_set_new(c, "requirements",
				    json_pack("{s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}", "from", "min_cpu",
					      (json_int_t)a->old_req[0], "min_memory_gib", (json_int_t)a->old_req[1],
					      "min_disk_gb", (json_int_t)a->old_req[2], "to", "min_cpu",
					      (json_int_t)a->new_req[0], "min_memory_gib", (json_int_t)a->new_req[1],
					      "min_disk_gb", (json_int_t)a->new_req[2]));
	if (c && (a->changed & PLAN_CHANGED_OS))
		json_object_set_new(c, "image",
				    json_pack("{s:s, s:s}", "from", a->old_image ? a->old_image : "", "to",
					      a->new_image ? a->new_image : ""));
	if (c && (a->changed & PLAN_CHANGED_DRIVES))
		json_object_set_new(
		    c, "drives",
		    json_pack("{s:I, s:I}", "from", (json_int_t)a->old_drives, "to", (json_int_t)a->new_drives));
	return c;
}

static json_t *action_json(const struct infra_action *a)
{
	json_t *o = json_pack("{s:s, s:s}", "op", plan_op_name(a->op), "object", plan_object_name(a->object));
	int r = o ? 0 : -1;

	if (a->object == PLAN_OBJ_CONNECTION) {
		r |= json_object_set_new(o, "array", json_string(a->array));
		r |= json_object_set_new(o, "port", json_integer(a->port));
		r |= json_object_set_new(o, "port_name", port_name_json(a->port));
		r |= json_object_set_new(o, "network", json_string(a->network));
		r |= json_object_set_new(o, "network_type", json_string(infra_net_type_name(a->type)));
	} else {
		r |= json_object_set_new(o, "name", json_string(a->name));
	}
	if (a->object == PLAN_OBJ_NETWORK)
		r |= json_object_set_new(o, "type", json_string(infra_net_type_name(a->type)));
	if (a->object == PLAN_OBJ_ARRAY && a->op == PLAN_OP_CREATE) {
		r |= json_object_set_new(o, "instance_count", json_integer(a->new_instances));
		r |= json_object_set_new(o, "ports", json_integer(a->new_ports));
		r |= json_object_set_new(o, "drives", json_integer(a->new_drives));
		r |= json_object_set_new(o, "image", json_string(a->new_image ? a->new_image : ""));
	}
	if (a->op == PLAN_OP_CHANGE)
		r |= json_object_set_new(o, "changes", changes_json(a));
	/* Seed 000: a SAN is "only present if drives are attached". */
	if (a->san_pruned)
		r |= json_object_set_new(o, "reason", json_string("san_without_drives"));
	if (r != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *alloc_json(const struct infra_alloc *a)
{
	switch (a->kind) {
	case INFRA_ALLOC_VLAN:
	case INFRA_ALLOC_VLAN_RELEASE:
		return json_pack("{s:s, s:s, s:s, s:I}", "op", a->kind == INFRA_ALLOC_VLAN ? "allocate" : "release",
				 "object", "vlan", "network", a->network, "vid", (json_int_t)a->vid);
	case INFRA_ALLOC_BLOCK_ADD:
	case INFRA_ALLOC_BLOCK_RELEASE:
		return json_pack("{s:s, s:s, s:s, s:o, s:s}", "op",
				 a->kind == INFRA_ALLOC_BLOCK_ADD ? "allocate" : "release", "object", "subnet",
				 "network", a->network, "prefix", prefix_json(&a->block), "kind",
				 a->extra ? "extra" : "primary");
	case INFRA_ALLOC_BLOCK_GROW:
	case INFRA_ALLOC_BLOCK_SHRINK:
		return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "op",
				 a->kind == INFRA_ALLOC_BLOCK_GROW ? "grow" : "shrink", "object", "subnet", "network",
				 a->network, "from", prefix_json(&a->from), "prefix", prefix_json(&a->block), "kind",
				 "primary");
	}
	return NULL;
}

static json_t *binding_json(const struct infra_binding *b)
{
	return json_pack("{s:s, s:s, s:I, s:s}", "op", b->op == INFRA_BIND_MACHINE ? "bind" : "release", "array",
			 b->array, "instance", (json_int_t)b->index, "machine", b->machine);
}

static json_t *link_json(const struct infra_link *l)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:o, s:s, s:s, s:s, s:s}", "op", l->removed ? "unlink" : "link", "array",
			 l->array, "instance", (json_int_t)l->index, "port", (json_int_t)l->port, "port_name",
			 port_name_json(l->port), "network", l->network, "machine", l->machine, "interface",
			 l->interface, "ip", l->ip);
}

json_t *api_infra_plan_json(const char *infra, const struct infra_plan_result *r)
{
	json_t *actions = json_array(), *allocs = json_array(), *machines = json_array(), *links = json_array();

	for (size_t i = 0; i < r->n_actions; i++)
		push(&actions, action_json(&r->actions[i]));
	for (size_t i = 0; i < r->n_allocs; i++)
		push(&allocs, alloc_json(&r->allocs[i]));
	for (size_t i = 0; i < r->n_bindings; i++)
		push(&machines, binding_json(&r->bindings[i]));
	for (size_t i = 0; i < r->n_links; i++)
		push(&links, link_json(&r->links[i]));
	if (!actions || !allocs || !machines || !links) {
		json_decref(actions);
		json_decref(allocs);
		json_decref(machines);
		json_decref(links);
		return NULL;
	}
	return json_pack("{s:s, s:I, s:b, s:o, s:o, s:o, s:o, s:o}", "infrastructure", infra, "revision",
			 (json_int_t)r->revision, "applied", r->applied, "actions", actions, "allocations", allocs,
			 "machines", machines, "links", links, "shortage",
			 r->shortage ? json_string(r->shortage) : json_null());
}

static json_t *history_row_json(const struct infra_history_row *h)
{
	json_t *steps = json_array();

	for (size_t i = 0; i < h->n_steps; i++) {
		const struct infra_history_step *st = &h->steps[i];
		push(&steps, json_pack("{s:s, s:s, s:s, s:s}", "op", st->op, "object", st->object, "subject",
				       st->subject, "detail", st->detail));
	}
	if (!steps)
		return NULL;
	return json_pack("{s:I, s:o, s:o}", "revision", (json_int_t)h->revision, "deployed_at",
			 time_json(h->deployed_ms), "steps", steps);
}

json_t *api_infra_history_json(const char *infra, const struct infra_history_row *rows, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		push(&arr, history_row_json(&rows[i]));
	if (!arr)
		return NULL;
	return json_pack("{s:s, s:o}", "infrastructure", infra, "deploys", arr);
}
