-- Catalog and user lifecycle: item properties, take-downs (hidden, an availability window, deletes) and the
-- "catalog changes" read serving applies within seconds.

ALTER TABLE content
    -- a small object of string, number and boolean values (bounded by the API: 20 keys, 256 characters)
    ADD COLUMN properties      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
    -- soft take-down: readable by id, never in an answer
    ADD COLUMN hidden          boolean     NOT NULL DEFAULT false,
    -- outside [available_from, available_until) an item is not recommended (checked at request time)
    ADD COLUMN available_from  timestamptz,
    ADD COLUMN available_until timestamptz,
    -- when the stored vector was last written (NULL: never, or before this column existed)
    ADD COLUMN embedded_at     timestamptz,
    -- the last change that serving must see (fields, take-downs, a new vector): when, and by which
    -- transaction. Serving reads, every second, the rows written by transactions its previous read could not
    -- see: changed_xid >= the previous read's snapshot xmin (every older transaction had ended by then), so a
    -- transaction that commits late (a long import) is found, and nothing is read twice for long.
    ADD COLUMN changed_at      timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN changed_xid     xid8        NOT NULL DEFAULT pg_current_xact_id(),
    ADD CONSTRAINT content_window_check CHECK (
        available_from IS NULL OR available_until IS NULL OR available_until > available_from
    );
CREATE INDEX content_changed_idx ON content (changed_xid);

-- Deleted items, so that serving processes holding a model that still has the item drop it. Content ids
-- only (no personal data); removed again when the same id is created anew.
CREATE TABLE content_deletions (
    content_id   text PRIMARY KEY,
    deleted_at   timestamptz NOT NULL DEFAULT now(),
    deleted_xid  xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX content_deletions_xid_idx ON content_deletions (deleted_xid);
