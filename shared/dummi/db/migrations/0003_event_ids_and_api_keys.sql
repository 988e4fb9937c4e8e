-- Idempotent ingestion (a client event_id is stored once) and API keys with scopes.

-- The client's own id for an interaction or feedback event: a retry of the same event finds the stored
-- row instead of adding a second one. Events sent without one are stored as they come.
ALTER TABLE interactions ADD COLUMN event_id text CHECK (event_id IS NULL OR length(event_id) BETWEEN 1 AND 128);
CREATE UNIQUE INDEX interactions_event_id_key ON interactions (event_id) WHERE event_id IS NOT NULL;

-- Keys are shown once when created; only a SHA-256 of the whole key is kept. key_id is the key's public
-- part (it is in the key itself), so a lookup is one primary-key read.
CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    name        text        NOT NULL DEFAULT '',
    scopes      text[]      NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']),
    key_hash    bytea       NOT NULL CHECK (octet_length(key_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
