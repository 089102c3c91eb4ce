-- Allocation and deployment (docs/deploy.md).

-- Who holds an ALLOCATED, DEPLOYING or DEPLOYED machine, and the tags
-- allocation filters on.
ALTER TABLE machine
	ADD COLUMN owner text NOT NULL DEFAULT '',
	ADD COLUMN allocated_at timestamptz,
	ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
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
	-- The steps as the agent reported them: started, written, rebooting,
	-- done; and its measurements (download_ms, write_ms, bytes, disk).
	step text NOT NULL DEFAULT 'pending',
	result jsonb NOT NULL DEFAULT '{}'::jsonb,
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
