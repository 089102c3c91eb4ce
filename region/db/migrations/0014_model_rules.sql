-- Rules of the network model that a black-box run found missing (issue 13,
-- docs/network.md "Model rules"). Each refuses with SQLSTATE IR400/IR409 and
-- COLUMN set to the API field, as in 0002; the rules about a machine
-- interface's links are functions the API calls (region/db/net_alloc.c),
-- not triggers, because enlistment and infrastructure deploy place links
-- by their own rules.

-- ---- names ----

-- A subnet's and a VLAN's name is one line of text: no control characters
-- (C0, DEL, C1). Existing names get a space for each one, so that the
-- constraints hold for every row from here on.
UPDATE subnet SET name = regexp_replace(name, '[\x01-\x1f\x7f\u0080-\u009f]', ' ', 'g')
	WHERE name ~ '[\x01-\x1f\x7f\u0080-\u009f]';
UPDATE vlan SET name = regexp_replace(name, '[\x01-\x1f\x7f\u0080-\u009f]', ' ', 'g')
	WHERE name ~ '[\x01-\x1f\x7f\u0080-\u009f]';
ALTER TABLE subnet ADD CONSTRAINT subnet_name_text CHECK (name !~ '[\x01-\x1f\x7f\u0080-\u009f]');
ALTER TABLE vlan ADD CONSTRAINT vlan_name_text CHECK (name !~ '[\x01-\x1f\x7f\u0080-\u009f]');

-- Subnet names are unique, as in MAAS. A name shared by existing subnets
-- stays with the oldest; the others get their id appended.
UPDATE subnet s SET name = left(s.name, 230) || ' (subnet ' || s.id || ')'
	WHERE EXISTS (SELECT 1 FROM subnet o WHERE o.name = s.name AND o.id < s.id);
ALTER TABLE subnet ADD CONSTRAINT subnet_name_key UNIQUE (name);

-- Host names are unique across machines and devices (MAAS: one node
-- namespace). Each table's UNIQUE constraint covers itself; this covers
-- the other table, serialised by one advisory lock so that a machine and a
-- device cannot take one name at the same time. Existing pairs are left
-- alone until one of them is renamed.
CREATE FUNCTION host_name_unique() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.hostname = OLD.hostname THEN
		RETURN NEW;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('ironrack host names'));
	IF TG_TABLE_NAME = 'machine' AND EXISTS (SELECT 1 FROM device WHERE hostname = NEW.hostname) THEN
		RAISE EXCEPTION 'a device named ''%'' already exists; host names are unique across machines and devices',
			NEW.hostname USING ERRCODE = 'IR409', COLUMN = 'hostname';
	END IF;
	IF TG_TABLE_NAME = 'device' AND EXISTS (SELECT 1 FROM machine WHERE hostname = NEW.hostname) THEN
		RAISE EXCEPTION 'a machine named ''%'' already exists; host names are unique across machines and devices',
			NEW.hostname USING ERRCODE = 'IR409', COLUMN = 'hostname';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER machine_host_name_unique BEFORE INSERT OR UPDATE OF hostname ON machine
	FOR EACH ROW EXECUTE FUNCTION host_name_unique();
CREATE TRIGGER device_host_name_unique BEFORE INSERT OR UPDATE OF hostname ON device
	FOR EACH ROW EXECUTE FUNCTION host_name_unique();

-- ---- DHCP relays ----

-- A relay chain ends at a VLAN that serves DHCP (or nowhere); one that
-- comes back to where it started never reaches a server. One advisory lock
-- serialises relay changes, so two updates cannot close a loop together.
CREATE FUNCTION vlan_relay_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	cur bigint := NEW.relay_vlan_id;
	path text;
	hops integer := 0;
BEGIN
	IF NEW.relay_vlan_id IS NULL OR (TG_OP = 'UPDATE' AND NEW.relay_vlan_id IS NOT DISTINCT FROM OLD.relay_vlan_id) THEN
		RETURN NEW;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('ironrack vlan relays'));
	path := format('VLAN %s of %s', NEW.vid, (SELECT name FROM fabric WHERE id = NEW.fabric_id));
	WHILE cur IS NOT NULL AND hops <= 4096 LOOP
		path := path || (SELECT format(' -> VLAN %s of %s', v.vid, f.name)
			FROM vlan v JOIN fabric f ON f.id = v.fabric_id WHERE v.id = cur);
		IF cur = NEW.id THEN
			RAISE EXCEPTION 'the DHCP relay chain loops: %; a relay must lead to a VLAN that serves DHCP', path
				USING ERRCODE = 'IR400', COLUMN = 'relay_vlan';
		END IF;
		SELECT relay_vlan_id INTO cur FROM vlan WHERE id = cur;
		hops := hops + 1;
	END LOOP;
	RETURN NEW;
END $$;
CREATE TRIGGER vlan_relay_check BEFORE INSERT OR UPDATE ON vlan FOR EACH ROW EXECUTE FUNCTION vlan_relay_check();

-- ---- dynamic ranges, gateways and DNS servers ----

-- DHCP hands out every address of a dynamic range: the subnet's gateway and
-- its DNS servers inside the subnet are never among them (MAAS refuses
-- both). Checked from the range's side here and from the subnet's below.
CREATE FUNCTION ip_range_infra_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	s subnet;
	d inet;
BEGIN
	-- An update that moves nothing (a comment) is not checked again.
	IF NEW.type <> 'dynamic' OR (TG_OP = 'UPDATE' AND OLD.type = 'dynamic' AND NEW.start_ip = OLD.start_ip
			AND NEW.end_ip = OLD.end_ip) THEN
		RETURN NEW;
	END IF;
	SELECT * INTO s FROM subnet WHERE id = NEW.subnet_id;
	IF s.gateway IS NOT NULL AND host(s.gateway)::inet BETWEEN NEW.start_ip AND NEW.end_ip THEN
		RAISE EXCEPTION 'dynamic range %-% includes % which is the gateway of subnet %', host(NEW.start_ip),
			host(NEW.end_ip), host(s.gateway), s.cidr USING ERRCODE = 'IR409', COLUMN = 'start_ip';
	END IF;
	SELECT x INTO d FROM unnest(s.dns_servers) x
		WHERE host(x)::inet BETWEEN NEW.start_ip AND NEW.end_ip ORDER BY x LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'dynamic range %-% includes % which is a DNS server of subnet %', host(NEW.start_ip),
			host(NEW.end_ip), host(d), s.cidr USING ERRCODE = 'IR409', COLUMN = 'start_ip';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ip_range_infra_check BEFORE INSERT OR UPDATE ON ip_range
	FOR EACH ROW EXECUTE FUNCTION ip_range_infra_check();

CREATE FUNCTION subnet_range_infra_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	d inet;
	rs inet;
	re inet;
BEGIN
	IF NEW.gateway IS DISTINCT FROM OLD.gateway AND NEW.gateway IS NOT NULL THEN
		SELECT start_ip, end_ip INTO rs, re FROM ip_range WHERE subnet_id = NEW.id AND type = 'dynamic'
			AND host(NEW.gateway)::inet BETWEEN start_ip AND end_ip LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'gateway % is inside the dynamic range %-%, which DHCP hands out', host(NEW.gateway),
				host(rs), host(re) USING ERRCODE = 'IR409', COLUMN = 'gateway';
		END IF;
	END IF;
	-- Only servers the update adds: one already listed was checked then.
	SELECT x, g.start_ip, g.end_ip INTO d, rs, re FROM unnest(NEW.dns_servers) x, ip_range g
		WHERE g.subnet_id = NEW.id AND g.type = 'dynamic' AND host(x)::inet BETWEEN g.start_ip AND g.end_ip
		AND NOT x = ANY (OLD.dns_servers) ORDER BY x LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'DNS server % is inside the dynamic range %-%, which DHCP hands out', host(d), host(rs),
			host(re) USING ERRCODE = 'IR409', COLUMN = 'dns_servers';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER subnet_range_infra_check BEFORE UPDATE ON subnet
	FOR EACH ROW EXECUTE FUNCTION subnet_range_infra_check();

-- ---- links of a machine interface ----

-- "a dhcp", "an auto", for messages.
CREATE FUNCTION ir_mode_a(mode text) RETURNS text LANGUAGE sql IMMUTABLE
	AS $$ SELECT CASE WHEN mode IN ('auto', 'unconfigured') THEN 'an ' ELSE 'a ' END || mode $$;

-- Called by the API before it adds a link (an ip_address row of a machine
-- interface) in the same transaction. MAAS's rules: the subnet is on the
-- interface's VLAN (an interface without one takes the subnet's VLAN with
-- its first link); a dhcp or unconfigured link is the interface's only link
-- (addresses merely discovered on it do not count).
CREATE FUNCTION ir_link_check(iface bigint, sub bigint, new_mode text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	i record;
	s record;
	o record;
BEGIN
	-- The interface row lock serialises links of one interface.
	SELECT x.id, x.name, x.vlan_id, m.hostname, v.vid, f.name AS fabric INTO i
		FROM interface x JOIN machine m ON m.id = x.machine_id
		LEFT JOIN vlan v ON v.id = x.vlan_id LEFT JOIN fabric f ON f.id = v.fabric_id
		WHERE x.id = iface FOR UPDATE OF x;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'interface % not found', iface USING ERRCODE = 'IR404', COLUMN = 'interface';
	END IF;
	SELECT n.cidr::text AS cidr, n.vlan_id, v.vid, f.name AS fabric INTO s
		FROM subnet n JOIN vlan v ON v.id = n.vlan_id JOIN fabric f ON f.id = v.fabric_id WHERE n.id = sub;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'subnet % not found', sub USING ERRCODE = 'IR404', COLUMN = 'subnet';
	END IF;
	IF i.vlan_id IS NOT NULL AND i.vlan_id <> s.vlan_id THEN
		RAISE EXCEPTION 'subnet % is on VLAN % of %, but interface % of machine ''%'' is on VLAN % of %; link it to a subnet of its VLAN, or move the interface first',
			s.cidr, s.vid, s.fabric, i.name, i.hostname, i.vid, i.fabric USING ERRCODE = 'IR400', COLUMN = 'subnet';
	END IF;
	SELECT a.mode, host(a.ip) AS ip, n.cidr::text AS cidr INTO o FROM ip_address a JOIN subnet n ON n.id = a.subnet_id
		WHERE a.interface_id = iface AND a.mode <> 'discovered'
		ORDER BY a.mode IN ('dhcp', 'unconfigured') DESC, a.id LIMIT 1;
	IF FOUND AND (o.mode IN ('dhcp', 'unconfigured') OR new_mode IN ('dhcp', 'unconfigured')) THEN
		RAISE EXCEPTION 'interface % of machine ''%'' already has % link on %; % link is an interface''s only link: remove the other first',
			i.name, i.hostname, ir_mode_a(o.mode), o.cidr || coalesce(' (' || o.ip || ')', ''),
			ir_mode_a(CASE WHEN o.mode IN ('dhcp', 'unconfigured') THEN o.mode ELSE new_mode END)
			USING ERRCODE = 'IR409', COLUMN = 'mode';
	END IF;
	IF i.vlan_id IS NULL THEN
		UPDATE interface SET vlan_id = s.vlan_id WHERE id = iface;
	END IF;
END $$;

-- Called by the API before it moves an interface to another VLAN: its links
-- stay on subnets of its VLAN.
CREATE FUNCTION ir_interface_vlan_check(iface bigint, new_vlan bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	o record;
BEGIN
	SELECT n.cidr::text AS cidr, v.vid, f.name AS fabric INTO o FROM ip_address a JOIN subnet n ON n.id = a.subnet_id
		JOIN vlan v ON v.id = n.vlan_id JOIN fabric f ON f.id = v.fabric_id
		WHERE a.interface_id = iface AND a.mode <> 'discovered' AND n.vlan_id IS DISTINCT FROM new_vlan
		ORDER BY a.id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'the interface is linked to subnet % on VLAN % of %; remove that link before moving it',
			o.cidr, o.vid, o.fabric USING ERRCODE = 'IR409', COLUMN = 'vlan';
	END IF;
END $$;

-- ---- deletes and what goes with them ----

-- What deleting the object (kind as in the API: subnet, ip_range,
-- interface, machine, device, fabric) takes with it through ON DELETE
-- CASCADE, as {"static_routes": [...], ...} with empty lists left out. The
-- object and the rows that could gain dependants are locked first, so that
-- what is listed is what the DELETE that follows in the same transaction
-- removes.
CREATE FUNCTION ir_deleted_with(kind text, oid bigint) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	out jsonb := '{}';
	ranges bigint[] := '{}';
	ifaces bigint[] := '{}';
	x jsonb;
BEGIN
	IF kind = 'subnet' THEN
		PERFORM 1 FROM subnet WHERE id = oid FOR UPDATE;
		SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO ranges FROM (
			SELECT id FROM ip_range WHERE subnet_id = oid FOR UPDATE) r;
		SELECT jsonb_agg(jsonb_build_object('id', r.id, 'type', r.type, 'start_ip', host(r.start_ip),
			'end_ip', host(r.end_ip)) ORDER BY r.start_ip) INTO x FROM ip_range r WHERE r.id = ANY (ranges);
		out := out || jsonb_strip_nulls(jsonb_build_object('ip_ranges', x));
		SELECT jsonb_agg(jsonb_build_object('id', r.id, 'source', s.cidr::text, 'destination', d.cidr::text,
			'gateway', host(r.gateway)) ORDER BY r.id) INTO x
			FROM static_route r JOIN subnet s ON s.id = r.source_id JOIN subnet d ON d.id = r.destination_id
			WHERE r.source_id = oid OR r.destination_id = oid;
		out := out || jsonb_strip_nulls(jsonb_build_object('static_routes', x));
		SELECT jsonb_agg(jsonb_build_object('id', id, 'name', name) ORDER BY id) INTO x FROM dhcp_snippet
			WHERE subnet_id = oid OR ip_range_id = ANY (ranges);
		out := out || jsonb_strip_nulls(jsonb_build_object('dhcp_snippets', x));
	ELSIF kind = 'ip_range' THEN
		PERFORM 1 FROM ip_range WHERE id = oid FOR UPDATE;
		SELECT jsonb_agg(jsonb_build_object('id', id, 'name', name) ORDER BY id) INTO x FROM dhcp_snippet
			WHERE ip_range_id = oid;
		out := out || jsonb_strip_nulls(jsonb_build_object('dhcp_snippets', x));
	ELSIF kind IN ('interface', 'machine') THEN
		IF kind = 'machine' THEN
			PERFORM 1 FROM machine WHERE id = oid FOR UPDATE;
			SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO ifaces FROM (
				SELECT id FROM interface WHERE machine_id = oid FOR UPDATE) i;
			SELECT jsonb_agg(jsonb_build_object('id', id, 'name', name, 'mac', mac::text) ORDER BY name) INTO x
				FROM interface WHERE id = ANY (ifaces);
			out := out || jsonb_strip_nulls(jsonb_build_object('interfaces', x));
		ELSE
			SELECT coalesce(array_agg(id), '{}') INTO ifaces FROM (
				SELECT id FROM interface WHERE id = oid FOR UPDATE) i;
		END IF;
		SELECT jsonb_agg(jsonb_build_object('id', id, 'ip', host(ip), 'mode', mode, 'subnet', subnet_id)
			ORDER BY id) INTO x FROM ip_address WHERE interface_id = ANY (ifaces);
		out := out || jsonb_strip_nulls(jsonb_build_object('ip_addresses', x));
		SELECT jsonb_agg(jsonb_build_object('id', id, 'name', name) ORDER BY id) INTO x FROM dhcp_snippet
			WHERE interface_id = ANY (ifaces);
		out := out || jsonb_strip_nulls(jsonb_build_object('dhcp_snippets', x));
	ELSIF kind = 'device' THEN
		PERFORM 1 FROM device WHERE id = oid FOR UPDATE;
		SELECT jsonb_agg(jsonb_build_object('id', id, 'ip', host(ip), 'mode', mode, 'subnet', subnet_id)
			ORDER BY id) INTO x FROM ip_address WHERE device_id = oid;
		out := out || jsonb_strip_nulls(jsonb_build_object('ip_addresses', x));
	ELSIF kind = 'fabric' THEN
		PERFORM 1 FROM fabric WHERE id = oid FOR UPDATE;
		SELECT jsonb_agg(jsonb_build_object('id', id, 'vid', vid, 'name', name) ORDER BY vid) INTO x
			FROM vlan WHERE fabric_id = oid;
		out := out || jsonb_strip_nulls(jsonb_build_object('vlans', x));
	END IF;
	RETURN out;
END $$;
