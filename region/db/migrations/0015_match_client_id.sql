-- DHCP client identity per subnet (docs/dhcp.md, "What clients get"): off
-- (the default) keys leases by the hardware address, as MAAS's
-- ignore-client-uids; on keys them by option 61 when a client sends one
-- (Kea's match-client-id), so two stacks sharing one MAC get an address
-- each. Carried to the rack in DhcpSubnet.match_client_id.
ALTER TABLE subnet ADD COLUMN dhcp_match_client_id boolean NOT NULL DEFAULT false;
