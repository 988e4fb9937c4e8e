-- Embeddings of users' interests (cold-start matching), and one active training run at a time.

ALTER TABLE users
    ADD COLUMN interests_embedding bytea CHECK (interests_embedding IS NULL OR octet_length(interests_embedding) = 1536),
    ADD COLUMN interests_hash text;

-- A content item or user whose text changed since it was embedded has text_hash <> the hash of its text;
-- writes clear the stored hash, so "needs embedding" is simply "hash is NULL".
CREATE INDEX content_needs_embedding_idx ON content (content_id) WHERE text_hash IS NULL;
DROP INDEX content_unembedded_idx;
CREATE INDEX users_needs_embedding_idx ON users (user_id) WHERE interests_hash IS NULL;

-- At most one queued or running training run: a second trigger is told a run is already under way.
CREATE UNIQUE INDEX training_runs_one_active_idx ON training_runs ((true)) WHERE state IN ('queued', 'running');

-- Last sign of life of a run: a queued or running run that has not moved for long is abandoned.
ALTER TABLE training_runs ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
