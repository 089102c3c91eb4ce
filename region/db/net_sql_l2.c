/* Zones, spaces, fabrics and VLANs: their columns, fields, filters and SQL.
 * Statement parameters follow net_internal.h; the cross-row rules (the
 * default zone, the default VLAN of each fabric, DHCP needing a rack and
 * a dynamic range) are triggers in migrations/0002_network.sql. */
#include "region/db/net_internal.h"

#define N(a)	 (sizeof(a) / sizeof((a)[0]))
#define DESC_MAX 1024

/* ---- zones ---- */

static const struct net_col zone_cols[] = {
    {"id", NET_T_INT},	    {"name", NET_T_TEXT}, {"description", NET_T_TEXT}, {"machines", NET_T_INT},
    {"devices", NET_T_INT}, {"racks", NET_T_INT}, {"created", NET_T_TIME},     {"updated", NET_T_TIME},
};

static const struct net_field zone_fields[] = {
    {"name", NET_T_NAME, NET_F_REQUIRED, 1, 63, NULL, 0},
    {"description", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
};

static const struct net_filter_def zone_filters[] = {
    {"name", NET_T_TEXT, NULL, 0},
};

const struct net_kind_def net_def_zone = {
    .info = {"zone", "zones", zone_cols, N(zone_cols), zone_fields, N(zone_fields), zone_filters, N(zone_filters),
	     false},
    .sql =
	{
	    .list = "SELECT z.id, z.name, z.description, "
		    "(SELECT count(*) FROM machine m WHERE m.zone_id = z.id), "
		    "(SELECT count(*) FROM device d WHERE d.zone_id = z.id), "
		    "(SELECT count(*) FROM rack r WHERE r.zone_id = z.id), "
		    "ir_ms(z.created), ir_ms(z.updated), count(*) OVER () "
		    "FROM zone z "
		    "WHERE ($3::bigint IS NULL OR z.id = $3::bigint) AND ($4::text IS NULL OR z.name = $4) "
		    "ORDER BY z.name LIMIT $1::bigint OFFSET $2::bigint",
	    .insert = "INSERT INTO zone (name, description) VALUES ($1, coalesce($2, '')) RETURNING id",
	    .update = "UPDATE zone SET "
		      "name = CASE WHEN $2::int & 1 <> 0 THEN $3 ELSE name END, "
		      "description = CASE WHEN $2::int & 2 <> 0 THEN $4 ELSE description END "
		      "WHERE id = $1::bigint RETURNING id",
	    .del = "DELETE FROM zone WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM zone WHERE id = $1::bigint OR name = $2",
	    .key_type = NET_T_TEXT,
	},
};

/* ---- spaces ---- */

static const struct net_col space_cols[] = {
    {"id", NET_T_INT},	    {"name", NET_T_TEXT},    {"description", NET_T_TEXT}, {"vlans", NET_T_INT},
    {"subnets", NET_T_INT}, {"created", NET_T_TIME}, {"updated", NET_T_TIME},
};

static const struct net_field space_fields[] = {
    {"name", NET_T_NAME, NET_F_REQUIRED, 1, 63, NULL, 0},
    {"description", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
};

static const struct net_filter_def space_filters[] = {
    {"name", NET_T_TEXT, NULL, 0},
};

const struct net_kind_def net_def_space = {
    .info = {"space", "spaces", space_cols, N(space_cols), space_fields, N(space_fields), space_filters,
	     N(space_filters), false},
    .sql =
	{
	    .list = "SELECT sp.id, sp.name, sp.description, "
		    "(SELECT count(*) FROM vlan v WHERE v.space_id = sp.id), "
		    "(SELECT count(*) FROM subnet s JOIN vlan v ON v.id = s.vlan_id WHERE v.space_id = sp.id), "
		    "ir_ms(sp.created), ir_ms(sp.updated), count(*) OVER () "
		    "FROM space sp "
		    "WHERE ($3::bigint IS NULL OR sp.id = $3::bigint) AND ($4::text IS NULL OR sp.name = $4) "
		    "ORDER BY sp.name LIMIT $1::bigint OFFSET $2::bigint",
	    .insert = "INSERT INTO space (name, description) VALUES ($1, coalesce($2, '')) RETURNING id",
	    .update = "UPDATE space SET "
		      "name = CASE WHEN $2::int & 1 <> 0 THEN $3 ELSE name END, "
		      "description = CASE WHEN $2::int & 2 <> 0 THEN $4 ELSE description END "
		      "WHERE id = $1::bigint RETURNING id",
	    .del = "DELETE FROM space WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM space WHERE id = $1::bigint OR name = $2",
	    .key_type = NET_T_TEXT,
	},
};

/* ---- fabrics ---- */

static const struct net_col fabric_cols[] = {
    {"id", NET_T_INT},	  {"name", NET_T_TEXT},	       {"description", NET_T_TEXT}, {"class_type", NET_T_TEXT},
    {"vlans", NET_T_INT}, {"default_vlan", NET_T_INT}, {"created", NET_T_TIME},	    {"updated", NET_T_TIME},
};

static const struct net_field fabric_fields[] = {
    {"name", NET_T_NAME, 0, 1, 63, NULL, 0},
    {"description", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
    {"class_type", NET_T_TEXT, 0, 0, 64, NULL, 0},
};

static const struct net_filter_def fabric_filters[] = {
    {"name", NET_T_TEXT, NULL, 0},
};

const struct net_kind_def net_def_fabric = {
    .info = {"fabric", "fabrics", fabric_cols, N(fabric_cols), fabric_fields, N(fabric_fields), fabric_filters,
	     N(fabric_filters), false},
    .sql =
	{
	    .list = "SELECT f.id, f.name, f.description, f.class_type, "
		    "(SELECT count(*) FROM vlan v WHERE v.fabric_id = f.id), "
		    "(SELECT v.id FROM vlan v WHERE v.fabric_id = f.id AND v.vid = 0), "
		    "ir_ms(f.created), ir_ms(f.updated), count(*) OVER () "
		    "FROM fabric f "
		    "WHERE ($3::bigint IS NULL OR f.id = $3::bigint) AND ($4::text IS NULL OR f.name = $4) "
		    "ORDER BY f.id LIMIT $1::bigint OFFSET $2::bigint",
	    /* A NULL name becomes fabric-<id> (trigger); the default
	     * VLAN is created by a trigger in the same statement. */
	    .insert = "INSERT INTO fabric (name, description, class_type) "
		      "VALUES ($1, coalesce($2, ''), coalesce($3, '')) RETURNING id",
	    .update = "UPDATE fabric SET "
		      "name = CASE WHEN $2::int & 1 <> 0 THEN $3 ELSE name END, "
		      "description = CASE WHEN $2::int & 2 <> 0 THEN $4 ELSE description END, "
		      "class_type = CASE WHEN $2::int & 4 <> 0 THEN $5 ELSE class_type END "
		      "WHERE id = $1::bigint RETURNING id",
	    .del = "DELETE FROM fabric WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM fabric WHERE id = $1::bigint OR name = $2",
	    .key_type = NET_T_TEXT,
	},
};

/* ---- VLANs ---- */

static const struct net_col vlan_cols[] = {
    {"id", NET_T_INT},
    {"fabric", NET_T_INT},
    {"fabric_name", NET_T_TEXT},
    {"vid", NET_T_INT},
    {"name", NET_T_TEXT},
    {"mtu", NET_T_INT},
    {"description", NET_T_TEXT},
    {"space", NET_T_TEXT},
    {"dhcp_on", NET_T_BOOL},
    {"primary_rack", NET_T_TEXT},
    {"secondary_rack", NET_T_TEXT},
    {"relay_vlan", NET_T_INT},
    {"external_dhcp", NET_T_INET},
    /* read only: which rack last saw the external DHCP server, and when */
    {"external_dhcp_rack", NET_T_TEXT},
    {"external_dhcp_seen", NET_T_TIME},
    /* DHCP HA: seconds unheard before the region grants the partner
     * partner-down (null: regiond.conf's dhcp_ha_auto_down; 0: never) */
    {"dhcp_ha_auto_down", NET_T_INT},
    {"subnets", NET_T_INT},
    {"created", NET_T_TIME},
    {"updated", NET_T_TIME},
    /* read only: the infrastructure whose network this VLAN is (null:
     * none; migration 0013) */
    {"infrastructure", NET_T_TEXT},
};

static const struct net_field vlan_fields[] = {
    {"fabric", NET_T_REF, NET_F_REQUIRED | NET_F_CREATE, 0, 0, NULL, NET_FABRIC},
    {"vid", NET_T_INT, NET_F_REQUIRED, 0, 4094, NULL, 0},
    {"name", NET_T_TEXT, 0, 0, 255, NULL, 0},
    {"mtu", NET_T_INT, 0, 552, 65535, NULL, 0},
    {"description", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
    {"space", NET_T_REF, NET_F_NULLABLE, 0, 0, NULL, NET_SPACE},
    {"dhcp_on", NET_T_BOOL, 0, 0, 0, NULL, 0},
    {"primary_rack", NET_T_REF, NET_F_NULLABLE, 0, 0, NULL, NET_RACK},
    {"secondary_rack", NET_T_REF, NET_F_NULLABLE, 0, 0, NULL, NET_RACK},
    {"relay_vlan", NET_T_REF, NET_F_NULLABLE, 0, 0, NULL, NET_VLAN},
    {"external_dhcp", NET_T_INET, NET_F_NULLABLE, 0, 0, NULL, 0},
    {"dhcp_ha_auto_down", NET_T_INT, NET_F_NULLABLE, 0, 2592000, NULL, 0},
};

static const struct net_filter_def vlan_filters[] = {
    {"fabric", NET_T_REF, NULL, NET_FABRIC},
    {"vid", NET_T_INT, NULL, 0},
    {"space", NET_T_REF, NULL, NET_SPACE},
    {"dhcp_on", NET_T_BOOL, NULL, 0},
};

const struct net_kind_def net_def_vlan = {
    .info = {"VLAN", "vlans", vlan_cols, N(vlan_cols), vlan_fields, N(vlan_fields), vlan_filters, N(vlan_filters),
	     false},
    .sql =
	{
	    .list = "SELECT v.id, v.fabric_id, f.name, v.vid, v.name, v.mtu, v.description, sp.name, v.dhcp_on, "
		    "v.primary_rack_id, v.secondary_rack_id, v.relay_vlan_id, host(v.external_dhcp), "
		    "v.external_dhcp_rack_id, ir_ms(v.external_dhcp_seen), v.dhcp_ha_auto_down, "
		    "(SELECT count(*) FROM subnet s WHERE "
		    "s.vlan_id = v.id), "
		    "ir_ms(v.created), ir_ms(v.updated), infra_vlan_holder(v.id), count(*) OVER () "
		    "FROM vlan v JOIN fabric f ON f.id = v.fabric_id LEFT JOIN space sp ON sp.id = v.space_id "
		    "WHERE ($3::bigint IS NULL OR v.id = $3::bigint) "
		    "AND ($4::bigint IS NULL OR v.fabric_id = $4::bigint) AND ($5::int IS NULL OR v.vid = $5::int) "
		    "AND ($6::bigint IS NULL OR v.space_id = $6::bigint) "
		    "AND ($7::boolean IS NULL OR v.dhcp_on = $7::boolean) "
		    "ORDER BY v.fabric_id, v.vid LIMIT $1::bigint OFFSET $2::bigint",
	    .insert =
		"INSERT INTO vlan (fabric_id, vid, name, mtu, description, space_id, dhcp_on, "
		"primary_rack_id, secondary_rack_id, relay_vlan_id, external_dhcp, dhcp_ha_auto_down) "
		"VALUES ($1::bigint, $2::int, coalesce($3, ''), coalesce($4::int, 1500), coalesce($5, ''), "
		"$6::bigint, coalesce($7::boolean, false), $8, $9, $10::bigint, $11::inet, $12::int) RETURNING id",
	    .update = "UPDATE vlan SET "
		      "fabric_id = CASE WHEN $2::int & 1 <> 0 THEN $3::bigint ELSE fabric_id END, "
		      "vid = CASE WHEN $2::int & 2 <> 0 THEN $4::int ELSE vid END, "
		      "name = CASE WHEN $2::int & 4 <> 0 THEN $5 ELSE name END, "
		      "mtu = CASE WHEN $2::int & 8 <> 0 THEN $6::int ELSE mtu END, "
		      "description = CASE WHEN $2::int & 16 <> 0 THEN $7 ELSE description END, "
		      "space_id = CASE WHEN $2::int & 32 <> 0 THEN $8::bigint ELSE space_id END, "
		      "dhcp_on = CASE WHEN $2::int & 64 <> 0 THEN $9::boolean ELSE dhcp_on END, "
		      "primary_rack_id = CASE WHEN $2::int & 128 <> 0 THEN $10 ELSE primary_rack_id END, "
		      "secondary_rack_id = CASE WHEN $2::int & 256 <> 0 THEN $11 ELSE secondary_rack_id END, "
		      "relay_vlan_id = CASE WHEN $2::int & 512 <> 0 THEN $12::bigint ELSE relay_vlan_id END, "
		      "external_dhcp = CASE WHEN $2::int & 1024 <> 0 THEN $13::inet ELSE external_dhcp END, "
		      "dhcp_ha_auto_down = CASE WHEN $2::int & 2048 <> 0 THEN $14::int ELSE dhcp_ha_auto_down END "
		      "WHERE id = $1::bigint RETURNING id",
	    .del = "DELETE FROM vlan WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM vlan WHERE id = $1::bigint AND $2::text IS NULL",
	    .key_type = NET_T_INT,
	},
};

/* ---- racks: referred to by id or host name, listed by their own API ---- */

const struct net_kind_def net_def_rack = {
    .info = {"rack", "racks", NULL, 0, NULL, 0, NULL, 0, true},
    .sql =
	{
	    .resolve = "SELECT id FROM rack WHERE id = coalesce($1, $2) OR hostname = coalesce($1, $2) "
		       "ORDER BY id = coalesce($1, $2) DESC, id LIMIT 1",
	    .key_type = NET_T_TEXT,
	},
};
