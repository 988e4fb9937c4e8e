-- The Personalize-compatible surface (dummi.api.personalize): filters made through the control plane's
-- CreateFilter, SigV4 credentials (the secret sealed by dummi.services.secret_box, never in plain text), and
-- what PutEvents and GetRecommendations carry that Dummi's own tables have no column for.
CREATE TABLE personalize_filters (
    filter_arn         text PRIMARY KEY,
    name               text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),
    dataset_group_arn  text        NOT NULL,
    filter_expression  text        NOT NULL CHECK (length(filter_expression) BETWEEN 1 AND 2500),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sigv4_keys (
    access_key_id  text PRIMARY KEY CHECK (access_key_id ~ '^DK[A-Z0-9]{18}$'),
    name           text        NOT NULL DEFAULT '',
    scopes         text[]      NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']),
    secret_sealed  text        NOT NULL,  -- dsb1:<key id>:<AES-GCM of the secret, bound to access_key_id>
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);

-- PutEvents' fields beyond Dummi's event: the session, the value as sent, the impression list, the event's
-- own properties. Goes with its interaction.
CREATE TABLE personalize_events (
    interaction_id  bigint PRIMARY KEY REFERENCES interactions (interaction_id) ON DELETE CASCADE,
    session_id      text  NOT NULL,
    event_type      text  NOT NULL,  -- as sent (the interaction holds the mapped type)
    event_value     double precision,
    impression      text[],
    properties      jsonb
);
CREATE INDEX personalize_events_session ON personalize_events (session_id);

-- GetRecommendations' context (device, surface, ...), kept with the logged answer.
CREATE TABLE impression_contexts (
    recommendation_id  uuid PRIMARY KEY REFERENCES impressions (recommendation_id) ON DELETE CASCADE,
    context            jsonb NOT NULL
);
