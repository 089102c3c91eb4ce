-- Deployable OS images (docs/deploy.md, "Images"): a registry in the
-- region; an image's bytes live under boot_resources_dir/images/ and are
-- published to racks as the boot resource images/NAME, which racks serve
-- over HTTP (Range-resumable) to machines being deployed.
CREATE TABLE image (
	id bigserial PRIMARY KEY,
	-- Also the file name: a boot-resource path component.
	name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$' AND name !~ '\.part$'),
	arch text NOT NULL DEFAULT 'amd64' CHECK (arch ~ '^[a-z0-9_]{1,16}$'),
	-- raw: a disk image written as is; gzip, zstd: a raw image compressed,
	-- decompressed while it is written.
	format text NOT NULL CHECK (format IN ('raw', 'gzip', 'zstd')),
	-- Of the file as stored and served (the compressed bytes for gzip/zstd).
	sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	size bigint NOT NULL CHECK (size > 0),
	-- uploading: bytes arrive in chunks (uploaded so far) into the hidden
	-- file images/.NAME.upload; ready: whole, checked against sha256,
	-- renamed to images/NAME and published.
	status text NOT NULL DEFAULT 'uploading' CHECK (status IN ('uploading', 'ready')),
	uploaded bigint NOT NULL DEFAULT 0 CHECK (uploaded >= 0 AND uploaded <= size),
	description text NOT NULL DEFAULT '' CHECK (octet_length(description) <= 255),
	created timestamptz NOT NULL DEFAULT now(),
	updated timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT image_name_key UNIQUE (name)
);
CREATE TRIGGER image_touch BEFORE UPDATE ON image FOR EACH ROW EXECUTE FUNCTION ir_touch();
