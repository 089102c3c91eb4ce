-- The OS an instance array's machines get (docs/deploy.md,
-- "Infrastructures"): an image of the registry (0009) by name, the
-- operator's user-data and SSH keys, staged and deployed like the rest of
-- the array. image '' = bind only. After a deploy commits, every instance
-- whose machine is ALLOCATED and whose array has an image gets a machine
-- deploy (machine_deploy, 0010) with these; machines already DEPLOYED are
-- not redeployed when they change. No foreign key to the image: the name
-- is checked when a plan or deploy runs, and an image may be uploaded
-- after the array names it.
ALTER TABLE infra_array
	ADD COLUMN s_image text NOT NULL DEFAULT '' CHECK (length(s_image) <= 63),
	ADD COLUMN s_user_data text NOT NULL DEFAULT '' CHECK (length(s_user_data) <= 65536),
	ADD COLUMN s_ssh_keys text NOT NULL DEFAULT '[]',
	ADD COLUMN d_image text NOT NULL DEFAULT '' CHECK (length(d_image) <= 63),
	ADD COLUMN d_user_data text NOT NULL DEFAULT '' CHECK (length(d_user_data) <= 65536),
	ADD COLUMN d_ssh_keys text NOT NULL DEFAULT '[]';
