-- Hours that can be invoiced: confirmed synced, billable entries. invoice_id locks an entry.
CREATE TABLE billable_entries (
    workspace_id        text        NOT NULL,
    source              text        NOT NULL,
    source_external_id  text        NOT NULL,
    user_email          text,
    project_external_id text,
    task_external_id    text,
    date                date        NOT NULL,
    duration_seconds    integer     NOT NULL,
    notes               text        NOT NULL,
    source_updated_at   timestamptz NOT NULL,
    removed             boolean     NOT NULL DEFAULT false,
    invoice_id          text,
    PRIMARY KEY (workspace_id, source, source_external_id)
);

-- Changes that arrived for entries already on an exported invoice (applied nowhere, shown to
-- the user as a warning).
CREATE TABLE locked_entry_changes (
    workspace_id       text        NOT NULL,
    source             text        NOT NULL,
    source_external_id text        NOT NULL,
    invoice_id         text        NOT NULL,
    source_updated_at  timestamptz NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, source, source_external_id, source_updated_at)
);
