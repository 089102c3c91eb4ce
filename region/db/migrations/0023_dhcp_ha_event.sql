-- DHCP HA (issue 16, docs/dhcp-ha.md "Region and operator"): what happened
-- to a VLAN's pair, newest last, for operators and alerting: a rack's link
-- or state degraded or back to normal, partner-down declared (by the
-- operator or the region as witness) and over, and each address a merge
-- found bound to two clients (a conflict, once per rack and finding: the
-- racks repeat their recent findings in every report).
CREATE TABLE dhcp_ha_event (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	vlan_id bigint NOT NULL REFERENCES vlan (id) ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('link-down', 'link-up', 'degraded', 'normal', 'partner-down',
		'partner-down-over', 'conflict')),
	rack_id text NOT NULL DEFAULT '',
	partner text NOT NULL DEFAULT '',
	state text NOT NULL DEFAULT '',
	ip inet,
	kept_client text,
	lost_client text,
	rack_at timestamptz, -- conflict: when the rack found it (its clock)
	description text NOT NULL
);
CREATE INDEX dhcp_ha_event_vlan_idx ON dhcp_ha_event (vlan_id, id);
CREATE UNIQUE INDEX dhcp_ha_event_conflict_key ON dhcp_ha_event (vlan_id, rack_id, ip, rack_at)
	WHERE kind = 'conflict';
