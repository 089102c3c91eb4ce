-- Discovery (issue 17, docs/discovery.md): a discovery's name is the one
-- heard over mDNS, else the one the client gave in DHCP option 12 when it
-- took its lease from one of our racks (the lease's ip_address row holds
-- it). Same columns as 0016's view; hostname_source says where the name
-- came from ('mdns', 'dhcp' or '' for none).
DROP VIEW discovery;
CREATE VIEW discovery AS
	SELECT a.ip, a.mac, coalesce(nm.hostname, lh.hostname, '') AS hostname, l.vlan_id, s.id AS subnet_id,
		s.cidr AS subnet_cidr, l.rack_id, l.interface, a.first_seen, a.last_seen, a.count,
		k.known_as IS NOT NULL AS known, coalesce(k.known_as, '') AS known_as,
		CASE WHEN nm.hostname IS NOT NULL THEN 'mdns' WHEN lh.hostname IS NOT NULL THEN 'dhcp' ELSE '' END
			AS hostname_source
	FROM (SELECT ip, mac, min(first_seen) AS first_seen, max(last_seen) AS last_seen, sum(count) AS count
		FROM neighbour GROUP BY ip, mac) a
	JOIN LATERAL (SELECT n.vlan_id, n.rack_id, n.interface FROM neighbour n
		WHERE n.ip = a.ip AND n.mac = a.mac ORDER BY n.last_seen DESC, n.id DESC LIMIT 1) l ON true
	LEFT JOIN LATERAL (SELECT n.hostname FROM neighbour n
		WHERE n.ip = a.ip AND n.mac = a.mac AND n.hostname <> ''
		ORDER BY n.last_seen DESC, n.id DESC LIMIT 1) nm ON true
	LEFT JOIN LATERAL (SELECT i.hostname FROM ip_address i
		WHERE i.ip = a.ip AND i.owner_kind = 'dhcp_lease' AND i.lease_mac = a.mac AND i.hostname <> ''
		LIMIT 1) lh ON true
	LEFT JOIN LATERAL (SELECT id, cidr FROM subnet WHERE a.ip <<= cidr
		ORDER BY masklen(cidr) DESC LIMIT 1) s ON true
	LEFT JOIN LATERAL (SELECT discovery_known_as(a.ip, a.mac) AS known_as) k ON true;
