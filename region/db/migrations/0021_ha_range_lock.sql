-- DHCP HA (issue 16, docs/dhcp-ha.md "Terms", Share): the free addresses of
-- every dynamic range a pair serves are split between its two racks, and
-- the split is agreed between them when they meet. A range that changes
-- under a running pair would leave addresses that both racks believe are
-- theirs, so a dynamic range of a VLAN with a secondary rack (or of a VLAN
-- relaying to one) is not created, moved or resized: the operator removes
-- the secondary first (its rack stops serving the VLAN, the primary serves
-- it alone and owns every address) and sets it again after (the two split
-- the new ranges when they sync). Deleting a range takes addresses away
-- from both racks, which is safe, and stays allowed.
CREATE FUNCTION ip_range_ha_pair_vlan(sid bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT v.id FROM subnet s JOIN vlan v ON v.id = s.vlan_id LEFT JOIN vlan rv ON rv.id = v.relay_vlan_id
	WHERE s.id = sid AND (v.secondary_rack_id IS NOT NULL OR rv.secondary_rack_id IS NOT NULL)
$$;

CREATE FUNCTION ip_range_ha_lock() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	vid bigint;
	a inet;
	b inet;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.type = OLD.type AND NEW.subnet_id = OLD.subnet_id AND NEW.start_ip = OLD.start_ip
			AND NEW.end_ip = OLD.end_ip THEN
		RETURN NEW; -- a comment: nothing moves
	END IF;
	IF TG_OP = 'UPDATE' AND OLD.type = 'dynamic' THEN
		vid := ip_range_ha_pair_vlan(OLD.subnet_id);
		a := OLD.start_ip;
		b := OLD.end_ip;
	END IF;
	IF vid IS NULL AND NEW.type = 'dynamic' THEN
		vid := ip_range_ha_pair_vlan(NEW.subnet_id);
		a := NEW.start_ip;
		b := NEW.end_ip;
	END IF;
	IF vid IS NOT NULL THEN
		RAISE EXCEPTION 'dynamic range %-% is split between the two racks of a DHCP HA pair (VLAN %): remove the VLAN''s secondary_rack before changing its dynamic ranges, and set it again after',
			host(a), host(b), vid USING ERRCODE = 'IR409', COLUMN = 'start_ip';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ip_range_ha_lock BEFORE INSERT OR UPDATE ON ip_range
	FOR EACH ROW EXECUTE FUNCTION ip_range_ha_lock();
