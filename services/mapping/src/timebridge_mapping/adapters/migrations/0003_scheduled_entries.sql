-- Core entries waiting for their integration's next sync slot (frequency other than realtime).
-- One row per (integration, entry): later changes of the entry join the row and keep its due_at;
-- the slot maps the entry's newest version in source_entries once.
CREATE TABLE scheduled_entries (
    integration_id text        NOT NULL,
    workspace_id   text        NOT NULL,
    source         text        NOT NULL,
    external_id    text        NOT NULL,
    due_at         timestamptz NOT NULL,
    scheduled_at   timestamptz NOT NULL,
    PRIMARY KEY (integration_id, workspace_id, source, external_id)
);
CREATE INDEX scheduled_entries_by_due ON scheduled_entries (integration_id, due_at);
