-- Event types with weights (issue 34) and the hourly engagement rollup trending reads its baseline from.

-- The interaction types a product may send, each with the weight training, the real-time fold-in and the
-- online metrics read. The four built-ins keep their names and default weights; a product adds its own
-- (purchase, add_to_cart, watch_75, ...). Feedback keeps its three fixed types (positive, negative,
-- neutral), which are reserved names here.
CREATE TABLE event_types (
    name        text             PRIMARY KEY CHECK (name ~ '^[a-z0-9_]{1,40}$'
                                                    AND name NOT IN ('positive', 'negative', 'neutral')),
    weight      double precision NOT NULL CHECK (weight >= -100 AND weight <= 100),
    description text             NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    builtin     boolean          NOT NULL DEFAULT false,
    created_at  timestamptz      NOT NULL DEFAULT now(),
    updated_at  timestamptz      NOT NULL DEFAULT now()
);
INSERT INTO event_types (name, weight, description, builtin) VALUES
    ('like', 5, 'the user liked the item', true),
    ('click', 2, 'the user opened the item', true),
    ('view_time', 1, 'the user viewed the item for duration_seconds (1 per 120 s, up to 3)', true),
    ('skip', -1, 'the user passed the item over', true);

-- Any defined type is accepted now: the service checks the name against event_types (under a key-share
-- lock, so that a type cannot be deleted while an event naming it is written); feedback keeps its check.
ALTER TABLE interactions DROP CONSTRAINT interactions_kind_type_check;
ALTER TABLE interactions ADD CONSTRAINT interactions_kind_type_check CHECK (
    (kind = 'interaction' AND event_type ~ '^[a-z0-9_]{1,40}$')
    OR (kind = 'feedback' AND event_type IN ('positive', 'negative', 'neutral'))
) NOT VALID;

-- Per item and hour: its positive events (types with a positive weight when the hour was rolled up, and
-- positive feedback). Kept for the last nine days (a week of baseline before a window of up to 48 hours).
CREATE TABLE item_hourly_engagement (
    content_id text        NOT NULL,
    hour       timestamptz NOT NULL,
    events     integer     NOT NULL CHECK (events > 0),
    PRIMARY KEY (content_id, hour)
);
CREATE INDEX item_hourly_engagement_hour_idx ON item_hourly_engagement (hour);

-- The rollup's watermark: every hour before rolled_until is in item_hourly_engagement.
CREATE TABLE item_hourly_engagement_state (
    id           boolean     PRIMARY KEY DEFAULT true CHECK (id),
    rolled_until timestamptz NOT NULL
);

-- "Does any event use this custom type" (DELETE /event-types/{name}) as an index probe: only events of
-- custom types are indexed, so the built-ins' writes cost nothing more.
CREATE INDEX interactions_custom_type_idx ON interactions (event_type)
    WHERE event_type NOT IN ('like', 'click', 'view_time', 'skip', 'positive', 'negative', 'neutral');

-- GET /recommendations/trending logs its answers as the other lists do.
ALTER TABLE impressions DROP CONSTRAINT impressions_endpoint_check;
ALTER TABLE impressions ADD CONSTRAINT impressions_endpoint_check
    CHECK (endpoint IN ('recommend', 'popular', 'similar', 'trending')) NOT VALID;
