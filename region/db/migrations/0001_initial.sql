-- Initial schema: racks, their interfaces and configuration snapshots, and
-- API keys. schema_version is created by migrate_run, not here, and a
-- migration must not contain BEGIN/COMMIT: migrate_run wraps each file in
-- its own transaction together with its schema_version row.

-- A rack's id is 'rack-' + hex and equals the CN of its client certificate,
-- so the id read from the TLS session is the primary key.
CREATE TABLE rack (
	id text PRIMARY KEY,
	hostname text NOT NULL,
	version text NOT NULL DEFAULT '',
	cert_serial text NOT NULL,
	cert_fingerprint text NOT NULL,
	enrolled_at timestamptz NOT NULL DEFAULT now(),
	registered_at timestamptz,
	last_seen timestamptz,
	connected boolean NOT NULL DEFAULT false,
	-- Which region holds the session, so a restarting region clears only
	-- its own racks and a late disconnect cannot undo another region's.
	connected_region text NOT NULL DEFAULT '',
	acked_config_version bigint NOT NULL DEFAULT 0 CHECK (acked_config_version >= 0),
	acked_at timestamptz
);

CREATE INDEX rack_connected_region_idx ON rack (connected_region) WHERE connected;

-- inet (not cidr) because a rack reports host addresses with their prefix
-- length (10.0.0.5/24); cidr would reject the host bits.
CREATE TABLE rack_interface (
	rack_id text NOT NULL REFERENCES rack (id) ON DELETE CASCADE,
	name text NOT NULL,
	mac macaddr,
	addresses inet[] NOT NULL DEFAULT '{}',
	vlan integer NOT NULL DEFAULT 0 CHECK (vlan BETWEEN 0 AND 4094),
	PRIMARY KEY (rack_id, name)
);

-- Every configuration pushed to a rack is kept, numbered per rack, so the
-- version a rack acknowledges always names one exact snapshot.
CREATE TABLE rack_config (
	rack_id text NOT NULL REFERENCES rack (id) ON DELETE CASCADE,
	version bigint NOT NULL CHECK (version > 0),
	settings jsonb NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (rack_id, version)
);

-- Only a SHA-256 (hex) of each key is stored; the plaintext is shown once.
CREATE TABLE api_key (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	key_hash text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
	created_at timestamptz NOT NULL DEFAULT now(),
	last_used timestamptz
);
