-- DHCP HA (issue 16, docs/dhcp-ha.md): the rack's own view of its pairs, as
-- its last HaStatusReport said (a JSON array, one object per pair: vlan_id,
-- vid, role, partner, link_up, since, last_contact, refused, last_error),
-- and when it said it. Shown with the pair in `racks dhcp`.
ALTER TABLE rack ADD COLUMN ha_status jsonb NOT NULL DEFAULT '[]',
	ADD COLUMN ha_status_at timestamptz;
