-- DHCP HA (issue 16, docs/dhcp-ha.md): where a rack's partner link listens,
-- as its session's hello said (ha_listen / ha_advertise; a wildcard host
-- replaced by the address the session came from). '' = the rack takes no
-- HA role, or has not said yet. The region hands each rack of a pair the
-- other's endpoint in its DHCP config.
ALTER TABLE rack ADD COLUMN ha_endpoint text NOT NULL DEFAULT '';
