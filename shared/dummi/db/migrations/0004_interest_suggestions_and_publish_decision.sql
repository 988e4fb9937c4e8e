-- Interests worth asking a newcomer about, in the order the last training picked them (greedy coverage of
-- the catalog's engagement). Replaced whole by each run that publishes; empty before the first training,
-- when GET /users/{user_id}/suggested-interests works from the catalog instead.
CREATE TABLE interest_suggestions (
    rank          integer PRIMARY KEY CHECK (rank >= 1),
    interest      text             NOT NULL,
    items         integer          NOT NULL CHECK (items >= 0),
    share         double precision NOT NULL CHECK (share >= 0 AND share <= 1),
    source        text             NOT NULL CHECK (source IN ('engagement', 'catalog')),
    model_version text             NOT NULL,
    computed_at   timestamptz      NOT NULL DEFAULT now()
);

-- What a run did with its model: published it, or kept the serving one (it scored worse on the run's
-- holdout), with both scores.
ALTER TABLE training_runs ADD COLUMN decision jsonb;
