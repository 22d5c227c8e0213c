-- The status a user sees for each entry and target: always the last EntrySynced for it.
CREATE TABLE entry_status (
    workspace_id       text        NOT NULL,
    integration_id     text        NOT NULL,
    source             text        NOT NULL,
    source_external_id text        NOT NULL,
    target             text        NOT NULL,
    target_external_id text,
    status             text        NOT NULL,
    reason             text,
    synced_at          timestamptz NOT NULL,
    event_id           uuid        NOT NULL,
    PRIMARY KEY (workspace_id, integration_id, source, source_external_id, target)
);
CREATE INDEX entry_status_backlog ON entry_status (workspace_id, integration_id, status);
CREATE INDEX sync_log_by_entry ON sync_log (workspace_id, source, source_external_id);
