-- Exploration: the propensity of each explored item in an answer, and per-item impressions and clicks for
-- the bandit's posteriors.

-- Per position: the probability the exploration policy had of choosing the item there; NULL where the
-- recommender ranked the item (and for the whole array when nothing was explored).
ALTER TABLE impressions ADD COLUMN propensities real[]
    CHECK (propensities IS NULL OR cardinality(propensities) = cardinality(item_ids));
-- Each exploration decision as it was made: {position, candidates (content ids), impressions, clicks,
-- global_ctr, taken (candidates already given to an earlier slot), chosen, propensity}, so that another
-- policy's choice probabilities can be worked out afterwards (`dummi evaluate-policy`).
ALTER TABLE impressions ADD COLUMN explore jsonb;

-- Attributed clicks and impressions per item over the impressions still kept (the retention period),
-- rebuilt whole by the metrics job; serving reads it every minute.
CREATE TABLE item_stats (
    content_id  text PRIMARY KEY,
    impressions integer     NOT NULL CHECK (impressions >= 0),
    clicks      integer     NOT NULL CHECK (clicks >= 0 AND clicks <= impressions),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
