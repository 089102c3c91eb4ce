-- Machines' lifecycle and hardware (docs/machines.md). The transitions are
-- decided by region/machine/lifecycle.c; the database keeps the state and
-- makes each write conditional on the state the decision was taken from.
ALTER TABLE machine
	ADD COLUMN status text NOT NULL DEFAULT 'NEW' CHECK (status IN ('NEW', 'COMMISSIONING', 'READY', 'ALLOCATED',
		'DEPLOYING', 'DEPLOYED', 'RELEASING', 'FAILED_COMMISSIONING', 'FAILED_DEPLOYMENT', 'BROKEN')),
	-- The state before this one (abort returns there).
	ADD COLUMN status_previous text NOT NULL DEFAULT 'NEW',
	ADD COLUMN status_since timestamptz NOT NULL DEFAULT now(),
	-- When a timed state (COMMISSIONING, DEPLOYING, RELEASING) fails by
	-- itself; NULL otherwise.
	ADD COLUMN status_deadline timestamptz,
	ADD COLUMN status_message text NOT NULL DEFAULT '',
	-- The power action that started the current state (commissioning's
	-- power cycle): its failure fails the state.
	ADD COLUMN status_action_id bigint REFERENCES power_action (id) ON DELETE SET NULL,
	-- The inventory the machine's agent last posted (common/inventory.h,
	-- normalised), and its summary for lists.
	ADD COLUMN hardware jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(hardware) = 'object'),
	ADD COLUMN hardware_at timestamptz,
	ADD COLUMN cpu_count integer NOT NULL DEFAULT 0,
	ADD COLUMN cpu_model text NOT NULL DEFAULT '',
	ADD COLUMN memory_mib bigint NOT NULL DEFAULT 0,
	ADD COLUMN storage_bytes bigint NOT NULL DEFAULT 0,
	ADD COLUMN disk_count integer NOT NULL DEFAULT 0,
	-- The MAC the machine booted from when it last reported.
	ADD COLUMN boot_mac macaddr;

CREATE INDEX machine_status_idx ON machine (status);
CREATE INDEX machine_deadline_idx ON machine (status_deadline) WHERE status_deadline IS NOT NULL;

-- What the agent saw of each NIC.
ALTER TABLE interface
	ADD COLUMN driver text NOT NULL DEFAULT '',
	ADD COLUMN speed_mbps integer NOT NULL DEFAULT 0,
	ADD COLUMN carrier boolean;

-- One-time tokens (region/machine/token.h): the SHA-256 of the token to
-- find and check it, and the token sealed with the region's keyring
-- (aad "machine_token:ID:token") to render the boot config again.
CREATE TABLE machine_token (
	id bigserial PRIMARY KEY,
	machine_id bigint NOT NULL REFERENCES machine (id) ON DELETE CASCADE,
	purpose text NOT NULL CHECK (purpose IN ('commission', 'deploy')),
	hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
	sealed bytea NOT NULL,
	created timestamptz NOT NULL DEFAULT now(),
	expires timestamptz NOT NULL,
	used timestamptz,
	CONSTRAINT machine_token_hash_key UNIQUE (hash)
);
CREATE INDEX machine_token_machine_idx ON machine_token (machine_id, id);

-- A commissioning power action that fails fails the commissioning; one
-- that needs a person says so in the machine's status message.
CREATE FUNCTION machine_status_action_done() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	m machine;
BEGIN
	IF NEW.status = 'pending' OR OLD.status = NEW.status AND OLD.needs_person = NEW.needs_person THEN
		RETURN NEW;
	END IF;
	SELECT * INTO m FROM machine WHERE id = NEW.machine_id AND status_action_id = NEW.id;
	IF NOT FOUND THEN
		RETURN NEW;
	END IF;
	IF NEW.needs_person THEN
		UPDATE machine SET status_message = format('waiting for someone to power the machine on (%s power): %s',
			power_type, NEW.message) WHERE id = m.id;
	ELSIF NEW.status = 'failed' AND m.status = 'COMMISSIONING' THEN
		UPDATE machine SET status = 'FAILED_COMMISSIONING', status_previous = m.status, status_since = now(),
			status_deadline = NULL, status_action_id = NULL,
			status_message = 'power ' || NEW.action || ' failed: ' || NEW.message
		WHERE id = m.id;
		UPDATE machine_token SET used = now() WHERE machine_id = m.id AND used IS NULL;
		INSERT INTO machine_event (machine_id, kind, actor, description, action_id)
		VALUES (m.id, 'status', 'region', format('COMMISSIONING → FAILED_COMMISSIONING: power %s failed: %s',
			NEW.action, NEW.message), NEW.id);
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER power_action_status_done AFTER UPDATE ON power_action
	FOR EACH ROW EXECUTE FUNCTION machine_status_action_done();
