-- Per-machine boot configurations in a rack's configuration snapshot
-- (POST /api/v1/racks/{id}/config "boot_configs"): an array of
-- {"mac","purpose","kernel","initrd","cmdline"} objects, validated by the
-- region before it is stored and by the rack again before it applies it.
-- Snapshots stored before this migration carry none.
ALTER TABLE rack_config
	ADD COLUMN boot_configs jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(boot_configs) = 'array');
