-- The infrastructure editor's instances bound to real machines
-- (docs/deploy.md, "Infrastructures").
--
-- Deploy binds every instance that has no machine (infra_instance.machine_id,
-- 0003) to a READY machine in the infrastructure's zone that meets its
-- array's requirements, and makes it ALLOCATED to "infrastructure NAME";
-- an instance that goes releases its machine. The addresses a WAN gives an
-- instance become ip_address rows on the machine's interfaces (links, mode
-- static), in IPAM subnets that mirror the WAN's blocks on a VLAN that
-- mirrors the network's VLAN id.

-- What an instance array asks of its machines, staged and deployed like
-- the rest of the array (0 = anything). Disk is all disks together.
ALTER TABLE infra_array
	ADD COLUMN s_min_cpu integer NOT NULL DEFAULT 0 CHECK (s_min_cpu BETWEEN 0 AND 1048576),
	ADD COLUMN s_min_memory_gib integer NOT NULL DEFAULT 0 CHECK (s_min_memory_gib BETWEEN 0 AND 1073741824),
	ADD COLUMN s_min_disk_gb integer NOT NULL DEFAULT 0 CHECK (s_min_disk_gb BETWEEN 0 AND 1073741824),
	ADD COLUMN d_min_cpu integer NOT NULL DEFAULT 0 CHECK (d_min_cpu BETWEEN 0 AND 1048576),
	ADD COLUMN d_min_memory_gib integer NOT NULL DEFAULT 0 CHECK (d_min_memory_gib BETWEEN 0 AND 1073741824),
	ADD COLUMN d_min_disk_gb integer NOT NULL DEFAULT 0 CHECK (d_min_disk_gb BETWEEN 0 AND 1073741824);

-- The IPAM objects a deployed WAN is mirrored as: the VLAN (its fabric and
-- vid from infra_vlan_pool) and one subnet per primary block (gateway: the
-- block's first usable address). No foreign keys to the infrastructure's
-- rows: a mirror outlives the network or block it mirrored until a deploy
-- (or the infrastructure's deletion) removes it.
CREATE TABLE infra_ipam_vlan (
	network_id bigint PRIMARY KEY,
	vlan_id bigint NOT NULL REFERENCES vlan (id) ON DELETE CASCADE,
	CONSTRAINT infra_ipam_vlan_vlan_key UNIQUE (vlan_id)
);
CREATE TABLE infra_ipam_subnet (
	subnet_id bigint PRIMARY KEY REFERENCES subnet (id) ON DELETE CASCADE,
	network_id bigint NOT NULL,
	block_id bigint NOT NULL,
	CONSTRAINT infra_ipam_subnet_block_key UNIQUE (block_id)
);
CREATE INDEX infra_ipam_subnet_network_idx ON infra_ipam_subnet (network_id);

-- An address a WAN gave an instance's port, held by its machine's
-- interface. The link row goes with the instance; its address goes with
-- it (trigger below), and the link row with the address.
CREATE TABLE infra_instance_link (
	array_id bigint NOT NULL,
	idx integer NOT NULL,
	port integer NOT NULL CHECK (port BETWEEN 0 AND 15),
	network_id bigint NOT NULL,
	ip_address_id bigint NOT NULL REFERENCES ip_address (id) ON DELETE CASCADE,
	PRIMARY KEY (array_id, idx, port, network_id),
	CONSTRAINT infra_instance_link_ip_key UNIQUE (ip_address_id),
	FOREIGN KEY (array_id, idx) REFERENCES infra_instance (array_id, idx) ON DELETE CASCADE
);

CREATE FUNCTION infra_instance_link_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM ip_address WHERE id = OLD.ip_address_id;
	RETURN OLD;
END $$;
CREATE TRIGGER infra_instance_link_gone AFTER DELETE ON infra_instance_link
	FOR EACH ROW EXECUTE FUNCTION infra_instance_link_gone();

-- A machine an infrastructure holds that is given away by other means (an
-- operator's release: the owner changes) leaves its instance: the
-- instance's addresses go with the binding, and the next deploy binds
-- another machine.
CREATE FUNCTION infra_machine_owner_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM infra_instance_link l USING infra_instance i
		WHERE i.machine_id = NEW.id AND l.array_id = i.array_id AND l.idx = i.idx;
	UPDATE infra_instance SET machine_id = NULL WHERE machine_id = NEW.id;
	RETURN NEW;
END $$;
CREATE TRIGGER infra_machine_owner_changed AFTER UPDATE OF owner ON machine
	FOR EACH ROW WHEN (OLD.owner LIKE 'infrastructure %' AND NEW.owner IS DISTINCT FROM OLD.owner)
	EXECUTE FUNCTION infra_machine_owner_changed();
