-- DHCP HA (issue 16, docs/dhcp-ha.md "States", PARTNER-DOWN): automatic
-- partner-down with the region as witness.
--   dhcp_ha_auto_down: seconds the region must hear nothing from one rack of
--     the VLAN's pair (no session, last_seen that long ago) before it grants
--     the other rack partner-down; NULL = regiond.conf's dhcp_ha_auto_down,
--     0 = never automatic (only the operator's command).
--   ha_partner_down_witness: the partner-down held on the VLAN is the
--     region's grant as witness, not the operator's word.
ALTER TABLE vlan ADD COLUMN dhcp_ha_auto_down integer
		CONSTRAINT vlan_dhcp_ha_auto_down_range CHECK (dhcp_ha_auto_down BETWEEN 0 AND 2592000),
	ADD COLUMN ha_partner_down_witness boolean NOT NULL DEFAULT false;
