-- The infrastructure editor model (issue 3; MetalSoft, seed 000).
--
-- An infrastructure holds instance arrays (N identical server instances,
-- each later bound to a machine) and networks of type LAN (pure L2: a VLAN
-- id from a per-fabric pool, no addresses), WAN (L2 plus a gateway, with
-- IPv4 blocks carved from the infrastructure's WAN pools) and SAN (present
-- only while drives are attached). Ports of instance arrays connect to
-- networks.
--
-- STAGED AND DEPLOYED DESIGNS
--
-- Every design object -- instance array, network, connection, drive -- is
-- ONE row that carries both designs side by side: the s_* columns (or the
-- `staged` flag) hold the staged design, the d_* columns (or `deployed`)
-- the deployed one; NULL (false) means "not in that design". Chosen over a
-- `state` column with two rows per object, and over a staged JSON document,
-- because:
--  * an object keeps one id in both designs. The deploy planner
--    (region/ipam/plan.h) matches the designs by id, so a rename is a
--    change rather than delete + create, and deployed resources -- the VLAN
--    id, WAN blocks, instances bound to machines -- hang off that id with
--    real foreign keys;
--  * a staged edit writes only s_* columns: the deployed design cannot
--    change before deploy, by construction;
--  * deploy is one transaction that locks the infrastructure row, computes
--    the plan and applies it action by action (d_* := s_* for the objects
--    an action names) together with the resource allocation. Applying the
--    plan rather than copying every s_* column matters for a SAN the
--    planner prunes (no drives): it stays in the staged design, absent from
--    the deployed one, and comes back when a drive is attached;
--  * discard is one UPDATE (s_* := d_*) and one DELETE (rows in neither
--    design) per table.
-- A staged-only object has d_* NULL; a deployed object removed in the
-- staged design has s_* NULL until deploy or discard. Names are unique per
-- design; the deployed names' uniqueness is checked at commit because a
-- deploy applies renames one by one.
--
-- Resources: a network's VLAN id is its row in infra_vlan_pool; WAN blocks
-- are rows of infra_wan_block, which no two WANs (of any infrastructure)
-- may overlap. Both are allocated and released only by deploy (and by an
-- explicit order of an extra WAN subnet), under a transaction-level
-- advisory lock so that concurrent deploys never plan the same space.

CREATE TABLE infrastructure (
	id bigserial PRIMARY KEY,
	name ir_name NOT NULL,
	description text NOT NULL DEFAULT '' CHECK (length(description) <= 1024),
	zone_id bigint NOT NULL DEFAULT zone_default_id() REFERENCES zone (id) ON DELETE SET DEFAULT,
	-- The fabric whose VLAN id pool its networks draw from.
	fabric_id bigint NOT NULL REFERENCES fabric (id),
	-- IPv4 prefixes its WAN blocks are carved from (seed 000: "allocate ips
	-- from a subnet configured at the infrastructure level"). Several
	-- infrastructures may share a pool; their blocks never overlap.
	wan_pools cidr[] NOT NULL DEFAULT '{}' CHECK (cardinality(wan_pools) <= 16),
	-- Number of deploys so far; the staged design is "revision + 1".
	revision bigint NOT NULL DEFAULT 0 CHECK (revision >= 0),
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	deployed timestamptz,
	CONSTRAINT infrastructure_name_key UNIQUE (name)
);
CREATE INDEX infrastructure_fabric_idx ON infrastructure (fabric_id);
CREATE INDEX infrastructure_zone_idx ON infrastructure (zone_id);
CREATE TRIGGER infrastructure_touch BEFORE UPDATE ON infrastructure FOR EACH ROW EXECUTE FUNCTION ir_touch();

-- A fabric that infrastructures draw VLAN ids from is not deleted under
-- them (raised as 0002 does, so the network API answers 409 and says why).
CREATE FUNCTION infra_fabric_protect() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	names text;
BEGIN
	SELECT string_agg(name, ', ' ORDER BY name) INTO names
		FROM (SELECT name FROM infrastructure WHERE fabric_id = OLD.id ORDER BY name LIMIT 5) AS i;
	IF names IS NOT NULL THEN
		RAISE EXCEPTION 'fabric % holds the VLANs of infrastructure(s) %; delete those first', OLD.name, names
			USING ERRCODE = 'IR409';
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER infra_fabric_protect BEFORE DELETE ON fabric FOR EACH ROW EXECUTE FUNCTION infra_fabric_protect();

-- ---- the design ----

CREATE TABLE infra_array (
	id bigserial PRIMARY KEY,
	infrastructure_id bigint NOT NULL REFERENCES infrastructure (id) ON DELETE CASCADE,
	s_name ir_name,
	s_instances integer CHECK (s_instances BETWEEN 0 AND 1024),
	s_ports integer CHECK (s_ports BETWEEN 1 AND 16),
	d_name ir_name,
	d_instances integer CHECK (d_instances BETWEEN 0 AND 1024),
	d_ports integer CHECK (d_ports BETWEEN 1 AND 16),
	created timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT infra_array_staged_whole CHECK (
		(s_name IS NULL) = (s_instances IS NULL) AND (s_name IS NULL) = (s_ports IS NULL)),
	CONSTRAINT infra_array_deployed_whole CHECK (
		(d_name IS NULL) = (d_instances IS NULL) AND (d_name IS NULL) = (d_ports IS NULL)),
	CONSTRAINT infra_array_in_a_design CHECK (s_name IS NOT NULL OR d_name IS NOT NULL),
	-- For the composite foreign keys that keep connections inside one
	-- infrastructure.
	CONSTRAINT infra_array_infra_key UNIQUE (infrastructure_id, id),
	CONSTRAINT infra_array_staged_name_key UNIQUE (infrastructure_id, s_name) DEFERRABLE INITIALLY IMMEDIATE,
	CONSTRAINT infra_array_deployed_name_key UNIQUE (infrastructure_id, d_name) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE infra_network (
	id bigserial PRIMARY KEY,
	infrastructure_id bigint NOT NULL REFERENCES infrastructure (id) ON DELETE CASCADE,
	s_name ir_name,
	s_type text CHECK (s_type IN ('lan', 'wan', 'san')),
	d_name ir_name,
	d_type text CHECK (d_type IN ('lan', 'wan', 'san')),
	created timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT infra_network_staged_whole CHECK ((s_name IS NULL) = (s_type IS NULL)),
	CONSTRAINT infra_network_deployed_whole CHECK ((d_name IS NULL) = (d_type IS NULL)),
	CONSTRAINT infra_network_in_a_design CHECK (s_name IS NOT NULL OR d_name IS NOT NULL),
	-- A network's type is fixed for the life of its row: re-creating a
	-- network under another type is a new row (delete + create).
	CONSTRAINT infra_network_type_fixed CHECK (s_type IS NULL OR d_type IS NULL OR s_type = d_type),
	CONSTRAINT infra_network_infra_key UNIQUE (infrastructure_id, id),
	CONSTRAINT infra_network_staged_name_key UNIQUE (infrastructure_id, s_name) DEFERRABLE INITIALLY IMMEDIATE,
	CONSTRAINT infra_network_deployed_name_key UNIQUE (infrastructure_id, d_name) DEFERRABLE INITIALLY DEFERRED
);

-- A port of an instance array connected to a network. Ports are numbered
-- 0..ports-1 and named eth0, eth1, ... (the same on every instance). Two
-- ports of one array may join one network, and one port may carry several
-- networks (as VLANs).
CREATE TABLE infra_connection (
	infrastructure_id bigint NOT NULL,
	array_id bigint NOT NULL,
	port integer NOT NULL CHECK (port BETWEEN 0 AND 15),
	network_id bigint NOT NULL,
	staged boolean NOT NULL,
	deployed boolean NOT NULL,
	PRIMARY KEY (array_id, port, network_id),
	CONSTRAINT infra_connection_in_a_design CHECK (staged OR deployed),
	FOREIGN KEY (infrastructure_id, array_id) REFERENCES infra_array (infrastructure_id, id) ON DELETE CASCADE,
	FOREIGN KEY (infrastructure_id, network_id) REFERENCES infra_network (infrastructure_id, id) ON DELETE CASCADE
);
CREATE INDEX infra_connection_infra_idx ON infra_connection (infrastructure_id);
CREATE INDEX infra_connection_network_idx ON infra_connection (network_id);

-- A drive attached to every instance of an array. Seed 000: "SAN ... only
-- present if drives are attached to server instances": the drives are
-- served over the SAN network(s) the array's ports connect to, and a SAN
-- network that no array with drives connects to is left out of the
-- deployed design (the planner's rule).
CREATE TABLE infra_drive (
	id bigserial PRIMARY KEY,
	array_id bigint NOT NULL REFERENCES infra_array (id) ON DELETE CASCADE,
	size_gb integer NOT NULL CHECK (size_gb BETWEEN 1 AND 1048576),
	staged boolean NOT NULL,
	deployed boolean NOT NULL,
	created timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT infra_drive_in_a_design CHECK (staged OR deployed)
);
CREATE INDEX infra_drive_array_idx ON infra_drive (array_id);

-- ---- what a deployed design holds ----

-- The instances of a deployed array, numbered 0..instances-1; a machine is
-- bound to an instance later (machine lifecycle has its own issue).
CREATE TABLE infra_instance (
	array_id bigint NOT NULL REFERENCES infra_array (id) ON DELETE CASCADE,
	idx integer NOT NULL CHECK (idx BETWEEN 0 AND 1023),
	machine_id bigint REFERENCES machine (id) ON DELETE SET NULL,
	created timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (array_id, idx),
	CONSTRAINT infra_instance_machine_key UNIQUE (machine_id)
);

-- The VLAN id pool of each fabric: one row per vid, network_id set while a
-- deployed infrastructure network holds it. Every network type gets one:
-- LAN, WAN and SAN are each an isolated L2 broadcast domain (seed 000). Filled with the default range
-- (2000-2999) the first time a fabric's pool is needed; a vid that a VLAN
-- of the network model already uses on that fabric is never handed out.
CREATE TABLE infra_vlan_pool (
	fabric_id bigint NOT NULL REFERENCES fabric (id) ON DELETE CASCADE,
	vid integer NOT NULL CHECK (vid BETWEEN 1 AND 4094),
	network_id bigint REFERENCES infra_network (id) ON DELETE SET NULL,
	PRIMARY KEY (fabric_id, vid),
	CONSTRAINT infra_vlan_pool_network_key UNIQUE (network_id)
);

-- IPv4 blocks routed to a WAN: 'primary' blocks serve its instances (the
-- first is a /29, grown or added to as instances are added), 'extra'
-- blocks are ordered explicitly (e.g. for MetalLB). The gateway (SVI) is
-- the first usable address of the WAN's first primary block.
CREATE TABLE infra_wan_block (
	id bigserial PRIMARY KEY,
	network_id bigint NOT NULL REFERENCES infra_network (id) ON DELETE CASCADE,
	prefix cidr NOT NULL CHECK (family(prefix) = 4),
	kind text NOT NULL CHECK (kind IN ('primary', 'extra')),
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT infra_wan_block_no_overlap EXCLUDE USING gist (prefix inet_ops WITH &&)
);
CREATE INDEX infra_wan_block_network_idx ON infra_wan_block (network_id);
CREATE TRIGGER infra_wan_block_touch BEFORE UPDATE ON infra_wan_block FOR EACH ROW EXECUTE FUNCTION ir_touch();

-- ---- deploy history ----

CREATE TABLE infra_deploy (
	id bigserial PRIMARY KEY,
	infrastructure_id bigint NOT NULL REFERENCES infrastructure (id) ON DELETE CASCADE,
	revision bigint NOT NULL CHECK (revision > 0),
	deployed timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT infra_deploy_revision_key UNIQUE (infrastructure_id, revision)
);

-- The plan a deploy applied, one row per step in the order applied: the
-- planner's actions, then the resources allocated or released.
CREATE TABLE infra_deploy_step (
	deploy_id bigint NOT NULL REFERENCES infra_deploy (id) ON DELETE CASCADE,
	seq integer NOT NULL CHECK (seq >= 0),
	op text NOT NULL,
	object text NOT NULL,
	subject text NOT NULL,
	detail text NOT NULL DEFAULT '',
	PRIMARY KEY (deploy_id, seq)
);
