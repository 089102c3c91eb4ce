/* Subnets, IP ranges, static routes and IP addresses: columns, fields,
 * filters and SQL (parameters as in net_internal.h). Containment, overlap
 * and "in use" rules are triggers in migrations/0002_network.sql;
 * allocation is net_alloc.c. */
#include "region/db/net_internal.h"

#define N(a)	 (sizeof(a) / sizeof((a)[0]))
#define DESC_MAX 1024

static const char *const family_choices[] = {"4", "6", NULL};
static const char *const range_types[] = {"reserved", "dynamic", NULL};
static const char *const ip_modes[] = {"auto", "static", "dhcp", "discovered", "unconfigured", NULL};
static const char *const owner_kinds[] = {"machine_interface", "device",     "rack_interface",
					  "user_reservation",  "dhcp_lease", NULL};

/* ---- subnets ---- */

static const struct net_col subnet_cols[] = {
    {"id", NET_T_INT},
    {"cidr", NET_T_CIDR},
    {"name", NET_T_TEXT},
    {"vlan", NET_T_INT},
    {"vid", NET_T_INT},
    {"fabric", NET_T_INT},
    {"fabric_name", NET_T_TEXT},
    {"space", NET_T_TEXT},
    {"gateway", NET_T_INET},
    {"dns_servers", NET_T_LIST},
    {"description", NET_T_TEXT},
    {"managed", NET_T_BOOL},
    {"active_discovery", NET_T_BOOL},
    {"discovery_interval", NET_T_INT},
    {"allow_proxy", NET_T_BOOL},
    {"allow_dns", NET_T_BOOL},
    {"family", NET_T_INT},
    {"ip_addresses", NET_T_INT},
    {"domain", NET_T_TEXT},
    {"ntp_servers", NET_T_LIST},
    {"dhcp_lease_time", NET_T_INT},
    {"disabled_boot_arches", NET_T_INTS},
    {"dhcp_match_client_id", NET_T_BOOL},
    {"created", NET_T_TIME},
    {"updated", NET_T_TIME},
    /* read only: the infrastructure whose WAN block this is (null: none) */
    {"infrastructure", NET_T_TEXT},
};

/* fabric and vid pick a VLAN when vlan is not given (subnet_vlan_pick). */
static const struct net_field subnet_fields[] = {
    {"cidr", NET_T_CIDR, NET_F_REQUIRED, 0, 0, NULL, 0},
    {"name", NET_T_TEXT, 0, 1, 255, NULL, 0},
    {"vlan", NET_T_REF, 0, 0, 0, NULL, NET_VLAN},
    {"fabric", NET_T_REF, 0, 0, 0, NULL, NET_FABRIC},
    {"vid", NET_T_INT, 0, 0, 4094, NULL, 0},
    {"gateway", NET_T_INET, NET_F_NULLABLE, 0, 0, NULL, 0},
    {"dns_servers", NET_T_LIST, NET_F_NULLABLE, 0, 16, NULL, 0},
    {"description", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
    {"managed", NET_T_BOOL, 0, 0, 0, NULL, 0},
    {"active_discovery", NET_T_BOOL, 0, 0, 0, NULL, 0},
    {"discovery_interval", NET_T_INT, 0, 60, 604800, NULL, 0},
    {"allow_proxy", NET_T_BOOL, 0, 0, 0, NULL, 0},
    {"allow_dns", NET_T_BOOL, 0, 0, 0, NULL, 0},
    /* DHCP: option 15, option 42, the lease time (null: the default). */
    {"domain", NET_T_TEXT, 0, 0, 253, NULL, 0},
    {"ntp_servers", NET_T_LIST, NET_F_NULLABLE, 0, 16, NULL, 0},
    {"dhcp_lease_time", NET_T_INT, NET_F_NULLABLE, 30, 31536000, NULL, 0},
    /* Option 93 architectures that get no boot file on this subnet. */
    {"disabled_boot_arches", NET_T_INTS, NET_F_NULLABLE, 0, 65535, NULL, 0},
    /* DHCP leases keyed by option 61 when sent (docs/dhcp.md). */
    {"dhcp_match_client_id", NET_T_BOOL, 0, 0, 0, NULL, 0},
};

static const struct net_filter_def subnet_filters[] = {
    {"vlan", NET_T_REF, NULL, NET_VLAN},   {"fabric", NET_T_REF, NULL, NET_FABRIC},
    {"space", NET_T_REF, NULL, NET_SPACE}, {"cidr", NET_T_CIDR, NULL, 0},
    {"managed", NET_T_BOOL, NULL, 0},	   {"family", NET_T_ENUM, family_choices, 0},
};

const struct net_kind_def net_def_subnet = {
    .info = {"subnet", "subnets", subnet_cols, N(subnet_cols), subnet_fields, N(subnet_fields), subnet_filters,
	     N(subnet_filters), false},
    .sql =
	{
	    .list =
		"SELECT s.id, s.cidr::text, s.name, s.vlan_id, v.vid, v.fabric_id, f.name, sp.name, "
		"host(s.gateway), array_to_string(ARRAY(SELECT host(d) FROM unnest(s.dns_servers) "
		"WITH ORDINALITY AS u(d, n) ORDER BY n), ' '), "
		"s.description, s.managed, s.active_discovery, s.discovery_interval, s.allow_proxy, s.allow_dns, "
		"family(s.cidr), (SELECT count(*) FROM ip_address a WHERE a.subnet_id = s.id), "
		"s.domain, array_to_string(ARRAY(SELECT host(n) FROM unnest(s.ntp_servers) "
		"WITH ORDINALITY AS u(n, k) ORDER BY k), ' '), s.dhcp_lease_time, "
		"array_to_string(s.disabled_boot_arches, ' '), s.dhcp_match_client_id, ir_ms(s.created), "
		"ir_ms(s.updated), "
		"infra_subnet_holder(s.id), count(*) OVER () "
		"FROM subnet s JOIN vlan v ON v.id = s.vlan_id JOIN fabric f ON f.id = v.fabric_id "
		"LEFT JOIN space sp ON sp.id = v.space_id "
		"WHERE ($3::bigint IS NULL OR s.id = $3::bigint) AND ($4::bigint IS NULL OR s.vlan_id = $4::bigint) "
		"AND ($5::bigint IS NULL OR v.fabric_id = $5::bigint) "
		"AND ($6::bigint IS NULL OR v.space_id = $6::bigint) AND ($7::cidr IS NULL OR s.cidr = $7::cidr) "
		"AND ($8::boolean IS NULL OR s.managed = $8::boolean) "
		"AND ($9::int IS NULL OR family(s.cidr) = $9::int) "
		"ORDER BY family(s.cidr), s.cidr LIMIT $1::bigint OFFSET $2::bigint",
	    .insert = "INSERT INTO subnet (cidr, name, vlan_id, gateway, dns_servers, description, managed, "
		      "active_discovery, discovery_interval, allow_proxy, allow_dns, domain, ntp_servers, "
		      "dhcp_lease_time, disabled_boot_arches, dhcp_match_client_id) "
		      "VALUES ($1::cidr, coalesce($2, $1::cidr::text), subnet_vlan_pick($3::bigint, $4::bigint, "
		      "$5::int), $6::inet, coalesce($7::inet[], '{}'), coalesce($8, ''), coalesce($9::boolean, true), "
		      "coalesce($10::boolean, false), coalesce($11::int, 10800), coalesce($12::boolean, true), "
		      "coalesce($13::boolean, true), coalesce($14, ''), coalesce($15::inet[], '{}'), $16::int, "
		      "coalesce($17::int[], '{}'), coalesce($18::boolean, false)) "
		      "RETURNING id",
	    /* A name that was the old CIDR follows a new CIDR. vlan,
	     * fabric or vid (bits 4, 8, 16) move the subnet; vid alone
	     * stays on the subnet's fabric. */
	    .update = "UPDATE subnet s SET "
		      "cidr = CASE WHEN $2::int & 1 <> 0 THEN $3::cidr ELSE s.cidr END, "
		      "name = CASE WHEN $2::int & 2 <> 0 THEN $4 "
		      "WHEN $2::int & 1 <> 0 AND s.name = s.cidr::text THEN $3::cidr::text ELSE s.name END, "
		      "vlan_id = CASE WHEN $2::int & 28 <> 0 THEN subnet_vlan_pick($5::bigint, coalesce($6::bigint, "
		      "(SELECT fabric_id FROM vlan WHERE id = s.vlan_id)), $7::int) ELSE s.vlan_id END, "
		      "gateway = CASE WHEN $2::int & 32 <> 0 THEN $8::inet ELSE s.gateway END, "
		      "dns_servers = CASE WHEN $2::int & 64 <> 0 THEN coalesce($9::inet[], '{}') "
		      "ELSE s.dns_servers END, "
		      "description = CASE WHEN $2::int & 128 <> 0 THEN $10 ELSE s.description END, "
		      "managed = CASE WHEN $2::int & 256 <> 0 THEN $11::boolean ELSE s.managed END, "
		      "active_discovery = CASE WHEN $2::int & 512 <> 0 THEN $12::boolean ELSE s.active_discovery END, "
		      "discovery_interval = CASE WHEN $2::int & 1024 <> 0 THEN $13::int "
		      "ELSE s.discovery_interval END, "
		      "allow_proxy = CASE WHEN $2::int & 2048 <> 0 THEN $14::boolean ELSE s.allow_proxy END, "
		      "allow_dns = CASE WHEN $2::int & 4096 <> 0 THEN $15::boolean ELSE s.allow_dns END, "
		      "domain = CASE WHEN $2::int & 8192 <> 0 THEN $16 ELSE s.domain END, "
		      "ntp_servers = CASE WHEN $2::int & 16384 <> 0 THEN coalesce($17::inet[], '{}') "
		      "ELSE s.ntp_servers END, "
		      "dhcp_lease_time = CASE WHEN $2::int & 32768 <> 0 THEN $18::int ELSE s.dhcp_lease_time END, "
		      "disabled_boot_arches = CASE WHEN $2::int & 65536 <> 0 THEN coalesce($19::int[], '{}') "
		      "ELSE s.disabled_boot_arches END, "
		      "dhcp_match_client_id = CASE WHEN $2::int & 131072 <> 0 THEN $20::boolean "
		      "ELSE s.dhcp_match_client_id END "
		      "WHERE s.id = $1::bigint RETURNING s.id",
	    /* Refused by the subnet_protect trigger while addresses are
	     * in use; ranges and routes go with the subnet. */
	    .del = "DELETE FROM subnet WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM subnet WHERE id = $1::bigint OR cidr = $2::cidr",
	    .key_type = NET_T_CIDR,
	},
};

/* ---- IP ranges ---- */

static const struct net_col range_cols[] = {
    {"id", NET_T_INT},	      {"subnet", NET_T_INT},   {"subnet_cidr", NET_T_CIDR}, {"type", NET_T_TEXT},
    {"start_ip", NET_T_INET}, {"end_ip", NET_T_INET},  {"comment", NET_T_TEXT},	    {"owner", NET_T_TEXT},
    {"created", NET_T_TIME},  {"updated", NET_T_TIME},
};

static const struct net_field range_fields[] = {
    {"subnet", NET_T_REF, NET_F_REQUIRED | NET_F_CREATE, 0, 0, NULL, NET_SUBNET},
    {"type", NET_T_ENUM, NET_F_REQUIRED, 0, 0, range_types, 0},
    {"start_ip", NET_T_INET, NET_F_REQUIRED, 0, 0, NULL, 0},
    {"end_ip", NET_T_INET, NET_F_REQUIRED, 0, 0, NULL, 0},
    {"comment", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
    {"owner", NET_T_TEXT, 0, 0, 255, NULL, 0},
};

static const struct net_filter_def range_filters[] = {
    {"subnet", NET_T_REF, NULL, NET_SUBNET},
    {"type", NET_T_ENUM, range_types, 0},
};

const struct net_kind_def net_def_range = {
    .info = {"IP range", "ip_ranges", range_cols, N(range_cols), range_fields, N(range_fields), range_filters,
	     N(range_filters), false},
    .sql =
	{
	    .list =
		"SELECT r.id, r.subnet_id, s.cidr::text, r.type, host(r.start_ip), host(r.end_ip), r.comment, "
		"r.owner, ir_ms(r.created), ir_ms(r.updated), count(*) OVER () "
		"FROM ip_range r JOIN subnet s ON s.id = r.subnet_id "
		"WHERE ($3::bigint IS NULL OR r.id = $3::bigint) AND ($4::bigint IS NULL OR r.subnet_id = $4::bigint) "
		"AND ($5::text IS NULL OR r.type = $5) "
		"ORDER BY r.start_ip LIMIT $1::bigint OFFSET $2::bigint",
	    .insert = "INSERT INTO ip_range (subnet_id, type, start_ip, end_ip, comment, owner) "
		      "VALUES ($1::bigint, $2, $3::inet, $4::inet, coalesce($5, ''), coalesce($6, '')) RETURNING id",
	    .update = "UPDATE ip_range SET "
		      "subnet_id = CASE WHEN $2::int & 1 <> 0 THEN $3::bigint ELSE subnet_id END, "
		      "type = CASE WHEN $2::int & 2 <> 0 THEN $4 ELSE type END, "
		      "start_ip = CASE WHEN $2::int & 4 <> 0 THEN $5::inet ELSE start_ip END, "
		      "end_ip = CASE WHEN $2::int & 8 <> 0 THEN $6::inet ELSE end_ip END, "
		      "comment = CASE WHEN $2::int & 16 <> 0 THEN $7 ELSE comment END, "
		      "owner = CASE WHEN $2::int & 32 <> 0 THEN $8 ELSE owner END "
		      "WHERE id = $1::bigint RETURNING id",
	    .del = "DELETE FROM ip_range WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM ip_range WHERE id = $1::bigint AND $2::text IS NULL",
	    .key_type = NET_T_INT,
	},
};

/* ---- static routes ---- */

static const struct net_col route_cols[] = {
    {"id", NET_T_INT},
    {"source", NET_T_INT},
    {"source_cidr", NET_T_CIDR},
    {"destination", NET_T_INT},
    {"destination_cidr", NET_T_CIDR},
    {"gateway", NET_T_INET},
    {"metric", NET_T_INT},
    {"created", NET_T_TIME},
    {"updated", NET_T_TIME},
};

static const struct net_field route_fields[] = {
    {"source", NET_T_REF, NET_F_REQUIRED, 0, 0, NULL, NET_SUBNET},
    {"destination", NET_T_REF, NET_F_REQUIRED, 0, 0, NULL, NET_SUBNET},
    {"gateway", NET_T_INET, NET_F_REQUIRED, 0, 0, NULL, 0},
    {"metric", NET_T_INT, 0, 0, 2147483647, NULL, 0},
};

static const struct net_filter_def route_filters[] = {
    {"source", NET_T_REF, NULL, NET_SUBNET},
    {"destination", NET_T_REF, NULL, NET_SUBNET},
};

const struct net_kind_def net_def_route = {
    .info = {"static route", "static_routes", route_cols, N(route_cols), route_fields, N(route_fields), route_filters,
	     N(route_filters), false},
    .sql =
	{
	    .list =
		"SELECT r.id, r.source_id, s.cidr::text, r.destination_id, d.cidr::text, host(r.gateway), "
		"r.metric, ir_ms(r.created), ir_ms(r.updated), count(*) OVER () "
		"FROM static_route r JOIN subnet s ON s.id = r.source_id JOIN subnet d ON d.id = r.destination_id "
		"WHERE ($3::bigint IS NULL OR r.id = $3::bigint) AND ($4::bigint IS NULL OR r.source_id = $4::bigint) "
		"AND ($5::bigint IS NULL OR r.destination_id = $5::bigint) "
		"ORDER BY s.cidr, d.cidr, r.metric, r.id LIMIT $1::bigint OFFSET $2::bigint",
	    .insert = "INSERT INTO static_route (source_id, destination_id, gateway, metric) "
		      "VALUES ($1::bigint, $2::bigint, $3::inet, coalesce($4::int, 0)) RETURNING id",
	    .update = "UPDATE static_route SET "
		      "source_id = CASE WHEN $2::int & 1 <> 0 THEN $3::bigint ELSE source_id END, "
		      "destination_id = CASE WHEN $2::int & 2 <> 0 THEN $4::bigint ELSE destination_id END, "
		      "gateway = CASE WHEN $2::int & 4 <> 0 THEN $5::inet ELSE gateway END, "
		      "metric = CASE WHEN $2::int & 8 <> 0 THEN $6::int ELSE metric END "
		      "WHERE id = $1::bigint RETURNING id",
	    .del = "DELETE FROM static_route WHERE id = $1::bigint RETURNING id",
	    .resolve = "SELECT id FROM static_route WHERE id = $1::bigint AND $2::text IS NULL",
	    .key_type = NET_T_INT,
	},
};

/* ---- IP addresses: created by allocation (net_alloc.c) ---- */

static const struct net_col ip_cols[] = {
    {"id", NET_T_INT},
    {"ip", NET_T_INET},
    {"subnet", NET_T_INT},
    {"subnet_cidr", NET_T_CIDR},
    {"mode", NET_T_TEXT},
    {"owner_kind", NET_T_TEXT},
    {"holder", NET_T_TEXT},
    {"machine", NET_T_INT},
    {"interface", NET_T_INT},
    {"device", NET_T_INT},
    {"rack", NET_T_TEXT},
    {"rack_interface", NET_T_TEXT},
    {"hostname", NET_T_TEXT},
    {"comment", NET_T_TEXT},
    {"created", NET_T_TIME},
    {"updated", NET_T_TIME},
    /* owner_kind dhcp_lease: the lease a rack reported */
    {"lease_mac", NET_T_MAC},
    {"lease_rack", NET_T_TEXT},
    {"lease_expiry", NET_T_TIME},
    /* read only: the infrastructure and instance ("web#0") whose WAN
     * address this is (null: none) */
    {"infrastructure", NET_T_TEXT},
    {"instance", NET_T_TEXT},
};

static const struct net_field ip_fields[] = {
    {"hostname", NET_T_TEXT, 0, 0, 255, NULL, 0},
    {"comment", NET_T_TEXT, 0, 0, DESC_MAX, NULL, 0},
};

static const struct net_filter_def ip_filters[] = {
    {"subnet", NET_T_REF, NULL, NET_SUBNET},
    {"mode", NET_T_ENUM, ip_modes, 0},
    {"owner_kind", NET_T_ENUM, owner_kinds, 0},
    {"machine", NET_T_REF, NULL, NET_MACHINE},
    {"interface", NET_T_REF, NULL, NET_INTERFACE},
    {"device", NET_T_REF, NULL, NET_DEVICE},
    {"ip", NET_T_INET, NULL, 0},
};

const struct net_kind_def net_def_ip = {
    .info = {"IP address", "ip_addresses", ip_cols, N(ip_cols), ip_fields, N(ip_fields), ip_filters, N(ip_filters),
	     false},
    .sql =
	{
	    /* The page is cut first so that holders are described for
	     * the rows shown only. */
	    .list =
		"SELECT a.id, host(a.ip), a.subnet_id, s.cidr::text, a.mode, a.owner_kind, ip_holder(a.id), "
		"i.machine_id, a.interface_id, a.device_id, a.rack_id, a.rack_interface, a.hostname, a.comment, "
		"ir_ms(a.created), ir_ms(a.updated), a.lease_mac::text, a.lease_rack_id, ir_ms(a.lease_expiry), "
		"infra_ip_holder(a.id), infra_ip_instance(a.id), a.total "
		"FROM (SELECT a.*, count(*) OVER () AS total FROM ip_address a "
		"LEFT JOIN interface i ON i.id = a.interface_id "
		"WHERE ($3::bigint IS NULL OR a.id = $3::bigint) AND ($4::bigint IS NULL OR a.subnet_id = $4::bigint) "
		"AND ($5::text IS NULL OR a.mode = $5) AND ($6::text IS NULL OR a.owner_kind = $6) "
		"AND ($7::bigint IS NULL OR i.machine_id = $7::bigint) "
		"AND ($8::bigint IS NULL OR a.interface_id = $8::bigint) "
		"AND ($9::bigint IS NULL OR a.device_id = $9::bigint) AND ($10::inet IS NULL OR a.ip = $10::inet) "
		"ORDER BY a.ip NULLS LAST, a.id LIMIT $1::bigint OFFSET $2::bigint) a "
		"JOIN subnet s ON s.id = a.subnet_id LEFT JOIN interface i ON i.id = a.interface_id "
		"ORDER BY a.ip NULLS LAST, a.id",
	    .update = "UPDATE ip_address SET "
		      "hostname = CASE WHEN $2::int & 1 <> 0 THEN $3 ELSE hostname END, "
		      "comment = CASE WHEN $2::int & 2 <> 0 THEN $4 ELSE comment END "
		      "WHERE id = $1::bigint RETURNING id",
	    /* A DHCP lease is the rack's: refused (IR409) with its MAC. */
	    .del = "DELETE FROM ip_address WHERE id = $1::bigint AND ip_address_api_deletable(id) RETURNING id",
	    .resolve = "SELECT id FROM ip_address WHERE id = $1::bigint OR ip = $2::inet",
	    .key_type = NET_T_INET,
	},
};
