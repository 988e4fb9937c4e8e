-- What the operator console reads, kept small.

-- Per item and day: how often it was shown and clicked or liked (attributed, once per answer and item),
-- written by the metrics job beside online_metrics and replaced with the same days, so that an item's history
-- is read from a few rows (GET /content/{content_id}/metrics) instead of the impressions log.
CREATE TABLE item_daily_metrics (
    content_id  text    NOT NULL,
    day         date    NOT NULL,
    impressions integer NOT NULL CHECK (impressions >= 0),
    clicks      integer NOT NULL CHECK (clicks >= 0 AND clicks <= impressions),
    likes       integer NOT NULL CHECK (likes >= 0 AND likes <= impressions),
    PRIMARY KEY (content_id, day)
);
-- the job replaces whole days
CREATE INDEX item_daily_metrics_day_idx ON item_daily_metrics (day);

-- events per day over the last weeks (the console's overview, GET /overview) without a scan of every event
CREATE INDEX interactions_created_idx ON interactions (created_at);
