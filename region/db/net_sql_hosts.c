/* Machines, their interfaces, devices and neighbours: columns, fields,
 * filters and SQL (parameters as in net_internal.h). A machine is here only
 * as far as IPAM needs it; its lifecycle comes later. */
#include "region/db/net_internal.h"

#define N(a)	 (sizeof(a) / sizeof((a)[0]))
#define DESC_MAX 1024

/* ---- machines ---- */

static const struct net_col machine_cols[] = {
    {"id", NET_T_INT},
    {"hostname", NET_T_TEXT},
    {"zone", NET_T_TEXT},
    {"description", NET_T_TEXT},
    {"architecture", NET_T_TEXT},
    {"power_type", NET_T_TEXT},
    {"interfaces", NET_T_INT},
    {"created", NET_T_TIME},
    {"updated", NET_T_TIME},
    /* Power (region/power): the password itself is never shown. */
    {"power_address", NET_T_TEXT},
    {"power_user", NET_T_TEXT},
    {"power_pass_set", NET_T_BOOL},
    {"power_options", NET_T_JSON},
    {"power_state", NET_T_TEXT},
    {"power_state_at", NET_T_TIME},
    {"power_error", NET_T_TEXT},
    {"power_rack", NET_T_TEXT},
    /* Lifecycle and hardware (region/machine): the inventory itself is in
     * GET /machines/{id} only. */
    {"status", NET_T_TEXT},
    {"status_message", NET_T_TEXT},
    {"status_since", NET_T_TIME},
    {"status_deadline", NET_T_TIME},
    {"cpu_count", NET_T_INT},
    {"cpu_model", NET_T_TEXT},
    {"memory_mib", NET_T_INT},
    {"storage_bytes", NET_T_INT},
    {"disk_count", NET_T_INT},
    {"hardware_at", NET_T_TIME},
    {"boot_mac", NET_T_TEXT},
    /* Allocation (region/machine/alloc.h, docs/deploy.md): who holds it
     * since when, and the tags allocation filters on. */
    {"owner", NET_T_TEXT},
    {"allocated_at", NET_T_TIME},
    {"tags", NET_T_TAGS},
};

static const struct net_field machine_fields[] = {
    {"hostname", NET_T_HOST, NET_F_REQUIRED, 1, 63, NULL, 0},
    {"zone", NET_T_REF, 0, 0, 0, NULL, NET_ZONE},
    {"description", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
    {"architecture", NET_T_TEXT, 0, 0, 64, NULL, 0},
    {"power_type", NET_T_TEXT, 0, 0, 64, NULL, 0},
    {"tags", NET_T_TAGS, NET_F_NULLABLE, 0, 16, NULL, 0},
};

static const struct net_filter_def machine_filters[] = {
    {"zone", NET_T_REF, NULL, NET_ZONE},
    {"hostname", NET_T_TEXT, NULL, 0},
    {"status", NET_T_TEXT, NULL, 0},
};

const struct net_kind_def net_def_machine = {
    .info = {"machine", "machines", machine_cols, N(machine_cols), machine_fields, N(machine_fields), machine_filters,
	     N(machine_filters), false},
    .sql =
	{
	    .list =
		"SELECT m.id, m.hostname, z.name, m.description, m.architecture, m.power_type, "
		"(SELECT count(*) FROM interface i WHERE i.machine_id = m.id), "
		"ir_ms(m.created), ir_ms(m.updated), "
		"coalesce(m.power_params->>'address', ''), coalesce(m.power_params->>'user', ''), "
		"m.power_secret IS NOT NULL, coalesce(m.power_params->'options', '{}'::jsonb)::text, m.power_state, "
		"ir_ms(m.power_state_at), m.power_error, m.power_rack_id, "
		"m.status, m.status_message, ir_ms(m.status_since), ir_ms(m.status_deadline), m.cpu_count, "
		"m.cpu_model, "
		"m.memory_mib, m.storage_bytes, m.disk_count, ir_ms(m.hardware_at), coalesce(m.boot_mac::text, ''), "
		"m.owner, ir_ms(m.allocated_at), array_to_string(m.tags, ' '), "
		"count(*) OVER () "
		"FROM machine m JOIN zone z ON z.id = m.zone_id "
		"WHERE ($3::bigint IS NULL OR m.id = $3::bigint) AND ($4::bigint IS NULL OR m.zone_id = $4::bigint) "
		"AND ($5::text IS NULL OR m.hostname = $5) AND ($6::text IS NULL OR m.status = upper($6)) "
		"ORDER BY m.hostname LIMIT $1::bigint OFFSET $2::bigint",
	    .insert = "INSERT INTO machine (hostname, zone_id, description, architecture, power_type, tags) "
		      "VALUES ($1, coalesce($2::bigint, zone_default_id()), coalesce($3, ''), coalesce($4, ''), "
		      "coalesce($5, ''), coalesce($6::text[], '{}')) RETURNING id",
	    .update = "UPDATE machine SET "
		      "hostname = CASE WHEN $2::int & 1 <> 0 THEN $3 ELSE hostname END, "
		      "zone_id = CASE WHEN $2::int & 2 <> 0 THEN $4::bigint ELSE zone_id END, "
		      "description = CASE WHEN $2::int & 4 <> 0 THEN $5 ELSE description END, "
		      "architecture = CASE WHEN $2::int & 8 <> 0 THEN $6 ELSE architecture END, "
		      "power_type = CASE WHEN $2::int & 16 <> 0 THEN $7 ELSE power_type END, "
		      "tags = CASE WHEN $2::int & 32 <> 0 THEN coalesce($8::text[], '{}') ELSE tags END "
		      "WHERE id = $1::bigint RETURNING id",
	    /* Its interfaces go with it, and their addresses with them. */
	    .del = "DELETE FROM machine WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM machine WHERE id = $1::bigint OR hostname = $2",
	    .key_type = NET_T_TEXT,
	},
};

/* ---- machine interfaces (created under a machine) ---- */

static const struct net_col interface_cols[] = {
    {"id", NET_T_INT},
    {"machine", NET_T_INT},
    {"machine_hostname", NET_T_TEXT},
    {"name", NET_T_TEXT},
    {"mac", NET_T_MAC},
    {"vlan", NET_T_INT},
    {"links", NET_T_INT},
    {"created", NET_T_TIME},
    {"updated", NET_T_TIME},
    /* What the machine's agent saw (region/machine). */
    {"driver", NET_T_TEXT},
    {"speed_mbps", NET_T_INT},
    {"carrier", NET_T_BOOL},
};

static const struct net_field interface_fields[] = {
    {"name", NET_T_TEXT, NET_F_REQUIRED, 1, 15, NULL, 0},
    {"mac", NET_T_MAC, NET_F_REQUIRED, 0, 0, NULL, 0},
    {"vlan", NET_T_REF, NET_F_NULLABLE, 0, 0, NULL, NET_VLAN},
};

static const struct net_filter_def interface_filters[] = {
    {"machine", NET_T_REF, NULL, NET_MACHINE},
    {"mac", NET_T_MAC, NULL, 0},
    {"vlan", NET_T_REF, NULL, NET_VLAN},
};

const struct net_kind_def net_def_interface = {
    .info = {"interface", "interfaces", interface_cols, N(interface_cols), interface_fields, N(interface_fields),
	     interface_filters, N(interface_filters), false},
    .sql =
	{
	    .list =
		"SELECT i.id, i.machine_id, m.hostname, i.name, i.mac::text, i.vlan_id, "
		"(SELECT count(*) FROM ip_address a WHERE a.interface_id = i.id), "
		"ir_ms(i.created), ir_ms(i.updated), i.driver, i.speed_mbps, coalesce(i.carrier, false), "
		"count(*) OVER () "
		"FROM interface i JOIN machine m ON m.id = i.machine_id "
		"WHERE ($3::bigint IS NULL OR i.id = $3::bigint) AND ($4::bigint IS NULL OR i.machine_id = $4::bigint) "
		"AND ($5::macaddr IS NULL OR i.mac = $5::macaddr) AND ($6::bigint IS NULL OR i.vlan_id = $6::bigint) "
		"ORDER BY m.hostname, i.name LIMIT $1::bigint OFFSET $2::bigint",
	    .insert = "INSERT INTO interface (name, mac, vlan_id, machine_id) "
		      "VALUES ($1, $2::macaddr, $3::bigint, $4::bigint) RETURNING id",
	    .update = "UPDATE interface SET "
		      "name = CASE WHEN $2::int & 1 <> 0 THEN $3 ELSE name END, "
		      "mac = CASE WHEN $2::int & 2 <> 0 THEN $4::macaddr ELSE mac END, "
		      "vlan_id = CASE WHEN $2::int & 4 <> 0 THEN $5::bigint ELSE vlan_id END "
		      "WHERE id = $1::bigint RETURNING id",
	    .del = "DELETE FROM interface WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM interface WHERE id = $1::bigint AND $2::text IS NULL",
	    .key_type = NET_T_INT,
	    .insert_parent = true,
	},
};

/* ---- devices ---- */

static const struct net_col device_cols[] = {
    {"id", NET_T_INT},		 {"hostname", NET_T_TEXT},     {"zone", NET_T_TEXT},
    {"description", NET_T_TEXT}, {"ip_addresses", NET_T_LIST}, {"created", NET_T_TIME},
    {"updated", NET_T_TIME},
};

static const struct net_field device_fields[] = {
    {"hostname", NET_T_HOST, NET_F_REQUIRED, 1, 63, NULL, 0},
    {"zone", NET_T_REF, 0, 0, 0, NULL, NET_ZONE},
    {"description", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
};

static const struct net_filter_def device_filters[] = {
    {"zone", NET_T_REF, NULL, NET_ZONE},
    {"hostname", NET_T_TEXT, NULL, 0},
};

const struct net_kind_def net_def_device = {
    .info = {"device", "devices", device_cols, N(device_cols), device_fields, N(device_fields), device_filters,
	     N(device_filters), false},
    .sql =
	{
	    .list =
		"SELECT d.id, d.hostname, z.name, d.description, "
		"array_to_string(ARRAY(SELECT host(a.ip) FROM ip_address a WHERE a.device_id = d.id "
		"AND a.ip IS NOT NULL ORDER BY a.ip), ' '), "
		"ir_ms(d.created), ir_ms(d.updated), count(*) OVER () "
		"FROM device d JOIN zone z ON z.id = d.zone_id "
		"WHERE ($3::bigint IS NULL OR d.id = $3::bigint) AND ($4::bigint IS NULL OR d.zone_id = $4::bigint) "
		"AND ($5::text IS NULL OR d.hostname = $5) "
		"ORDER BY d.hostname LIMIT $1::bigint OFFSET $2::bigint",
	    .insert = "INSERT INTO device (hostname, zone_id, description) "
		      "VALUES ($1, coalesce($2::bigint, zone_default_id()), coalesce($3, '')) RETURNING id",
	    .update = "UPDATE device SET "
		      "hostname = CASE WHEN $2::int & 1 <> 0 THEN $3 ELSE hostname END, "
		      "zone_id = CASE WHEN $2::int & 2 <> 0 THEN $4::bigint ELSE zone_id END, "
		      "description = CASE WHEN $2::int & 4 <> 0 THEN $5 ELSE description END "
		      "WHERE id = $1::bigint RETURNING id",
	    .del = "DELETE FROM device WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM device WHERE id = $1::bigint OR hostname = $2",
	    .key_type = NET_T_TEXT,
	},
};

/* ---- neighbours: addresses seen on the wire ---- */

static const struct net_col neighbour_cols[] = {
    {"id", NET_T_INT},	       {"ip", NET_T_INET},	  {"mac", NET_T_MAC},	 {"vlan", NET_T_INT},
    {"rack", NET_T_TEXT},      {"interface", NET_T_TEXT}, {"subnet", NET_T_INT}, {"first_seen", NET_T_TIME},
    {"last_seen", NET_T_TIME}, {"count", NET_T_INT},
};

static const struct net_field neighbour_fields[] = {
    {"ip", NET_T_INET, NET_F_REQUIRED, 0, 0, NULL, 0},
    {"mac", NET_T_MAC, NET_F_REQUIRED, 0, 0, NULL, 0},
    {"vlan", NET_T_REF, NET_F_NULLABLE, 0, 0, NULL, NET_VLAN},
    {"rack", NET_T_REF, NET_F_NULLABLE, 0, 0, NULL, NET_RACK},
    {"interface", NET_T_TEXT, 0, 0, 15, NULL, 0},
    {"last_seen", NET_T_TIME, 0, 0, 0, NULL, 0},
};

static const struct net_filter_def neighbour_filters[] = {
    {"subnet", NET_T_REF, NULL, NET_SUBNET}, {"ip", NET_T_INET, NULL, 0},	  {"mac", NET_T_MAC, NULL, 0},
    {"rack", NET_T_REF, NULL, NET_RACK},     {"vlan", NET_T_REF, NULL, NET_VLAN},
};

const struct net_kind_def net_def_neighbour = {
    .info = {"neighbour", "neighbours", neighbour_cols, N(neighbour_cols), neighbour_fields, N(neighbour_fields),
	     neighbour_filters, N(neighbour_filters), true},
    .sql =
	{
	    .list = "SELECT n.id, host(n.ip), n.mac::text, n.vlan_id, n.rack_id, n.interface, "
		    "(SELECT s.id FROM subnet s WHERE n.ip <<= s.cidr), "
		    "ir_ms(n.first_seen), ir_ms(n.last_seen), n.count, count(*) OVER () "
		    "FROM neighbour n "
		    "WHERE ($3::bigint IS NULL OR n.id = $3::bigint) "
		    "AND ($4::bigint IS NULL OR n.ip <<= (SELECT cidr FROM subnet WHERE id = $4::bigint)) "
		    "AND ($5::inet IS NULL OR n.ip = $5::inet) AND ($6::macaddr IS NULL OR n.mac = $6::macaddr) "
		    "AND ($7::text IS NULL OR n.rack_id = $7) AND ($8::bigint IS NULL OR n.vlan_id = $8::bigint) "
		    "ORDER BY n.ip, n.last_seen DESC, n.id LIMIT $1::bigint OFFSET $2::bigint",
	    /* Seeing the same (ip, mac, rack, interface) again counts
	     * and refreshes last_seen, as discovery will. */
	    .insert = "INSERT INTO neighbour (ip, mac, vlan_id, rack_id, interface, first_seen, last_seen) "
		      "VALUES ($1::inet, $2::macaddr, $3::bigint, $4, coalesce($5, ''), "
		      "coalesce($6::timestamptz, now()), coalesce($6::timestamptz, now())) "
		      "ON CONFLICT ON CONSTRAINT neighbour_key DO UPDATE SET count = neighbour.count + 1, "
		      "first_seen = least(neighbour.first_seen, EXCLUDED.first_seen), "
		      "last_seen = greatest(neighbour.last_seen, EXCLUDED.last_seen), "
		      "vlan_id = coalesce(EXCLUDED.vlan_id, neighbour.vlan_id) RETURNING id",
	    .del = "DELETE FROM neighbour WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM neighbour WHERE id = $1::bigint AND $2::text IS NULL",
	    .key_type = NET_T_INT,
	},
};
