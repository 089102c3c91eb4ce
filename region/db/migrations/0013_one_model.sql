-- One network model (issue 13; docs/network.md, "Objects an infrastructure
-- holds"; docs/deploy.md, "Infrastructures").
--
-- A deployed infrastructure's networks are IPAM objects: every network
-- (LAN, WAN, SAN) is a VLAN with the vid it holds in infra_vlan_pool on the
-- infrastructure's fabric (infra_ipam_vlan, 0011), every WAN block a
-- subnet on it (infra_ipam_subnet) and every instance's WAN address a
-- static link on its machine's interface (infra_instance_link). Deploy
-- writes them in its transaction; nothing else may. The triggers below
-- refuse, with SQLSTATE IR409 naming the infrastructure, what would
-- collide with them:
--  * a VLAN with a vid an infrastructure holds on that fabric;
--  * a subnet overlapping a WAN block, or on a VLAN an infrastructure
--    holds (its subnets are the infrastructure's);
--  * a static or auto address inside a primary WAN block, whose addresses
--    deploy hands to instances (an extra block's are the operator's, for
--    MetalLB and the like; addresses seen on the wire, DHCP leases and
--    discovered ones, are observations and pass);
--  * changing what the infrastructure decides of its objects -- a VLAN's
--    fabric and vid; a subnet's CIDR, VLAN and gateway; an address's ip,
--    subnet, mode and holder -- and deleting them. Names, descriptions and
--    the rest stay the operator's.
-- Deploy (and deleting an infrastructure) says it is the writer with the
-- transaction-local setting ironrack.infra_deploy = 'on'. A delete that a
-- cascade or another trigger makes (pg_trigger_depth() > 1: a machine or
-- an instance that goes takes its addresses along) passes too.

CREATE FUNCTION infra_ipam_deploying() RETURNS boolean LANGUAGE sql STABLE
	AS $$ SELECT coalesce(current_setting('ironrack.infra_deploy', true), '') = 'on' $$;

-- "LAN \"lan0\" of infrastructure \"shop\"" for a network id.
CREATE FUNCTION infra_network_text(net bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT format('%s "%s" of infrastructure "%s"', upper(coalesce(n.d_type, n.s_type)),
		coalesce(n.d_name, n.s_name), i.name)
	FROM infra_network n JOIN infrastructure i ON i.id = n.infrastructure_id WHERE n.id = net
$$;

-- The infrastructure that holds a VLAN, a subnet or an address (NULL:
-- none), as the network API shows it.
CREATE FUNCTION infra_vlan_holder(v bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT i.name FROM infra_ipam_vlan m JOIN infra_network n ON n.id = m.network_id
	JOIN infrastructure i ON i.id = n.infrastructure_id WHERE m.vlan_id = v
$$;
CREATE FUNCTION infra_subnet_holder(s bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT i.name FROM infra_ipam_subnet m JOIN infra_network n ON n.id = m.network_id
	JOIN infrastructure i ON i.id = n.infrastructure_id WHERE m.subnet_id = s
$$;
CREATE FUNCTION infra_ip_holder(a bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT i.name FROM infra_instance_link l JOIN infra_array r ON r.id = l.array_id
	JOIN infrastructure i ON i.id = r.infrastructure_id WHERE l.ip_address_id = a
$$;
-- "web#0": the instance an address is a link of.
CREATE FUNCTION infra_ip_instance(a bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT coalesce(r.d_name, r.s_name) || '#' || l.idx FROM infra_instance_link l
	JOIN infra_array r ON r.id = l.array_id WHERE l.ip_address_id = a
$$;

CREATE FUNCTION infra_vlan_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	mine bigint;
	held bigint;
BEGIN
	IF infra_ipam_deploying() THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		SELECT network_id INTO mine FROM infra_ipam_vlan WHERE vlan_id = OLD.id;
	END IF;
	IF TG_OP = 'DELETE' THEN
		IF mine IS NOT NULL AND pg_trigger_depth() <= 1 THEN
			RAISE EXCEPTION 'VLAN % of fabric % is the VLAN of %; it goes when the network goes (ironrack infra deploy)',
				OLD.vid, (SELECT name FROM fabric WHERE id = OLD.fabric_id), infra_network_text(mine)
				USING ERRCODE = 'IR409';
		END IF;
		RETURN OLD;
	END IF;
	IF mine IS NOT NULL AND (NEW.fabric_id <> OLD.fabric_id OR NEW.vid <> OLD.vid) THEN
		RAISE EXCEPTION 'VLAN % of fabric % is the VLAN of %; its fabric and vid are the infrastructure''s',
			OLD.vid, (SELECT name FROM fabric WHERE id = OLD.fabric_id), infra_network_text(mine)
			USING ERRCODE = 'IR409', COLUMN = 'vid';
	END IF;
	IF TG_OP = 'INSERT' OR NEW.fabric_id <> OLD.fabric_id OR NEW.vid <> OLD.vid THEN
		SELECT network_id INTO held FROM infra_vlan_pool
			WHERE fabric_id = NEW.fabric_id AND vid = NEW.vid AND network_id IS NOT NULL;
		IF held IS NOT NULL THEN
			RAISE EXCEPTION 'vid % of fabric % is held by %', NEW.vid,
				(SELECT name FROM fabric WHERE id = NEW.fabric_id), infra_network_text(held)
				USING ERRCODE = 'IR409', COLUMN = 'vid';
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER infra_vlan_guard BEFORE INSERT OR UPDATE OR DELETE ON vlan
	FOR EACH ROW EXECUTE FUNCTION infra_vlan_guard();

CREATE FUNCTION infra_subnet_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	mine bigint;
	o record;
BEGIN
	IF infra_ipam_deploying() THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		SELECT network_id INTO mine FROM infra_ipam_subnet WHERE subnet_id = OLD.id;
	END IF;
	IF TG_OP = 'DELETE' THEN
		IF mine IS NOT NULL AND pg_trigger_depth() <= 1 THEN
			RAISE EXCEPTION 'subnet % is a block of %; it goes when the block goes (ironrack infra deploy)',
				OLD.cidr, infra_network_text(mine) USING ERRCODE = 'IR409';
		END IF;
		RETURN OLD;
	END IF;
	IF mine IS NOT NULL AND (NEW.cidr <> OLD.cidr OR NEW.vlan_id <> OLD.vlan_id
			OR NEW.gateway IS DISTINCT FROM OLD.gateway) THEN
		RAISE EXCEPTION 'subnet % is a block of %; its CIDR, VLAN and gateway are the infrastructure''s',
			OLD.cidr, infra_network_text(mine) USING ERRCODE = 'IR409',
			COLUMN = CASE WHEN NEW.cidr <> OLD.cidr THEN 'cidr' WHEN NEW.vlan_id <> OLD.vlan_id THEN 'vlan'
				ELSE 'gateway' END;
	END IF;
	IF TG_OP = 'INSERT' OR NEW.cidr <> OLD.cidr THEN
		SELECT b.prefix, b.network_id INTO o FROM infra_wan_block b
			WHERE b.prefix && NEW.cidr ORDER BY b.prefix LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION '% overlaps block % of %', NEW.cidr, o.prefix, infra_network_text(o.network_id)
				USING ERRCODE = 'IR409', COLUMN = 'cidr';
		END IF;
	END IF;
	IF TG_OP = 'INSERT' OR NEW.vlan_id <> OLD.vlan_id THEN
		SELECT m.network_id, v.vid INTO o FROM infra_ipam_vlan m JOIN vlan v ON v.id = m.vlan_id
			WHERE m.vlan_id = NEW.vlan_id;
		IF FOUND THEN
			RAISE EXCEPTION 'VLAN % is the VLAN of %; its subnets are the infrastructure''s', o.vid,
				infra_network_text(o.network_id) USING ERRCODE = 'IR409', COLUMN = 'vlan';
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER infra_subnet_guard BEFORE INSERT OR UPDATE OR DELETE ON subnet
	FOR EACH ROW EXECUTE FUNCTION infra_subnet_guard();

CREATE FUNCTION infra_ip_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	net bigint;
	inst text;
	o record;
BEGIN
	IF infra_ipam_deploying() THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		SELECT network_id, infra_ip_instance(OLD.id) INTO net, inst FROM infra_instance_link
			WHERE ip_address_id = OLD.id;
	END IF;
	IF TG_OP = 'DELETE' THEN
		IF net IS NOT NULL AND pg_trigger_depth() <= 1 THEN
			RAISE EXCEPTION '% is the address of instance % on %; it goes when the instance goes',
				host(OLD.ip), inst, infra_network_text(net) USING ERRCODE = 'IR409';
		END IF;
		RETURN OLD;
	END IF;
	IF net IS NOT NULL AND (NEW.ip IS DISTINCT FROM OLD.ip OR NEW.subnet_id <> OLD.subnet_id
			OR NEW.mode <> OLD.mode OR NEW.owner_kind <> OLD.owner_kind
			OR NEW.interface_id IS DISTINCT FROM OLD.interface_id) THEN
		RAISE EXCEPTION '% is the address of instance % on %; only its hostname and comment may change',
			host(OLD.ip), inst, infra_network_text(net) USING ERRCODE = 'IR409';
	END IF;
	IF net IS NULL AND NEW.ip IS NOT NULL AND NEW.mode IN ('static', 'auto')
			AND (TG_OP = 'INSERT' OR NEW.ip IS DISTINCT FROM OLD.ip OR NEW.mode <> OLD.mode) THEN
		SELECT b.prefix, b.network_id INTO o FROM infra_wan_block b
			WHERE NEW.ip <<= b.prefix AND b.kind = 'primary' LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION '% is inside block % of %; its addresses are the infrastructure''s', host(NEW.ip),
				o.prefix, infra_network_text(o.network_id) USING ERRCODE = 'IR409', COLUMN = 'ip';
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER infra_ip_guard BEFORE INSERT OR UPDATE OR DELETE ON ip_address
	FOR EACH ROW EXECUTE FUNCTION infra_ip_guard();
