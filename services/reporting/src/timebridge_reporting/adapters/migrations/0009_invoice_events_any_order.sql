-- Invoice events come on three topics, so in any order: a status change or a deletion handled
-- before the export it follows waits here and is applied when the export arrives.
CREATE TABLE invoice_changes_early (
    workspace_id   text        NOT NULL,
    invoice_id     text        NOT NULL,
    tool_status    text,
    number         text,
    tool_total     numeric,
    amount_changed boolean,
    changed_at     timestamptz,
    deleted_at     timestamptz,
    PRIMARY KEY (workspace_id, invoice_id)
);
