-- The online loop: what each answer showed (impressions), which answer an interaction came from
-- (attribution), A/B experiments, and the hourly online metrics.

-- One row per answer of POST /recommendations/, GET /recommendations/popular or GET /content/{id}/similar,
-- written in one statement before the answer returns. Position p of the answer is element p of the arrays.
-- No foreign keys: an answer stays logged when its user or items are deleted, and logging never waits on
-- a lock of the users or content tables.
CREATE TABLE impressions (
    recommendation_id uuid PRIMARY KEY,  -- UUIDv7: its first 48 bits are the answer's time in ms
    user_id       text,  -- NULL for /popular and /similar asked without a user
    surface       text        NOT NULL CHECK (length(surface) BETWEEN 1 AND 64),
    endpoint      text        NOT NULL CHECK (endpoint IN ('recommend', 'popular', 'similar')),
    model_version text,
    experiment    text,
    variant       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    item_ids      text[]      NOT NULL,
    scores        real[]      NOT NULL,
    methods       text[]      NOT NULL,
    CHECK (cardinality(scores) = cardinality(item_ids) AND cardinality(methods) = cardinality(item_ids)),
    CHECK ((experiment IS NULL) = (variant IS NULL))
);
-- attribution by window: the latest answer to this user that listed the item
CREATE INDEX impressions_user_idx ON impressions (user_id, created_at DESC) WHERE user_id IS NOT NULL;
-- the metrics job (a day at a time) and retention (oldest first)
CREATE INDEX impressions_created_idx ON impressions (created_at);
-- experiment results
CREATE INDEX impressions_experiment_idx ON impressions (experiment, created_at) WHERE experiment IS NOT NULL;

-- Attribution of an interaction or feedback event: the answer it came from and the item's position there
-- (1-based); 'explicit' when the client named the answer, 'window' when it was the latest answer to the
-- same user that listed the item within the attribution window. All NULL: unattributed.
ALTER TABLE interactions
    ADD COLUMN recommendation_id uuid,
    ADD COLUMN position integer CHECK (position IS NULL OR position >= 1),
    ADD COLUMN attribution text CHECK (attribution IS NULL OR attribution IN ('explicit', 'window')),
    ADD CONSTRAINT interactions_attribution_parts_check CHECK (
        (recommendation_id IS NULL) = (attribution IS NULL) AND (recommendation_id IS NULL) = (position IS NULL)
    );
CREATE INDEX interactions_recommendation_idx ON interactions (recommendation_id) WHERE recommendation_id IS NOT NULL;

-- A/B experiments. variants: [{"name", "weight", "overrides"}], the first is the control. A user's bucket
-- (of 10,000) is a salted hash of (experiment, user); traffic_percent of the buckets take part, so raising
-- it keeps everyone already in. The variant comes from a second hash, independent of the traffic.
CREATE TABLE experiments (
    name            text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    salt            text             NOT NULL,
    variants        jsonb            NOT NULL,
    traffic_percent double precision NOT NULL CHECK (traffic_percent > 0 AND traffic_percent <= 100),
    starts_at       timestamptz      NOT NULL,
    ends_at         timestamptz,
    stopped_at      timestamptz,
    created_at      timestamptz      NOT NULL DEFAULT now(),
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    CHECK (ends_at IS NULL OR ends_at > starts_at)
);

-- The hourly job's figures per day x surface x variant x method x model version. Sums (not ratios), so
-- that any grouping can be added up again; method '*' rows hold the whole lists (list-level figures).
-- Recomputed whole for each day the job touches: running it twice leaves the same rows.
CREATE TABLE online_metrics (
    day                date             NOT NULL,
    surface            text             NOT NULL,
    experiment         text             NOT NULL,  -- '' outside any experiment
    variant            text             NOT NULL,  -- '' outside any experiment
    method             text             NOT NULL,  -- an item method, or '*' for every item of the lists
    model_version      text             NOT NULL,  -- '' before the first model
    lists              integer          NOT NULL,
    impressions        integer          NOT NULL,
    users              integer          NOT NULL,
    clicks             integer          NOT NULL,
    likes              integer          NOT NULL,
    user_ctr_sum       double precision NOT NULL,  -- sum over reached users of (their clicks / their impressions)
    items_shown        integer          NOT NULL,  -- distinct items
    catalog_size       integer          NOT NULL,
    diversity_sum      double precision NOT NULL,  -- sum over lists of intra-list diversity
    diversity_lists    integer          NOT NULL,  -- lists with two or more embedded items
    spread_sum         double precision NOT NULL,  -- sum over lists of distinct categories / items
    novelty_sum        double precision NOT NULL,  -- sum over impressions of -log2(item popularity)
    young_impressions  integer          NOT NULL,  -- impressions of items younger than 7 days
    by_position        jsonb            NOT NULL,  -- {"1": [impressions, clicks], ...}
    computed_at        timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (day, surface, experiment, variant, method, model_version)
);
