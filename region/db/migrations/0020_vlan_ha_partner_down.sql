-- DHCP HA (issue 16, docs/dhcp-ha.md "States", PARTNER-DOWN): the rack of a
-- VLAN's pair holding partner-down, the operator's word that the other rack
-- is dead, and since when. Set by POST /api/v1/vlans/{id}/dhcp-partner-down;
-- cleared by DELETE there, or by the region when the holder reports the
-- pair back to normal. A holder that is no longer one of the pair's racks
-- holds nothing (the DHCP build ignores it).
ALTER TABLE vlan ADD COLUMN ha_partner_down_rack_id text REFERENCES rack (id) ON DELETE SET NULL,
	ADD COLUMN ha_partner_down_at timestamptz;
