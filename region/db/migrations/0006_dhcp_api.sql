-- The REST API's share of DHCP (region/api/dhcp.c, region/db/net_sql_l3.c):
-- what 0005 left to the API and wants said in the client's terms.

-- A lease a rack granted is the rack's: the API refuses to delete it
-- (region/db/net_sql_l3.c calls this in its DELETE). Lease reports from
-- racks delete lease rows directly and never call it.
CREATE FUNCTION ip_address_api_deletable(ip_id bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	a ip_address;
BEGIN
	SELECT * INTO a FROM ip_address WHERE id = ip_id;
	IF FOUND AND a.owner_kind = 'dhcp_lease' THEN
		RAISE EXCEPTION '% is a DHCP lease of % (rack %); DHCP leases are managed by the rack that granted them',
			host(a.ip), a.lease_mac, a.lease_rack_id USING ERRCODE = 'IR409';
	END IF;
	RETURN true;
END $$;

-- The per-subnet DHCP settings with messages naming the field (the CHECK
-- constraints of 0005 stay the backstop).
CREATE FUNCTION subnet_dhcp_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF length(NEW.domain) > 253
		OR NEW.domain !~ '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)*$' THEN
		RAISE EXCEPTION 'domain ''%'' is not a DNS domain name (labels of letters, digits and ''-'' separated by dots)',
			left(NEW.domain, 64) USING ERRCODE = 'IR400', COLUMN = 'domain';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(NEW.ntp_servers) n WHERE masklen(n) <> CASE family(n) WHEN 4 THEN 32 ELSE 128 END) THEN
		RAISE EXCEPTION 'NTP servers are addresses, without a prefix length'
			USING ERRCODE = 'IR400', COLUMN = 'ntp_servers';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER subnet_dhcp_check BEFORE INSERT OR UPDATE ON subnet FOR EACH ROW EXECUTE FUNCTION subnet_dhcp_check();
