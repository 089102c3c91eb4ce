-- The network model (issue 3; seeds 001/002): zones, fabrics, VLANs,
-- spaces, subnets, static routes, IP ranges, IP addresses, machines with
-- their interfaces, devices and neighbours seen on the wire.
--
-- Rules that involve more than one row live here as triggers, so that every
-- writer (the REST API, a second region, a future RPC path) gets them in the
-- same transaction as its write. A rule broken by the caller's input raises
-- SQLSTATE IR400 (bad value), IR404 (a referenced object is gone), IR409
-- (conflicts with what is stored) or IR403 (a protected object), with COLUMN
-- set to the API field to blame; region/db/net_db.c turns these into errors.
-- Exclusion and unique constraints back the triggers up under concurrency.

-- An address stored for one host carries no prefix: /32 or /128.
CREATE FUNCTION ir_is_host(a inet) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT
	AS $$ SELECT masklen(a) = CASE family(a) WHEN 4 THEN 32 ELSE 128 END $$;

-- Times travel to and from C as unix milliseconds.
CREATE FUNCTION ir_ms(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT
	AS $$ SELECT (extract(epoch FROM t) * 1000)::bigint $$;

CREATE FUNCTION ir_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated := now();
	RETURN NEW;
END $$;

-- Names of zones, fabrics and spaces. Never all digits, so that an API path
-- segment is unambiguously an id or a name.
CREATE DOMAIN ir_name AS text
	CHECK (VALUE ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' AND VALUE !~ '^[0-9]+$');
-- Host names of machines and devices: one DNS label.
CREATE DOMAIN ir_hostname AS text
	CHECK (VALUE ~ '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$' AND VALUE !~ '^[0-9]+$');

-- ---- zones ----

CREATE TABLE zone (
	id bigserial PRIMARY KEY,
	name ir_name NOT NULL,
	description text NOT NULL DEFAULT '',
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT zone_name_key UNIQUE (name)
);
CREATE TRIGGER zone_touch BEFORE UPDATE ON zone FOR EACH ROW EXECUTE FUNCTION ir_touch();

INSERT INTO zone (name, description) VALUES ('default', 'the zone every machine, device and rack starts in');

-- Seed 001: "You cannot remove the 'default' zone or change its name".
CREATE FUNCTION zone_protect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.name = 'default' THEN
		IF TG_OP = 'DELETE' THEN
			RAISE EXCEPTION 'the default zone cannot be deleted' USING ERRCODE = 'IR403';
		ELSIF NEW.name IS DISTINCT FROM OLD.name THEN
			RAISE EXCEPTION 'the default zone cannot be renamed' USING ERRCODE = 'IR403', COLUMN = 'name';
		END IF;
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER zone_protect BEFORE UPDATE OR DELETE ON zone FOR EACH ROW EXECUTE FUNCTION zone_protect();

-- Column default of everything that lives in a zone; ON DELETE SET DEFAULT
-- moves the members of a deleted zone back to 'default'.
CREATE FUNCTION zone_default_id() RETURNS bigint LANGUAGE sql STABLE
	AS $$ SELECT id FROM zone WHERE name = 'default' $$;

ALTER TABLE rack ADD COLUMN zone_id bigint NOT NULL DEFAULT zone_default_id()
	REFERENCES zone (id) ON DELETE SET DEFAULT;

-- ---- spaces and fabrics ----

CREATE TABLE space (
	id bigserial PRIMARY KEY,
	name ir_name NOT NULL,
	description text NOT NULL DEFAULT '',
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT space_name_key UNIQUE (name)
);
CREATE TRIGGER space_touch BEFORE UPDATE ON space FOR EACH ROW EXECUTE FUNCTION ir_touch();

CREATE TABLE fabric (
	id bigserial PRIMARY KEY,
	name ir_name NOT NULL,
	description text NOT NULL DEFAULT '',
	class_type text NOT NULL DEFAULT '',
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT fabric_name_key UNIQUE (name)
);
CREATE TRIGGER fabric_touch BEFORE UPDATE ON fabric FOR EACH ROW EXECUTE FUNCTION ir_touch();

-- A fabric created without a name is called fabric-<id>, as in MAAS.
CREATE FUNCTION fabric_name_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.name IS NULL THEN
		NEW.name := 'fabric-' || NEW.id;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER fabric_name_default BEFORE INSERT ON fabric FOR EACH ROW EXECUTE FUNCTION fabric_name_default();

-- ---- VLANs ----

CREATE TABLE vlan (
	id bigserial PRIMARY KEY,
	fabric_id bigint NOT NULL REFERENCES fabric (id) ON DELETE CASCADE,
	vid integer NOT NULL CONSTRAINT vlan_vid_range CHECK (vid BETWEEN 0 AND 4094),
	name text NOT NULL DEFAULT '' CHECK (length(name) <= 255),
	mtu integer NOT NULL DEFAULT 1500 CONSTRAINT vlan_mtu_range CHECK (mtu BETWEEN 552 AND 65535),
	description text NOT NULL DEFAULT '',
	space_id bigint REFERENCES space (id) ON DELETE SET NULL,
	dhcp_on boolean NOT NULL DEFAULT false,
	primary_rack_id text REFERENCES rack (id) ON DELETE SET NULL,
	secondary_rack_id text REFERENCES rack (id) ON DELETE SET NULL,
	relay_vlan_id bigint REFERENCES vlan (id) ON DELETE SET NULL,
	-- An external DHCP server seen answering on this VLAN (null: none).
	external_dhcp inet CHECK (external_dhcp IS NULL OR ir_is_host(external_dhcp)),
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT vlan_fabric_vid_key UNIQUE (fabric_id, vid)
);
CREATE INDEX vlan_space_idx ON vlan (space_id);
CREATE TRIGGER vlan_touch BEFORE UPDATE ON vlan FOR EACH ROW EXECUTE FUNCTION ir_touch();

-- Seed 001: "A 'Default VLAN' is created for every fabric".
CREATE FUNCTION fabric_default_vlan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO vlan (fabric_id, vid, name) VALUES (NEW.id, 0, 'untagged');
	RETURN NULL;
END $$;
CREATE TRIGGER fabric_default_vlan AFTER INSERT ON fabric FOR EACH ROW EXECUTE FUNCTION fabric_default_vlan();

CREATE FUNCTION vlan_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.fabric_id <> OLD.fabric_id THEN
		RAISE EXCEPTION 'a VLAN cannot move to another fabric' USING ERRCODE = 'IR400', COLUMN = 'fabric';
	END IF;
	IF TG_OP = 'UPDATE' AND OLD.vid = 0 AND NEW.vid <> 0 THEN
		RAISE EXCEPTION 'the untagged VLAN (vid 0) is the default VLAN of its fabric; its vid cannot change'
			USING ERRCODE = 'IR403', COLUMN = 'vid';
	END IF;
	-- A rack serving the VLAN was deleted (ON DELETE SET NULL, run from
	-- the foreign key's own trigger): the secondary takes over, or DHCP
	-- stops. A user clearing the primary by hand is refused below instead.
	IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 THEN
		IF OLD.primary_rack_id IS NOT NULL AND NEW.primary_rack_id IS NULL THEN
			NEW.primary_rack_id := NEW.secondary_rack_id;
			NEW.secondary_rack_id := NULL;
		END IF;
		IF NEW.primary_rack_id IS NULL THEN
			NEW.dhcp_on := false;
		END IF;
	END IF;
	IF NEW.secondary_rack_id IS NOT NULL AND NEW.primary_rack_id IS NULL THEN
		RAISE EXCEPTION 'a secondary rack needs a primary rack' USING ERRCODE = 'IR400', COLUMN = 'secondary_rack';
	END IF;
	IF NEW.secondary_rack_id = NEW.primary_rack_id THEN
		RAISE EXCEPTION 'the secondary rack must differ from the primary rack'
			USING ERRCODE = 'IR400', COLUMN = 'secondary_rack';
	END IF;
	IF NEW.relay_vlan_id = NEW.id THEN
		RAISE EXCEPTION 'a VLAN cannot relay DHCP to itself' USING ERRCODE = 'IR400', COLUMN = 'relay_vlan';
	END IF;
	IF NEW.dhcp_on AND NEW.relay_vlan_id IS NOT NULL THEN
		RAISE EXCEPTION 'a VLAN either serves DHCP itself or relays it to another VLAN, not both'
			USING ERRCODE = 'IR400', COLUMN = 'relay_vlan';
	END IF;
	IF NEW.dhcp_on AND NEW.primary_rack_id IS NULL THEN
		RAISE EXCEPTION 'DHCP needs a primary rack to serve it' USING ERRCODE = 'IR400', COLUMN = 'primary_rack';
	END IF;
	-- Seed 001: DHCP leases come from a dynamic range of a managed subnet.
	IF NEW.dhcp_on AND (TG_OP = 'INSERT' OR NOT OLD.dhcp_on) AND NOT EXISTS (
			SELECT 1 FROM subnet s JOIN ip_range r ON r.subnet_id = s.id
			WHERE s.vlan_id = NEW.id AND s.managed AND r.type = 'dynamic') THEN
		RAISE EXCEPTION 'DHCP needs a dynamic range on a managed subnet of this VLAN; create one first'
			USING ERRCODE = 'IR409', COLUMN = 'dhcp_on';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER vlan_check BEFORE INSERT OR UPDATE ON vlan FOR EACH ROW EXECUTE FUNCTION vlan_check();

CREATE FUNCTION vlan_protect() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	SELECT count(*) INTO n FROM subnet WHERE vlan_id = OLD.id;
	IF n > 0 THEN
		RAISE EXCEPTION 'VLAN % of fabric % has % subnet(s); delete them or move them to another VLAN first',
			OLD.vid, (SELECT name FROM fabric WHERE id = OLD.fabric_id), n USING ERRCODE = 'IR409';
	END IF;
	-- The default VLAN goes only together with its fabric (then the
	-- fabric row is already gone when the cascade reaches here).
	IF OLD.vid = 0 AND EXISTS (SELECT 1 FROM fabric WHERE id = OLD.fabric_id) THEN
		RAISE EXCEPTION 'the untagged VLAN is the default VLAN of fabric %; it is deleted only with the fabric',
			(SELECT name FROM fabric WHERE id = OLD.fabric_id) USING ERRCODE = 'IR403';
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER vlan_protect BEFORE DELETE ON vlan FOR EACH ROW EXECUTE FUNCTION vlan_protect();

CREATE FUNCTION fabric_protect() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	SELECT count(*) INTO n FROM subnet s JOIN vlan v ON v.id = s.vlan_id WHERE v.fabric_id = OLD.id;
	IF n > 0 THEN
		RAISE EXCEPTION 'fabric % has % subnet(s) on its VLANs; delete them or move them first', OLD.name, n
			USING ERRCODE = 'IR409';
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER fabric_protect BEFORE DELETE ON fabric FOR EACH ROW EXECUTE FUNCTION fabric_protect();

-- ---- subnets ----

CREATE TABLE subnet (
	id bigserial PRIMARY KEY,
	cidr cidr NOT NULL,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
	vlan_id bigint NOT NULL REFERENCES vlan (id),
	gateway inet CHECK (gateway IS NULL OR ir_is_host(gateway)),
	dns_servers inet[] NOT NULL DEFAULT '{}',
	description text NOT NULL DEFAULT '',
	managed boolean NOT NULL DEFAULT true,
	active_discovery boolean NOT NULL DEFAULT false,
	-- Seed 001: active mapping scans "every 3 hours".
	discovery_interval integer NOT NULL DEFAULT 10800 CHECK (discovery_interval BETWEEN 60 AND 604800),
	allow_proxy boolean NOT NULL DEFAULT true,
	allow_dns boolean NOT NULL DEFAULT true,
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT subnet_cidr_key UNIQUE (cidr),
	-- An address belongs to at most one subnet.
	CONSTRAINT subnet_no_overlap EXCLUDE USING gist (cidr inet_ops WITH &&),
	CONSTRAINT subnet_gateway_inside CHECK (gateway IS NULL OR gateway <<= cidr)
);
CREATE INDEX subnet_vlan_idx ON subnet (vlan_id);
CREATE TRIGGER subnet_touch BEFORE UPDATE ON subnet FOR EACH ROW EXECUTE FUNCTION ir_touch();

-- v4 network and broadcast addresses of prefixes up to /30 (RFC 3021 gives
-- /31 and /32 no such addresses).
CREATE FUNCTION ir_is_v4_edge(a inet, c cidr) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT family(c) = 4 AND masklen(c) <= 30 AND (host(a)::inet = host(network(c))::inet
		OR host(a)::inet = host(broadcast(c))::inet)
$$;

CREATE FUNCTION subnet_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	other cidr;
BEGIN
	IF TG_OP = 'UPDATE' AND family(NEW.cidr) <> family(OLD.cidr) THEN
		RAISE EXCEPTION 'a subnet cannot change address family (% to %)', OLD.cidr, NEW.cidr
			USING ERRCODE = 'IR400', COLUMN = 'cidr';
	END IF;
	IF TG_OP = 'INSERT' OR NEW.cidr <> OLD.cidr THEN
		SELECT cidr INTO other FROM subnet WHERE cidr && NEW.cidr AND id <> NEW.id ORDER BY cidr LIMIT 1;
		IF other = NEW.cidr THEN
			RAISE EXCEPTION 'subnet % already exists', NEW.cidr USING ERRCODE = 'IR409', COLUMN = 'cidr';
		ELSIF other IS NOT NULL THEN
			RAISE EXCEPTION '% overlaps subnet %', NEW.cidr, other USING ERRCODE = 'IR409', COLUMN = 'cidr';
		END IF;
	END IF;
	IF NEW.gateway IS NOT NULL AND NOT NEW.gateway <<= NEW.cidr THEN
		RAISE EXCEPTION 'gateway % is outside subnet %', host(NEW.gateway), NEW.cidr
			USING ERRCODE = 'IR400', COLUMN = 'gateway';
	END IF;
	IF ir_is_v4_edge(NEW.gateway, NEW.cidr) THEN
		RAISE EXCEPTION 'gateway % is the network or broadcast address of %', host(NEW.gateway), NEW.cidr
			USING ERRCODE = 'IR400', COLUMN = 'gateway';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(NEW.dns_servers) d WHERE NOT ir_is_host(d)) THEN
		RAISE EXCEPTION 'DNS servers are addresses, without a prefix length'
			USING ERRCODE = 'IR400', COLUMN = 'dns_servers';
	END IF;
	-- A changed CIDR must still hold everything inside the subnet.
	IF TG_OP = 'UPDATE' AND NEW.cidr <> OLD.cidr THEN
		IF EXISTS (SELECT 1 FROM ip_range WHERE subnet_id = NEW.id
				AND NOT (start_ip <<= NEW.cidr AND end_ip <<= NEW.cidr)) THEN
			RAISE EXCEPTION 'an IP range of the subnet would fall outside %', NEW.cidr
				USING ERRCODE = 'IR409', COLUMN = 'cidr';
		END IF;
		IF EXISTS (SELECT 1 FROM ip_address WHERE subnet_id = NEW.id AND NOT ip <<= NEW.cidr) THEN
			RAISE EXCEPTION 'an address in use on the subnet would fall outside %', NEW.cidr
				USING ERRCODE = 'IR409', COLUMN = 'cidr';
		END IF;
		IF EXISTS (SELECT 1 FROM static_route WHERE source_id = NEW.id AND NOT gateway <<= NEW.cidr) THEN
			RAISE EXCEPTION 'a static route''s gateway would fall outside %', NEW.cidr
				USING ERRCODE = 'IR409', COLUMN = 'cidr';
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER subnet_check BEFORE INSERT OR UPDATE ON subnet FOR EACH ROW EXECUTE FUNCTION subnet_check();

-- The VLAN a subnet goes on: the one named, else VLAN vid (default 0, the
-- untagged one) of fabric f, else of the lowest-numbered fabric.
CREATE FUNCTION subnet_vlan_pick(v bigint, f bigint, want_vid integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	r bigint;
BEGIN
	IF v IS NOT NULL THEN
		RETURN v;
	END IF;
	IF f IS NULL THEN
		SELECT min(id) INTO f FROM fabric;
		IF f IS NULL THEN
			RAISE EXCEPTION 'there is no fabric to put the subnet on; create one or name a VLAN'
				USING ERRCODE = 'IR404', COLUMN = 'vlan';
		END IF;
	END IF;
	SELECT id INTO r FROM vlan WHERE fabric_id = f AND vid = coalesce(want_vid, 0);
	IF r IS NULL THEN
		RAISE EXCEPTION 'fabric % has no VLAN %', (SELECT name FROM fabric WHERE id = f), coalesce(want_vid, 0)
			USING ERRCODE = 'IR404', COLUMN = CASE WHEN want_vid IS NULL THEN 'fabric' ELSE 'vid' END;
	END IF;
	RETURN r;
END $$;

-- Seed-derived rule of the issue: a subnet with addresses in use is not
-- deleted (the foreign key from ip_address backs this up).
CREATE FUNCTION subnet_protect() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	SELECT count(*) INTO n FROM ip_address WHERE subnet_id = OLD.id;
	IF n > 0 THEN
		RAISE EXCEPTION 'subnet % has % address(es) in use; release them first', OLD.cidr, n
			USING ERRCODE = 'IR409';
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER subnet_protect BEFORE DELETE ON subnet FOR EACH ROW EXECUTE FUNCTION subnet_protect();

-- ---- static routes ----

CREATE TABLE static_route (
	id bigserial PRIMARY KEY,
	source_id bigint NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
	destination_id bigint NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
	gateway inet NOT NULL CHECK (ir_is_host(gateway)),
	metric integer NOT NULL DEFAULT 0 CHECK (metric BETWEEN 0 AND 2147483647),
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT static_route_key UNIQUE (source_id, destination_id, gateway)
);
CREATE INDEX static_route_destination_idx ON static_route (destination_id);
CREATE TRIGGER static_route_touch BEFORE UPDATE ON static_route FOR EACH ROW EXECUTE FUNCTION ir_touch();

CREATE FUNCTION static_route_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	src cidr;
	dst cidr;
BEGIN
	SELECT cidr INTO src FROM subnet WHERE id = NEW.source_id FOR SHARE;
	SELECT cidr INTO dst FROM subnet WHERE id = NEW.destination_id FOR SHARE;
	IF src IS NULL THEN
		RAISE EXCEPTION 'source subnet % not found', NEW.source_id USING ERRCODE = 'IR404', COLUMN = 'source';
	END IF;
	IF dst IS NULL THEN
		RAISE EXCEPTION 'destination subnet % not found', NEW.destination_id
			USING ERRCODE = 'IR404', COLUMN = 'destination';
	END IF;
	IF NEW.source_id = NEW.destination_id THEN
		RAISE EXCEPTION 'a static route needs a destination other than its source subnet'
			USING ERRCODE = 'IR400', COLUMN = 'destination';
	END IF;
	IF family(src) <> family(dst) THEN
		RAISE EXCEPTION 'source % and destination % are of different address families', src, dst
			USING ERRCODE = 'IR400', COLUMN = 'destination';
	END IF;
	-- Seed 001: "A static route is defined on a per-subnet basis to use a
	-- particular gateway": the gateway is reachable on the source subnet.
	IF NOT NEW.gateway <<= src THEN
		RAISE EXCEPTION 'gateway % is outside the source subnet %', host(NEW.gateway), src
			USING ERRCODE = 'IR400', COLUMN = 'gateway';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER static_route_check BEFORE INSERT OR UPDATE ON static_route
	FOR EACH ROW EXECUTE FUNCTION static_route_check();

-- ---- IP ranges ----

-- PostgreSQL has no range type over inet; this one lets an exclusion
-- constraint keep ranges from overlapping even under concurrent writers.
CREATE TYPE inetrange AS RANGE (subtype = inet);

CREATE TABLE ip_range (
	id bigserial PRIMARY KEY,
	subnet_id bigint NOT NULL REFERENCES subnet (id) ON DELETE CASCADE,
	type text NOT NULL CHECK (type IN ('reserved', 'dynamic')),
	start_ip inet NOT NULL CHECK (ir_is_host(start_ip)),
	end_ip inet NOT NULL CHECK (ir_is_host(end_ip)),
	comment text NOT NULL DEFAULT '',
	owner text NOT NULL DEFAULT '',
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT ip_range_order CHECK (family(start_ip) = family(end_ip) AND start_ip <= end_ip),
	CONSTRAINT ip_range_no_overlap EXCLUDE USING gist (inetrange(start_ip, end_ip, '[]') WITH &&)
);
CREATE INDEX ip_range_subnet_idx ON ip_range (subnet_id);
CREATE TRIGGER ip_range_touch BEFORE UPDATE ON ip_range FOR EACH ROW EXECUTE FUNCTION ir_touch();

CREATE FUNCTION ip_range_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	net cidr;
	o record;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.subnet_id <> OLD.subnet_id THEN
		RAISE EXCEPTION 'an IP range cannot move to another subnet' USING ERRCODE = 'IR400', COLUMN = 'subnet';
	END IF;
	SELECT cidr INTO net FROM subnet WHERE id = NEW.subnet_id FOR SHARE;
	IF net IS NULL THEN
		RAISE EXCEPTION 'subnet % not found', NEW.subnet_id USING ERRCODE = 'IR404', COLUMN = 'subnet';
	END IF;
	IF NOT NEW.start_ip <<= net THEN
		RAISE EXCEPTION 'start_ip % is outside subnet %', host(NEW.start_ip), net
			USING ERRCODE = 'IR400', COLUMN = 'start_ip';
	END IF;
	IF NOT NEW.end_ip <<= net THEN
		RAISE EXCEPTION 'end_ip % is outside subnet %', host(NEW.end_ip), net
			USING ERRCODE = 'IR400', COLUMN = 'end_ip';
	END IF;
	IF NEW.end_ip < NEW.start_ip THEN
		RAISE EXCEPTION 'end_ip % is below start_ip %', host(NEW.end_ip), host(NEW.start_ip)
			USING ERRCODE = 'IR400', COLUMN = 'end_ip';
	END IF;
	IF ir_is_v4_edge(NEW.start_ip, net) THEN
		RAISE EXCEPTION 'start_ip % is the network or broadcast address of %', host(NEW.start_ip), net
			USING ERRCODE = 'IR400', COLUMN = 'start_ip';
	END IF;
	IF ir_is_v4_edge(NEW.end_ip, net) THEN
		RAISE EXCEPTION 'end_ip % is the network or broadcast address of %', host(NEW.end_ip), net
			USING ERRCODE = 'IR400', COLUMN = 'end_ip';
	END IF;
	SELECT type, start_ip, end_ip INTO o FROM ip_range
		WHERE id <> NEW.id AND start_ip <= NEW.end_ip AND end_ip >= NEW.start_ip ORDER BY start_ip LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'range %-% overlaps the % range %-%', host(NEW.start_ip), host(NEW.end_ip), o.type,
			host(o.start_ip), host(o.end_ip) USING ERRCODE = 'IR409', COLUMN = 'start_ip';
	END IF;
	-- DHCP will hand out every address of a dynamic range: none may be
	-- assigned to anyone already.
	IF NEW.type = 'dynamic' THEN
		SELECT id, ip INTO o FROM ip_address WHERE subnet_id = NEW.subnet_id AND ip IS NOT NULL
			AND mode IN ('auto', 'static') AND ip BETWEEN NEW.start_ip AND NEW.end_ip ORDER BY ip LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'dynamic range %-% includes % which is assigned to %', host(NEW.start_ip),
				host(NEW.end_ip), host(o.ip), ip_holder(o.id) USING ERRCODE = 'IR409', COLUMN = 'start_ip';
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ip_range_check BEFORE INSERT OR UPDATE ON ip_range FOR EACH ROW EXECUTE FUNCTION ip_range_check();

-- ---- machines, interfaces, devices ----

CREATE TABLE machine (
	id bigserial PRIMARY KEY,
	hostname ir_hostname NOT NULL,
	zone_id bigint NOT NULL DEFAULT zone_default_id() REFERENCES zone (id) ON DELETE SET DEFAULT,
	description text NOT NULL DEFAULT '',
	architecture text NOT NULL DEFAULT '',
	-- Power and lifecycle come with their own issue.
	power_type text NOT NULL DEFAULT '',
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT machine_hostname_key UNIQUE (hostname)
);
CREATE INDEX machine_zone_idx ON machine (zone_id);
CREATE TRIGGER machine_touch BEFORE UPDATE ON machine FOR EACH ROW EXECUTE FUNCTION ir_touch();

CREATE TABLE interface (
	id bigserial PRIMARY KEY,
	machine_id bigint NOT NULL REFERENCES machine (id) ON DELETE CASCADE,
	name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,14}$'),
	mac macaddr NOT NULL,
	vlan_id bigint REFERENCES vlan (id) ON DELETE SET NULL,
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT interface_mac_key UNIQUE (mac),
	CONSTRAINT interface_name_key UNIQUE (machine_id, name)
);
CREATE INDEX interface_vlan_idx ON interface (vlan_id);
CREATE TRIGGER interface_touch BEFORE UPDATE ON interface FOR EACH ROW EXECUTE FUNCTION ir_touch();

CREATE TABLE device (
	id bigserial PRIMARY KEY,
	hostname ir_hostname NOT NULL,
	zone_id bigint NOT NULL DEFAULT zone_default_id() REFERENCES zone (id) ON DELETE SET DEFAULT,
	description text NOT NULL DEFAULT '',
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT device_hostname_key UNIQUE (hostname)
);
CREATE INDEX device_zone_idx ON device (zone_id);
CREATE TRIGGER device_touch BEFORE UPDATE ON device FOR EACH ROW EXECUTE FUNCTION ir_touch();

-- ---- IP addresses ----

-- One row per address assignment, and per link of a machine interface to a
-- subnet: a DHCP or unconfigured link has no address until one is seen.
CREATE TABLE ip_address (
	id bigserial PRIMARY KEY,
	ip inet CHECK (ip IS NULL OR ir_is_host(ip)),
	-- No cascade: a subnet with addresses in use is not deleted.
	subnet_id bigint NOT NULL REFERENCES subnet (id),
	mode text NOT NULL CHECK (mode IN ('auto', 'static', 'dhcp', 'discovered', 'unconfigured')),
	owner_kind text NOT NULL
		CHECK (owner_kind IN ('machine_interface', 'device', 'rack_interface', 'user_reservation')),
	interface_id bigint REFERENCES interface (id) ON DELETE CASCADE,
	device_id bigint REFERENCES device (id) ON DELETE CASCADE,
	-- Not a foreign key to rack_interface: a rack replaces its interface
	-- rows on every registration.
	rack_id text REFERENCES rack (id) ON DELETE CASCADE,
	rack_interface text,
	hostname text NOT NULL DEFAULT '',
	comment text NOT NULL DEFAULT '',
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT ip_address_ip_key UNIQUE (ip),
	CONSTRAINT ip_address_needs_ip CHECK (ip IS NOT NULL OR mode IN ('dhcp', 'unconfigured')),
	CONSTRAINT ip_address_owner CHECK (
		(owner_kind = 'machine_interface') = (interface_id IS NOT NULL)
		AND (owner_kind = 'device') = (device_id IS NOT NULL)
		AND (owner_kind = 'rack_interface') = (rack_id IS NOT NULL AND rack_interface IS NOT NULL))
);
CREATE INDEX ip_address_subnet_idx ON ip_address (subnet_id, ip);
CREATE INDEX ip_address_interface_idx ON ip_address (interface_id) WHERE interface_id IS NOT NULL;
CREATE INDEX ip_address_device_idx ON ip_address (device_id) WHERE device_id IS NOT NULL;
CREATE TRIGGER ip_address_touch BEFORE UPDATE ON ip_address FOR EACH ROW EXECUTE FUNCTION ir_touch();

CREATE FUNCTION ip_address_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	net cidr;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.subnet_id <> OLD.subnet_id THEN
		RAISE EXCEPTION 'an address cannot move to another subnet' USING ERRCODE = 'IR400', COLUMN = 'subnet';
	END IF;
	IF NEW.ip IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.ip IS DISTINCT FROM OLD.ip) THEN
		SELECT cidr INTO net FROM subnet WHERE id = NEW.subnet_id;
		IF NOT NEW.ip <<= net THEN
			RAISE EXCEPTION '% is outside subnet %', host(NEW.ip), net USING ERRCODE = 'IR400', COLUMN = 'ip';
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ip_address_check BEFORE INSERT OR UPDATE ON ip_address
	FOR EACH ROW EXECUTE FUNCTION ip_address_check();

-- Who holds an address, for messages: "machine 'node-3' interface eth0".
CREATE FUNCTION ip_holder(ip_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT CASE a.owner_kind
		WHEN 'machine_interface' THEN (
			SELECT format('machine %L interface %s', m.hostname, i.name)
			FROM interface i JOIN machine m ON m.id = i.machine_id WHERE i.id = a.interface_id)
		WHEN 'device' THEN (SELECT format('device %L', d.hostname) FROM device d WHERE d.id = a.device_id)
		WHEN 'rack_interface' THEN (
			SELECT format('rack %L interface %s', r.hostname, a.rack_interface) FROM rack r
			WHERE r.id = a.rack_id)
		ELSE 'a user reservation' || CASE
			WHEN a.hostname <> '' THEN format(' (%s)', a.hostname)
			WHEN a.comment <> '' THEN format(' (%s)', a.comment)
			ELSE '' END
	END FROM ip_address a WHERE a.id = ip_id
$$;

-- ---- neighbours ----

-- Addresses seen in use on the wire (ARP/NDP, written by discovery later
-- and by the API now). Auto assign avoids them.
CREATE TABLE neighbour (
	id bigserial PRIMARY KEY,
	ip inet NOT NULL CHECK (ir_is_host(ip)),
	mac macaddr NOT NULL,
	vlan_id bigint REFERENCES vlan (id) ON DELETE SET NULL,
	rack_id text REFERENCES rack (id) ON DELETE CASCADE,
	interface text NOT NULL DEFAULT '',
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now(),
	count bigint NOT NULL DEFAULT 1 CHECK (count > 0),
	CONSTRAINT neighbour_key UNIQUE NULLS NOT DISTINCT (ip, mac, rack_id, interface),
	CONSTRAINT neighbour_seen_order CHECK (first_seen <= last_seen)
);
CREATE INDEX neighbour_ip_idx ON neighbour USING gist (ip inet_ops);

-- The first fabric, so that a subnet can be created without naming a VLAN
-- (it then goes on the untagged VLAN of the lowest-numbered fabric).
INSERT INTO fabric (name) VALUES ('fabric-0');
