-- DHCP served by racks (issue: rack DHCPv4 server configured by the region).
--
-- What the region pushes is built from the network model at push time
-- (region/dhcp); this migration adds what the model did not hold yet:
-- per-subnet DHCP options, snippets, the leases racks report, addresses
-- racks quarantined, and external DHCP servers racks saw.

-- ---- per-subnet DHCP settings ----

ALTER TABLE subnet
	ADD COLUMN domain text NOT NULL DEFAULT '' CHECK (domain ~ '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)*$'
		AND length(domain) <= 253),
	ADD COLUMN ntp_servers inet[] NOT NULL DEFAULT '{}',
	-- seconds; null = the region default (dhcp_lease_time, 600)
	ADD COLUMN dhcp_lease_time integer CHECK (dhcp_lease_time IS NULL OR dhcp_lease_time BETWEEN 30 AND 31536000),
	-- option 93 architectures that get no boot file on this subnet
	ADD COLUMN disabled_boot_arches integer[] NOT NULL DEFAULT '{}'
		CHECK (0 <= ALL (disabled_boot_arches) AND 65535 >= ALL (disabled_boot_arches));

-- ---- DHCP snippets: extra options at global, subnet, range or host scope ----

CREATE TABLE dhcp_snippet (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
	description text NOT NULL DEFAULT '',
	code integer NOT NULL CHECK (code BETWEEN 1 AND 254),
	type text NOT NULL CHECK (type IN ('u8', 'u16', 'u32', 'i32', 'bool', 'ip', 'ips', 'string', 'hex', 'routes')),
	value text NOT NULL,
	-- The encoded option value, computed and checked by the region
	-- (dhcp4_snippet_encode) when the snippet is written.
	data bytea NOT NULL,
	enabled boolean NOT NULL DEFAULT true,
	-- Scope: none set = global; else exactly one.
	subnet_id bigint REFERENCES subnet (id) ON DELETE CASCADE,
	ip_range_id bigint REFERENCES ip_range (id) ON DELETE CASCADE,
	interface_id bigint REFERENCES interface (id) ON DELETE CASCADE,
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT dhcp_snippet_name_key UNIQUE (name),
	CONSTRAINT dhcp_snippet_one_scope CHECK (num_nonnulls(subnet_id, ip_range_id, interface_id) <= 1)
);
CREATE TRIGGER dhcp_snippet_touch BEFORE UPDATE ON dhcp_snippet FOR EACH ROW EXECUTE FUNCTION ir_touch();

-- ---- leases reported by racks ----

-- A lease a rack granted appears as an ip_address row: on the machine
-- interface's DHCP link when the MAC is a known machine interface with a
-- DHCP link on that subnet, else as owner_kind 'dhcp_lease'.
ALTER TABLE ip_address DROP CONSTRAINT ip_address_owner_kind_check;
ALTER TABLE ip_address ADD CONSTRAINT ip_address_owner_kind_check
	CHECK (owner_kind IN ('machine_interface', 'device', 'rack_interface', 'user_reservation', 'dhcp_lease'));
ALTER TABLE ip_address
	ADD COLUMN lease_mac macaddr,
	ADD COLUMN lease_rack_id text REFERENCES rack (id) ON DELETE CASCADE,
	ADD COLUMN lease_expiry timestamptz,
	ADD CONSTRAINT ip_address_lease CHECK ((owner_kind = 'dhcp_lease') <= (ip IS NOT NULL AND mode = 'dhcp'
		AND lease_mac IS NOT NULL AND lease_rack_id IS NOT NULL));
CREATE INDEX ip_address_lease_rack_idx ON ip_address (lease_rack_id) WHERE lease_rack_id IS NOT NULL;

CREATE OR REPLACE FUNCTION ip_holder(ip_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT CASE a.owner_kind
		WHEN 'machine_interface' THEN (
			SELECT format('machine %L interface %s', m.hostname, i.name)
			FROM interface i JOIN machine m ON m.id = i.machine_id WHERE i.id = a.interface_id)
		WHEN 'device' THEN (SELECT format('device %L', d.hostname) FROM device d WHERE d.id = a.device_id)
		WHEN 'rack_interface' THEN (
			SELECT format('rack %L interface %s', r.hostname, a.rack_interface) FROM rack r
			WHERE r.id = a.rack_id)
		WHEN 'dhcp_lease' THEN format('a DHCP lease of %s%s', a.lease_mac,
			CASE WHEN a.hostname <> '' THEN format(' (%s)', a.hostname) ELSE '' END)
		ELSE 'a user reservation' || CASE
			WHEN a.hostname <> '' THEN format(' (%s)', a.hostname)
			WHEN a.comment <> '' THEN format(' (%s)', a.comment)
			ELSE '' END
	END FROM ip_address a WHERE a.id = ip_id
$$;

-- ---- addresses a rack quarantined (DECLINE, or a probe found them in use) ----

CREATE TABLE dhcp_conflict (
	ip inet NOT NULL CHECK (ir_is_host(ip)),
	rack_id text NOT NULL REFERENCES rack (id) ON DELETE CASCADE,
	subnet_id bigint REFERENCES subnet (id) ON DELETE CASCADE,
	mac macaddr,
	reason text NOT NULL CHECK (reason IN ('decline', 'arp', 'icmp', 'admin')),
	until timestamptz NOT NULL,
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (ip, rack_id)
);

-- ---- external DHCP servers seen by racks ----

ALTER TABLE vlan
	ADD COLUMN external_dhcp_rack_id text REFERENCES rack (id) ON DELETE SET NULL,
	ADD COLUMN external_dhcp_seen timestamptz;

-- ---- configuration snapshots carry the DHCP config ----

-- The packed ironrack.v1.DhcpConfig of the snapshot ('' = none).
ALTER TABLE rack_config ADD COLUMN dhcp bytea NOT NULL DEFAULT '';
