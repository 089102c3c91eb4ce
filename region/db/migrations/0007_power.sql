-- Power (docs/power.md): how to reach a machine's BMC, what state it was
-- last seen in, and what was asked of it.

-- power_type (0002) names the driver: '' (none), ipmi, redfish, wol, manual.
-- power_params holds the driver's parameters without secrets:
--   {"address": "10.0.0.5", "user": "admin", "options": {"cipher_suite": "17"}}
-- power_secret is the BMC password sealed with the region's secret key
-- (region/secret.c: AES-256-GCM, bound to the machine's id); it is never
-- returned by the API.
ALTER TABLE machine
	ADD COLUMN power_params jsonb NOT NULL DEFAULT '{}'::jsonb,
	ADD COLUMN power_secret bytea,
	ADD COLUMN power_state text NOT NULL DEFAULT 'unknown'
		CHECK (power_state IN ('on', 'off', 'unknown', 'error')),
	ADD COLUMN power_state_at timestamptz,
	ADD COLUMN power_error text NOT NULL DEFAULT '',
	-- The rack that polls this machine now (set when a poll set is sent).
	ADD COLUMN power_rack_id text REFERENCES rack (id) ON DELETE SET NULL;

ALTER TABLE machine ADD CONSTRAINT machine_power_type_check
	CHECK (power_type IN ('', 'ipmi', 'redfish', 'wol', 'manual'));

-- One row per power action asked of a rack.
CREATE TABLE power_action (
	id bigserial PRIMARY KEY,
	machine_id bigint NOT NULL REFERENCES machine (id) ON DELETE CASCADE,
	action text NOT NULL CHECK (action IN ('on', 'off', 'cycle', 'query')),
	boot text NOT NULL DEFAULT '' CHECK (boot IN ('', 'pxe', 'disk')),
	requested_by text NOT NULL DEFAULT '',
	requested timestamptz NOT NULL DEFAULT now(),
	rack_id text,
	status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
	state text NOT NULL DEFAULT '',
	message text NOT NULL DEFAULT '',
	needs_person boolean NOT NULL DEFAULT false,
	-- Failed because its rack's session ended first: the outcome the rack
	-- reports when it comes back still replaces the failure.
	rack_lost boolean NOT NULL DEFAULT false,
	finished timestamptz
);
CREATE INDEX power_action_machine_idx ON power_action (machine_id, id);
-- Actions still waiting for their rack, to fail them when it goes away.
CREATE INDEX power_action_pending_idx ON power_action (rack_id) WHERE status = 'pending';

-- What happened to a machine, newest last: power actions requested and
-- their outcomes, power states seen changing. Later issues add lifecycle
-- kinds.
CREATE TABLE machine_event (
	id bigserial PRIMARY KEY,
	machine_id bigint NOT NULL REFERENCES machine (id) ON DELETE CASCADE,
	at timestamptz NOT NULL DEFAULT now(),
	kind text NOT NULL,
	actor text NOT NULL DEFAULT '',
	description text NOT NULL DEFAULT '',
	action_id bigint REFERENCES power_action (id) ON DELETE SET NULL
);
CREATE INDEX machine_event_machine_idx ON machine_event (machine_id, id);

-- Which rack acts on a machine's power (docs/power.md, "Which rack"):
-- for a BMC with an IP address, the primary, then the secondary rack of the
-- VLAN whose subnet holds the address, else any rack with an interface on
-- that subnet, else any rack with an interface on the address's network
-- (a subnet IPAM does not know yet); for Wake-on-LAN, manual, or a BMC
-- known by host name, the same through the subnets of the machine's own
-- VLANs. Only racks connected to region_name count. rack_id is NULL when
-- none does. iface is the rack interface on that subnet (what Wake-on-LAN
-- sends on); how says why this rack, for logs. (A rack reports its
-- addresses with their prefix length, 10.0.0.1/24: host() compares the
-- address alone.)
CREATE FUNCTION power_rack_for(m_id bigint, region_name text, OUT rack_id text, OUT iface text, OUT how text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	m machine;
	addr inet;
BEGIN
	SELECT * INTO m FROM machine WHERE id = m_id;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF m.power_type IN ('ipmi', 'redfish') AND (m.power_params->>'address') ~ '^[0-9a-fA-F.:]+$' THEN
		BEGIN
			addr := (m.power_params->>'address')::inet;
		EXCEPTION WHEN others THEN
			addr := NULL;
		END;
	END IF;
	WITH sn AS (
		SELECT s.cidr, s.vlan_id FROM subnet s WHERE addr IS NOT NULL AND addr << s.cidr
		UNION
		SELECT s.cidr, s.vlan_id FROM subnet s JOIN interface i ON i.vlan_id = s.vlan_id
		WHERE addr IS NULL AND i.machine_id = m_id
	), cand AS (
		SELECT v.primary_rack_id AS rid, 1 AS pref, sn.cidr AS net,
			format('primary rack of VLAN %s (subnet %s)', v.id, sn.cidr) AS why
		FROM sn JOIN vlan v ON v.id = sn.vlan_id WHERE v.primary_rack_id IS NOT NULL
		UNION ALL
		SELECT v.secondary_rack_id, 2, sn.cidr, format('secondary rack of VLAN %s (subnet %s)', v.id, sn.cidr)
		FROM sn JOIN vlan v ON v.id = sn.vlan_id WHERE v.secondary_rack_id IS NOT NULL
		UNION ALL
		SELECT ri.rack_id, 3, sn.cidr, format('interface %s on subnet %s', ri.name, sn.cidr)
		FROM sn, rack_interface ri, unnest(ri.addresses) a WHERE host(a)::inet <<= sn.cidr
		UNION ALL
		SELECT ri.rack_id, 4, network(a)::cidr, format('interface %s on network %s', ri.name, network(a))
		FROM rack_interface ri, unnest(ri.addresses) a WHERE addr IS NOT NULL AND addr << network(a)
	)
	SELECT c.rid, c.why,
		(SELECT ri.name FROM rack_interface ri, unnest(ri.addresses) a
		 WHERE ri.rack_id = c.rid AND host(a)::inet <<= c.net ORDER BY ri.name LIMIT 1)
	INTO rack_id, how, iface
	FROM cand c JOIN rack r ON r.id = c.rid
	WHERE r.connected AND r.connected_region = region_name
	ORDER BY c.pref, masklen(c.net) DESC, c.rid
	LIMIT 1;
END $$;

-- Timestamps as the API shows them (RFC 3339, UTC, milliseconds).
CREATE FUNCTION ir_rfc3339(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE STRICT
	AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
