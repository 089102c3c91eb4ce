-- Allocation and deployment (docs/deploy.md).

-- Who holds an ALLOCATED, DEPLOYING or DEPLOYED machine, and the tags
-- allocation filters on.
ALTER TABLE machine
	ADD COLUMN owner text NOT NULL DEFAULT '',
	ADD COLUMN allocated_at timestamptz,
	ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
	-- Deploys so far (the seed's instance-id changes with each).
	ADD COLUMN deploy_count integer NOT NULL DEFAULT 0;
CREATE INDEX machine_tags_idx ON machine USING gin (tags);

-- What a machine is (to be) deployed with: one row per machine, written by
-- deploy, kept while DEPLOYED (it says what is on the disk), removed on
-- release. image_id is SET NULL when the image is deleted later; name and
-- sha256 stay to say what was written.
CREATE TABLE machine_deploy (
	machine_id bigint PRIMARY KEY REFERENCES machine (id) ON DELETE CASCADE,
	image_id bigint REFERENCES image (id) ON DELETE SET NULL,
	image_name text NOT NULL,
	image_sha256 text NOT NULL CHECK (image_sha256 ~ '^[0-9a-f]{64}$'),
	user_data text NOT NULL DEFAULT '',
	ssh_keys text[] NOT NULL DEFAULT '{}',
	-- The machine's deploy count at this deploy: the seed's instance-id
	-- is ironrack-MACHINEID-NUMBER, new for every deploy.
	number integer NOT NULL DEFAULT 1,
	-- The steps: pending (asked, the agent not heard yet), started (the
	-- agent took the job), rebooting (the agent reported done: boot config
	-- local, power cycle), deployed, failed; and the agent's result
	-- (disk, bytes, download_ms, write_ms, sha256) or failure (stage, error).
	step text NOT NULL DEFAULT 'pending'
		CHECK (step IN ('pending', 'started', 'rebooting', 'deployed', 'failed')),
	result jsonb NOT NULL DEFAULT '{}'::jsonb,
	-- When rebooting ends in DEPLOYED (the region's deployed_when as the
	-- agent reported done): boot, when the power cycle is done; dhcp, at the
	-- first DHCP lease of one of the machine's MACs after it.
	deployed_when text NOT NULL DEFAULT 'boot' CHECK (deployed_when IN ('boot', 'dhcp')),
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER machine_deploy_touch BEFORE UPDATE ON machine_deploy FOR EACH ROW EXECUTE FUNCTION ir_touch();

-- An image in use by a deploy in progress cannot be deleted.
CREATE INDEX machine_deploy_image_idx ON machine_deploy (image_id);

-- Release can erase the disks through the ephemeral environment: how, and
-- the token the erasing agent presents.
ALTER TABLE machine ADD COLUMN release_erase text NOT NULL DEFAULT '' CHECK (release_erase IN ('', 'quick', 'full'));
ALTER TABLE machine_token DROP CONSTRAINT machine_token_purpose_check;
ALTER TABLE machine_token ADD CONSTRAINT machine_token_purpose_check CHECK (purpose IN ('commission', 'deploy', 'erase'));

-- The power actions that drive DEPLOYING and RELEASING (status_action_id)
-- move the machine on, as 0008's trigger does for COMMISSIONING:
--   DEPLOYING: a failed action fails the deployment; the power cycle after
--     the agent's done (step rebooting), when done, makes it DEPLOYED if
--     deployed_when is boot (a manual machine's "someone must" counts);
--   RELEASING: a failed action makes it BROKEN; the power off of a release
--     without erase, when done, makes it READY.
CREATE FUNCTION machine_deploy_action_done() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	m machine;
	d machine_deploy;
	next text;
	why text;
BEGIN
	IF NEW.status = 'pending' OR OLD.status = NEW.status THEN
		RETURN NEW;
	END IF;
	SELECT * INTO m FROM machine WHERE id = NEW.machine_id AND status_action_id = NEW.id
		AND status IN ('DEPLOYING', 'RELEASING');
	IF NOT FOUND THEN
		RETURN NEW;
	END IF;
	SELECT * INTO d FROM machine_deploy WHERE machine_id = m.id;
	IF NEW.status = 'failed' THEN
		next := CASE m.status WHEN 'DEPLOYING' THEN 'FAILED_DEPLOYMENT' ELSE 'BROKEN' END;
		why := format('power %s failed: %s', NEW.action, NEW.message);
		IF m.status = 'DEPLOYING' AND d.step = 'rebooting' THEN
			why := format('power %s to boot its disk failed: %s', NEW.action, NEW.message);
		END IF;
		UPDATE machine_token SET used = now() WHERE machine_id = m.id AND used IS NULL;
		UPDATE machine_deploy SET step = 'failed' WHERE machine_id = m.id AND m.status = 'DEPLOYING';
	ELSIF m.status = 'DEPLOYING' AND d.step = 'rebooting' AND d.deployed_when = 'boot' THEN
		next := 'DEPLOYED';
		why := CASE WHEN NEW.needs_person THEN
			format('deployed: someone must power it on to boot its disk (%s power)', m.power_type)
			ELSE format('deployed: power %s done, booting its disk', NEW.action) END;
		UPDATE machine_deploy SET step = 'deployed' WHERE machine_id = m.id;
	ELSIF m.status = 'RELEASING' AND m.release_erase = '' AND NEW.action = 'off' THEN
		next := 'READY';
		why := 'released: powered off';
	ELSE
		RETURN NEW;
	END IF;
	UPDATE machine SET status = next, status_previous = m.status, status_since = now(), status_deadline = NULL,
		status_action_id = NULL, release_erase = '',
		status_message = CASE WHEN next = 'READY' THEN '' ELSE why END
	WHERE id = m.id;
	INSERT INTO machine_event (machine_id, kind, actor, description, action_id)
	VALUES (m.id, 'status', 'region', format('%s → %s: %s', m.status, next, why), NEW.id);
	RETURN NEW;
END $$;
CREATE TRIGGER power_action_deploy_done AFTER UPDATE ON power_action
	FOR EACH ROW EXECUTE FUNCTION machine_deploy_action_done();
