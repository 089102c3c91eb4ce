-- Discovery (issue 17, docs/discovery.md): what racks see on the wire.
-- Racks report ARP and mDNS sightings; each (ip, mac, rack, interface) is
-- one neighbour row (0002), now with the name heard over mDNS.

ALTER TABLE neighbour ADD COLUMN hostname text NOT NULL DEFAULT '';
CREATE INDEX neighbour_mac_idx ON neighbour (mac);

-- A device may carry the MAC it was found with: `discoveries claim` makes
-- a device of a discovery, and the MAC is what makes later sightings of it
-- known. (Devices have no interfaces of their own; this is the one.)
ALTER TABLE device ADD COLUMN mac macaddr;
ALTER TABLE device ADD CONSTRAINT device_mac_key UNIQUE (mac);

-- What discovery raises for people to look at: an address seen with a new
-- MAC on a managed subnet ('conflict': two hosts may claim one address, or
-- a NIC was replaced).
CREATE TABLE discovery_event (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	kind text NOT NULL CHECK (kind IN ('conflict')),
	ip inet NOT NULL CHECK (ir_is_host(ip)),
	mac macaddr NOT NULL,
	old_mac macaddr,
	rack_id text REFERENCES rack (id) ON DELETE SET NULL,
	interface text NOT NULL DEFAULT '',
	subnet_id bigint REFERENCES subnet (id) ON DELETE SET NULL,
	description text NOT NULL
);
CREATE INDEX discovery_event_at_idx ON discovery_event (at);

-- Who holds an address or a MAC, for a discovery: a machine's interface or
-- a device by MAC, else whatever holds the address in IPAM (a static or
-- auto address, a rack interface, a reservation, a DHCP lease). NULL:
-- nothing, the discovery is unknown.
CREATE FUNCTION discovery_known_as(d_ip inet, d_mac macaddr) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		(SELECT format('machine %L interface %s', m.hostname, i.name)
			FROM interface i JOIN machine m ON m.id = i.machine_id WHERE i.mac = d_mac),
		(SELECT format('device %L', d.hostname) FROM device d WHERE d.mac = d_mac),
		(SELECT ip_holder(a.id) FROM ip_address a WHERE a.ip = d_ip))
$$;

-- One row per (ip, mac) seen by any rack: the latest sighting's VLAN, rack
-- and interface, the latest name heard, first and last seen over all
-- sightings, the subnet (the longest prefix) holding the address, and
-- whether something the region manages accounts for it.
CREATE VIEW discovery AS
	SELECT a.ip, a.mac, coalesce(nm.hostname, '') AS hostname, l.vlan_id, s.id AS subnet_id,
		s.cidr AS subnet_cidr, l.rack_id, l.interface, a.first_seen, a.last_seen, a.count,
		k.known_as IS NOT NULL AS known, coalesce(k.known_as, '') AS known_as
	FROM (SELECT ip, mac, min(first_seen) AS first_seen, max(last_seen) AS last_seen, sum(count) AS count
		FROM neighbour GROUP BY ip, mac) a
	JOIN LATERAL (SELECT n.vlan_id, n.rack_id, n.interface FROM neighbour n
		WHERE n.ip = a.ip AND n.mac = a.mac ORDER BY n.last_seen DESC, n.id DESC LIMIT 1) l ON true
	LEFT JOIN LATERAL (SELECT n.hostname FROM neighbour n
		WHERE n.ip = a.ip AND n.mac = a.mac AND n.hostname <> ''
		ORDER BY n.last_seen DESC, n.id DESC LIMIT 1) nm ON true
	LEFT JOIN LATERAL (SELECT id, cidr FROM subnet WHERE a.ip <<= cidr
		ORDER BY masklen(cidr) DESC LIMIT 1) s ON true
	LEFT JOIN LATERAL (SELECT discovery_known_as(a.ip, a.mac) AS known_as) k ON true;
