-- Power (docs/power.md): how to reach a machine's BMC, what state it was
-- last seen in, and what was asked of it.

-- power_type (0002) names the driver: '' (none), ipmi, redfish, wol, manual.
-- power_params holds the driver's parameters without secrets:
--   {"address": "10.0.0.5", "user": "admin", "options": {"cipher_suite": "17"}}
-- power_secret is the BMC password sealed with the region's secret key
-- (region/secret.c: AES-256-GCM, bound to the machine's id); it is never
-- returned by the API.
ALTER TABLE machine
	ADD COLUMN power_params jsonb NOT NULL DEFAULT '{}'::jsonb,
	ADD COLUMN power_secret bytea,
	ADD COLUMN power_state text NOT NULL DEFAULT 'unknown'
		CHECK (power_state IN ('on', 'off', 'unknown', 'error')),
	ADD COLUMN power_state_at timestamptz,
	ADD COLUMN power_error text NOT NULL DEFAULT '',
	-- The rack that polls this machine now (set when a poll set is sent).
	ADD COLUMN power_rack_id text REFERENCES rack (id) ON DELETE SET NULL;

ALTER TABLE machine ADD CONSTRAINT machine_power_type_check
	CHECK (power_type IN ('', 'ipmi', 'redfish', 'wol', 'manual'));

-- One row per power action asked of a rack.
CREATE TABLE power_action (
	id bigserial PRIMARY KEY,
	machine_id bigint NOT NULL REFERENCES machine (id) ON DELETE CASCADE,
	action text NOT NULL CHECK (action IN ('on', 'off', 'cycle', 'query')),
	boot text NOT NULL DEFAULT '' CHECK (boot IN ('', 'pxe', 'disk')),
	requested_by text NOT NULL DEFAULT '',
	requested timestamptz NOT NULL DEFAULT now(),
	rack_id text,
	status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
	state text NOT NULL DEFAULT '',
	message text NOT NULL DEFAULT '',
	needs_person boolean NOT NULL DEFAULT false,
	finished timestamptz
);
CREATE INDEX power_action_machine_idx ON power_action (machine_id, id);
-- Actions still waiting for their rack, to fail them when it goes away.
CREATE INDEX power_action_pending_idx ON power_action (rack_id) WHERE status = 'pending';

-- What happened to a machine, newest last: power actions requested and
-- their outcomes, power states seen changing. Later issues add lifecycle
-- kinds.
CREATE TABLE machine_event (
	id bigserial PRIMARY KEY,
	machine_id bigint NOT NULL REFERENCES machine (id) ON DELETE CASCADE,
	at timestamptz NOT NULL DEFAULT now(),
	kind text NOT NULL,
	actor text NOT NULL DEFAULT '',
	description text NOT NULL DEFAULT '',
	action_id bigint REFERENCES power_action (id) ON DELETE SET NULL
);
CREATE INDEX machine_event_machine_idx ON machine_event (machine_id, id);
