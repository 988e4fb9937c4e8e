-- Users, content, interactions (feedback included) and training runs / model versions.

CREATE TABLE users (
    user_id      text PRIMARY KEY,
    interests    text[]      NOT NULL DEFAULT '{}',
    skill_level  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE content (
    content_id   text PRIMARY KEY,
    title        text        NOT NULL,
    category     text        NOT NULL,
    tags         text[]      NOT NULL DEFAULT '{}',
    description  text        NOT NULL DEFAULT '',
    -- all-MiniLM-L6-v2 vector: 384 float32 little-endian (1536 bytes), L2-normalized; NULL until embedded.
    embedding    bytea       CHECK (embedding IS NULL OR octet_length(embedding) = 1536),
    -- sha256 of the text that was embedded; a changed text (hash mismatch) is re-embedded.
    text_hash    text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- GET /content/category/{category}: paginated in a stable order.
CREATE INDEX content_category_idx ON content (category, content_id);
-- training: rows whose embedding is missing.
CREATE INDEX content_unembedded_idx ON content (content_id) WHERE embedding IS NULL;

-- Interactions and explicit feedback in one typed event table.
CREATE TABLE interactions (
    interaction_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          text        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    content_id       text        NOT NULL REFERENCES content (content_id) ON DELETE CASCADE,
    kind             text        NOT NULL,
    event_type       text        NOT NULL,
    duration_seconds double precision,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT interactions_kind_type_check CHECK (
        (kind = 'interaction' AND event_type IN ('click', 'like', 'skip', 'view_time'))
        OR (kind = 'feedback' AND event_type IN ('positive', 'negative', 'neutral'))
    ),
    CONSTRAINT interactions_duration_check CHECK (duration_seconds IS NULL OR duration_seconds >= 0)
);
-- a user's history, newest first; the recommender's per-request read.
CREATE INDEX interactions_user_time_idx ON interactions (user_id, created_at DESC, interaction_id DESC);
-- popularity and CF training by item; deletes cascading from content.
CREATE INDEX interactions_content_idx ON interactions (content_id);

CREATE TABLE training_runs (
    run_id         uuid PRIMARY KEY,
    state          text        NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    trigger        text        NOT NULL,
    params         jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    timings        jsonb       NOT NULL DEFAULT '{}',
    counts         jsonb       NOT NULL DEFAULT '{}',
    model_version  text,
    error          text
);
CREATE INDEX training_runs_created_idx ON training_runs (created_at DESC);

CREATE TABLE model_versions (
    version        text PRIMARY KEY,
    run_id         uuid REFERENCES training_runs (run_id) ON DELETE SET NULL,
    artifacts_uri  text        NOT NULL,
    manifest       jsonb       NOT NULL,
    metrics        jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_versions_created_idx ON model_versions (created_at DESC);

-- Small facts about this database, e.g. that the sample data was loaded once.
CREATE TABLE app_state (
    key         text PRIMARY KEY,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
