/* The infrastructure editor's JSON as text tables for `ironrack infra`.
 * Pure apart from writing to the FILE it is given. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "region/cli/cli.h"
#include "region/cli/infra.h"

int cli_infra_port_split(const char *arg, char *array, size_t len, const char **ret_port)
{
	const char *colon = strrchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);

	if (n == 0 || n >= len || (colon && colon[1] == '\0'))
		return -EINVAL;
	memcpy(array, arg, n);
	array[n] = '\0';
	*ret_port = colon ? colon + 1 : "eth0";
	return 0;
}

static const char *jstr(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static long long jint(const json_t *o, const char *name)
{
	return (long long)json_integer_value(json_object_get(o, name));
}

/* Print and release t; -errno on failure. */
static int table_flush(struct cli_table *t, FILE *out)
{
	int r = cli_table_print(t, out);
	cli_table_done(t);
	return r;
}

int cli_infra_list_print(const json_t *list, FILE *out)
{
	static const char *const headers[] = {
	    "NAME", "ZONE", "FABRIC", "REVISION", "DEPLOYED ARRAYS/NETWORKS", "STAGED ARRAYS/NETWORKS", "DESCRIPTION"};
	struct cli_table t;
	size_t i;
	const json_t *o;

	if (cli_table_init(&t, headers, 7) < 0)
		return -EINVAL;
	json_array_foreach(list, i, o)
	{
		char rev[24], dep[48], stg[48];
		const json_t *d = json_object_get(o, "deployed"), *s = json_object_get(o, "staged");
		snprintf(rev, sizeof(rev), "%lld", jint(o, "revision"));
		snprintf(dep, sizeof(dep), "%lld/%lld", jint(d, "instance_arrays"), jint(d, "networks"));
		snprintf(stg, sizeof(stg), "%lld/%lld", jint(s, "instance_arrays"), jint(s, "networks"));
		const char *desc = jstr(o, "description");
		const char *row[] = {jstr(o, "name"),		jstr(o, "zone"), jstr(o, "fabric"), rev, dep, stg,
				     desc && *desc ? desc : "-"};
		cli_table_add(&t, row);
	}
	return table_flush(&t, out);
}

/* "a, b, c" from an array of strings (or of objects' key). */
static void join(const json_t *arr, const char *key, char *buf, size_t len)
{
	size_t used = 0, i;
	const json_t *v;

	buf[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		const char *s = key ? jstr(v, key) : json_string_value(v);
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", s ? s : "?");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (!used)
		snprintf(buf, len, "-");
}

/* "node-1, node-2, -" for the instances of a deployed array. */
static void machines_cell(const json_t *a, char *buf, size_t len)
{
	size_t i, used = 0;
	const json_t *inst;

	buf[0] = '\0';
	json_array_foreach(json_object_get(a, "instances"), i, inst)
	{
		const char *m = jstr(inst, "machine");
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", m ? m : "-");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (!used)
		snprintf(buf, len, "-");
}

static int arrays_print(const json_t *arrays, bool deployed, FILE *out)
{
	static const char *const headers[] = {"", "INSTANCE ARRAY", "INSTANCES", "PORTS", "DRIVES", "MACHINES"};
	struct cli_table t;
	size_t i, k;
	const json_t *a, *d;

	if (json_array_size(arrays) == 0)
		return fprintf(out, "  no instance arrays\n") < 0 ? -EIO : 0;
	if (cli_table_init(&t, headers, deployed ? 6 : 5) < 0)
		return -EINVAL;
	json_array_foreach(arrays, i, a)
	{
		char count[24], ports[24], drives[256], machines[512];
		size_t used = 0;
		snprintf(count, sizeof(count), "%lld", jint(a, "instance_count"));
		snprintf(ports, sizeof(ports), "%lld", jint(a, "ports"));
		drives[0] = '\0';
		json_array_foreach(json_object_get(a, "drives"), k, d)
		{
			int n = snprintf(drives + used, sizeof(drives) - used, "%s#%lld %lld GB", used ? ", " : "",
					 jint(d, "id"), jint(d, "size_gb"));
			if (n < 0 || (size_t)n >= sizeof(drives) - used)
				break;
			used += (size_t)n;
		}
		machines_cell(a, machines, sizeof(machines));
		const char *row[] = {"", jstr(a, "name"), count, ports, used ? drives : "-", machines};
		cli_table_add(&t, row);
	}
	return table_flush(&t, out);
}

static int networks_print(const json_t *nets, bool deployed, FILE *out)
{
	static const char *const staged_h[] = {"", "NETWORK", "TYPE"};
	static const char *const deployed_h[] = {"", "NETWORK", "TYPE", "VID", "GATEWAY", "SUBNETS"};
	struct cli_table t;
	size_t i;
	const json_t *n;

	if (json_array_size(nets) == 0)
		return fprintf(out, "  no networks\n") < 0 ? -EIO : 0;
	if (cli_table_init(&t, deployed ? deployed_h : staged_h, deployed ? 6 : 3) < 0)
		return -EINVAL;
	json_array_foreach(nets, i, n)
	{
		char vid[16], subnets[512];
		const json_t *v = json_object_get(n, "vid");
		snprintf(vid, sizeof(vid), json_is_integer(v) ? "%lld" : "-", jint(n, "vid"));
		join(json_object_get(n, "subnets"), "prefix", subnets, sizeof(subnets));
		const char *gw = jstr(n, "gateway");
		const char *row[] = {"", jstr(n, "name"), jstr(n, "type"), vid, gw ? gw : "-", subnets};
		cli_table_add(&t, row);
	}
	return table_flush(&t, out);
}

static int conns_print(const json_t *conns, FILE *out)
{
	static const char *const headers[] = {"", "PORT", "NETWORK"};
	struct cli_table t;
	size_t i;
	const json_t *c;

	if (json_array_size(conns) == 0)
		return fprintf(out, "  no connections\n") < 0 ? -EIO : 0;
	if (cli_table_init(&t, headers, 3) < 0)
		return -EINVAL;
	json_array_foreach(conns, i, c)
	{
		char port[160];
		snprintf(port, sizeof(port), "%s:%s", jstr(c, "array") ? jstr(c, "array") : "?",
			 jstr(c, "port_name") ? jstr(c, "port_name") : "?");
		const char *row[] = {"", port, jstr(c, "network")};
		cli_table_add(&t, row);
	}
	return table_flush(&t, out);
}

static int design_print(const char *title, const json_t *d, bool deployed, FILE *out)
{
	int r = fprintf(out, "\n%s:\n", title) < 0 ? -EIO : 0;

	if (r == 0)
		r = arrays_print(json_object_get(d, "instance_arrays"), deployed, out);
	if (r == 0)
		r = networks_print(json_object_get(d, "networks"), deployed, out);
	if (r == 0)
		r = conns_print(json_object_get(d, "connections"), out);
	return r;
}

int cli_infra_show_print(const json_t *o, FILE *out)
{
	struct cli_table t;
	char pools[512], rev[96];
	const char *deployed = jstr(o, "deployed_at");
	const char *desc = jstr(o, "description");

	join(json_object_get(o, "wan_pools"), NULL, pools, sizeof(pools));
	if (deployed)
		snprintf(rev, sizeof(rev), "%lld, deployed %s", jint(o, "revision"), deployed);
	else
		snprintf(rev, sizeof(rev), "%lld, never deployed", jint(o, "revision"));
	const char *rows[][2] = {
	    {"Name:", jstr(o, "name")}, {"Description:", desc && *desc ? desc : "-"},
	    {"Zone:", jstr(o, "zone")}, {"Fabric:", jstr(o, "fabric")},
	    {"WAN pools:", pools},	{"Revision:", rev},
	};
	if (cli_table_init(&t, NULL, 2) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cli_table_add(&t, rows[i]);
	int r = table_flush(&t, out);
	if (r == 0)
		r = design_print("Deployed design", json_object_get(o, "deployed"), true, out);
	if (r == 0)
		r = design_print("Staged design (applied by 'ironrack infra deploy')", json_object_get(o, "staged"),
				 false, out);
	return r;
}

/* NAME and DETAIL columns of one planner action. */
static void action_cells(const json_t *a, char *name, size_t nlen, char *detail, size_t dlen)
{
	const char *object = jstr(a, "object") ? jstr(a, "object") : "";
	const char *reason = jstr(a, "reason");
	size_t used = 0;

	detail[0] = '\0';
	if (strcmp(object, "connection") == 0) {
		snprintf(name, nlen, "%s:%s -> %s", jstr(a, "array"), jstr(a, "port_name"), jstr(a, "network"));
		used = (size_t)snprintf(detail, dlen, "%s", jstr(a, "network_type") ? jstr(a, "network_type") : "");
	} else {
		snprintf(name, nlen, "%s", jstr(a, "name") ? jstr(a, "name") : "?");
		if (jstr(a, "type"))
			used = (size_t)snprintf(detail, dlen, "%s", jstr(a, "type"));
		else if (json_object_get(a, "instance_count"))
			used = (size_t)snprintf(detail, dlen, "%lld instances, %lld ports, %lld drives",
						jint(a, "instance_count"), jint(a, "ports"), jint(a, "drives"));
	}
	const char *k;
	json_t *c;
	json_object_foreach(json_object_get(a, "changes"), k, c)
	{
		const json_t *from = json_object_get(c, "from"), *to = json_object_get(c, "to");
		int n = json_is_string(to)
			    ? snprintf(detail + used, dlen - used, "%s%s %s -> %s", used ? ", " : "", k,
				       json_string_value(from), json_string_value(to))
			    : snprintf(detail + used, dlen - used, "%s%s %lld -> %lld", used ? ", " : "", k,
				       (long long)json_integer_value(from), (long long)json_integer_value(to));
		if (n < 0 || (size_t)n >= dlen - used)
			break;
		used += (size_t)n;
	}
	if (reason && used < dlen)
		snprintf(detail + used, dlen - used, "%s%s", used ? ", " : "",
			 strcmp(reason, "san_without_drives") == 0 ? "SAN without drives" : reason);
}

static void alloc_cells(const json_t *a, char *detail, size_t dlen)
{
	const char *object = jstr(a, "object") ? jstr(a, "object") : "";
	const char *op = jstr(a, "op") ? jstr(a, "op") : "";

	if (strcmp(object, "vlan") == 0)
		snprintf(detail, dlen, "vid %lld", jint(a, "vid"));
	else if (strcmp(op, "grow") == 0 || strcmp(op, "shrink") == 0)
		snprintf(detail, dlen, "%s -> %s", jstr(a, "from"), jstr(a, "prefix"));
	else
		snprintf(detail, dlen, "%s (%s)", jstr(a, "prefix"), jstr(a, "kind"));
}

int cli_infra_plan_print(const json_t *plan, bool deployed, FILE *out)
{
	static const char *const headers[] = {"ACTION", "OBJECT", "NAME", "DETAIL"};
	const json_t *actions = json_object_get(plan, "actions"), *allocs = json_object_get(plan, "allocations");
	const char *infra = jstr(plan, "infrastructure");
	struct cli_table t;
	size_t i;
	const json_t *a;

	const json_t *machines = json_object_get(plan, "machines"), *links = json_object_get(plan, "links");
	const char *shortage = jstr(plan, "shortage");
	const json_t *deploys = json_object_get(plan, "deploys");

	if (json_array_size(actions) == 0 && json_array_size(allocs) == 0 && json_array_size(machines) == 0 &&
	    json_array_size(links) == 0 && json_array_size(deploys) == 0 && !shortage)
		return fprintf(out, "Nothing to deploy: the staged design of %s is the deployed one.\n", infra) < 0
			   ? -EIO
			   : 0;
	if (deployed)
		fprintf(out, "Deployed %s, revision %lld:\n", infra, jint(plan, "revision"));
	else
		fprintf(out, "Plan for %s (revision %lld -> %lld):\n", infra, jint(plan, "revision"),
			jint(plan, "revision") + 1);
	if (cli_table_init(&t, headers, 4) < 0)
		return -EINVAL;
	json_array_foreach(actions, i, a)
	{
		char name[384], detail[384], object[64];
		const char *o = jstr(a, "object") ? jstr(a, "object") : "?";
		snprintf(object, sizeof(object), "%s", strcmp(o, "instance_array") == 0 ? "instance array" : o);
		action_cells(a, name, sizeof(name), detail, sizeof(detail));
		const char *row[] = {jstr(a, "op"), object, name, *detail ? detail : "-"};
		cli_table_add(&t, row);
	}
	json_array_foreach(allocs, i, a)
	{
		char detail[256];
		alloc_cells(a, detail, sizeof(detail));
		const char *row[] = {jstr(a, "op"), jstr(a, "object"), jstr(a, "network"), detail};
		cli_table_add(&t, row);
	}
	/* Which machine each instance gets (or gives back), and the WAN
	 * addresses that become its links. */
	json_array_foreach(machines, i, a)
	{
		char name[160];
		snprintf(name, sizeof(name), "%s#%lld", jstr(a, "array") ? jstr(a, "array") : "?", jint(a, "instance"));
		const char *row[] = {jstr(a, "op"), "machine", name, jstr(a, "machine")};
		cli_table_add(&t, row);
	}
	json_array_foreach(links, i, a)
	{
		char name[256], detail[256];
		snprintf(name, sizeof(name), "%s#%lld:%s -> %s", jstr(a, "array") ? jstr(a, "array") : "?",
			 jint(a, "instance"), jstr(a, "port_name") ? jstr(a, "port_name") : "?",
			 jstr(a, "network") ? jstr(a, "network") : "?");
		snprintf(detail, sizeof(detail), "%s %s %s", jstr(a, "machine") ? jstr(a, "machine") : "?",
			 jstr(a, "interface") ? jstr(a, "interface") : "?", jstr(a, "ip") ? jstr(a, "ip") : "?");
		const char *row[] = {jstr(a, "op"), "address", name, detail};
		cli_table_add(&t, row);
	}
	/* The machine deploys started after the commit (deploy only). */
	json_array_foreach(deploys, i, a)
	{
		char name[160], detail[512];
		snprintf(name, sizeof(name), "%s#%lld", jstr(a, "array") ? jstr(a, "array") : "?", jint(a, "instance"));
		snprintf(detail, sizeof(detail), "%s image %s: %s%s", jstr(a, "machine") ? jstr(a, "machine") : "?",
			 jstr(a, "image") ? jstr(a, "image") : "?", jstr(a, "status") ? "" : "not started: ",
			 jstr(a, "status") ? jstr(a, "status") : (jstr(a, "error") ? jstr(a, "error") : "?"));
		const char *row[] = {"deploy", "machine", name, detail};
		cli_table_add(&t, row);
	}
	int r = table_flush(&t, out);
	if (r == 0 && shortage)
		r = fprintf(out, "Not enough machines, deploy would be refused: %s\n", shortage) < 0 ? -EIO : 0;
	return r;
}

int cli_infra_subnets_print(const json_t *subnets, FILE *out)
{
	static const char *const headers[] = {"SUBNET", "KIND"};
	struct cli_table t;
	size_t i;
	const json_t *s;

	if (cli_table_init(&t, headers, 2) < 0)
		return -EINVAL;
	json_array_foreach(subnets, i, s)
	{
		const char *row[] = {jstr(s, "prefix"), jstr(s, "kind")};
		cli_table_add(&t, row);
	}
	return table_flush(&t, out);
}

int cli_infra_history_print(const json_t *history, FILE *out)
{
	const json_t *deploys = json_object_get(history, "deploys");
	size_t i, k;
	const json_t *d, *st;

	if (json_array_size(deploys) == 0)
		return fprintf(out, "%s was never deployed.\n", jstr(history, "infrastructure")) < 0 ? -EIO : 0;
	json_array_foreach(deploys, i, d)
	{
		struct cli_table t;
		if (fprintf(out, "%sRevision %lld, deployed %s:\n", i ? "\n" : "", jint(d, "revision"),
			    jstr(d, "deployed_at") ? jstr(d, "deployed_at") : "?") < 0)
			return -EIO;
		if (cli_table_init(&t, NULL, 5) < 0)
			return -EINVAL;
		json_array_foreach(json_object_get(d, "steps"), k, st)
		{
			const char *detail = jstr(st, "detail");
			const char *row[] = {"", jstr(st, "op"), jstr(st, "object"), jstr(st, "subject"),
					     detail && *detail ? detail : "-"};
			cli_table_add(&t, row);
		}
		int r = table_flush(&t, out);
		if (r < 0)
			return r;
	}
	return 0;
}
