-- Anonymous sessions, pages without repeats and promotions (issue 34).

-- An event of a visitor who is not signed in names a session and no user; one that names both is the
-- user's and remembers its session. A session's anonymous events join the user's history when a request or
-- an event names both (user_id set where it was NULL, once), and are deleted when the session has been idle
-- longer than DUMMI_SESSION_IDLE_DAYS (the metrics job).
ALTER TABLE interactions
    ALTER COLUMN user_id DROP NOT NULL,
    ADD COLUMN session_id text CHECK (session_id IS NULL OR length(session_id) BETWEEN 1 AND 128),
    ADD CONSTRAINT interactions_subject_check CHECK (user_id IS NOT NULL OR session_id IS NOT NULL);
-- a session's events, newest first (the per-request read), its merge and its expiry
CREATE INDEX interactions_session_time_idx ON interactions (session_id, created_at DESC, interaction_id DESC)
    WHERE session_id IS NOT NULL;

-- Answers to a session, pages and promotions. lineage: the recommendation_id of a list's first page, shared by
-- every page a page_token asked for (page 1, 2, ...); the items of a lineage's earlier pages are never listed
-- again. promotion: the request's promotion, promoted: the 1-based positions it held.
ALTER TABLE impressions
    ADD COLUMN session_id text,
    ADD COLUMN lineage uuid,
    ADD COLUMN page integer CHECK (page IS NULL OR page >= 1),
    ADD COLUMN promotion text,
    ADD COLUMN promoted integer[],
    ADD CONSTRAINT impressions_lineage_page_check CHECK ((lineage IS NULL) = (page IS NULL)),
    ADD CONSTRAINT impressions_promotion_check CHECK (promoted IS NULL OR promotion IS NOT NULL);
CREATE INDEX impressions_lineage_idx ON impressions (lineage, page) WHERE lineage IS NOT NULL;
CREATE INDEX impressions_session_idx ON impressions (session_id, created_at DESC) WHERE session_id IS NOT NULL;

-- Secrets the service makes for itself once and every process shares (the page tokens' signing key when
-- DUMMI_PAGE_TOKEN_SECRET is not set): the first process to need one inserts it, the others read it.
CREATE TABLE service_secrets (
    name       text PRIMARY KEY,
    secret     bytea       NOT NULL CHECK (length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Per promotion, day and surface: promoted items shown and clicked (attributed clicks, once per answer and
-- item), replaced with the same days by the metrics job.
CREATE TABLE promotion_daily_metrics (
    promotion   text    NOT NULL,
    day         date    NOT NULL,
    surface     text    NOT NULL,
    impressions integer NOT NULL CHECK (impressions >= 0),
    clicks      integer NOT NULL CHECK (clicks >= 0 AND clicks <= impressions),
    PRIMARY KEY (promotion, day, surface)
);
CREATE INDEX promotion_daily_metrics_day_idx ON promotion_daily_metrics (day);
