CREATE TABLE source_entries (
    workspace_id  text        NOT NULL,
    source        text        NOT NULL,
    external_id   text        NOT NULL,
    fields        jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted       boolean     NOT NULL,
    last_event_id uuid        NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, source, external_id)
);
