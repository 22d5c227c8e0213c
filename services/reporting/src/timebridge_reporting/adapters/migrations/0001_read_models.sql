-- The sync log: one row per EntrySynced event, as published.
CREATE TABLE sync_log (
    event_id           uuid        PRIMARY KEY,
    workspace_id       text        NOT NULL,
    integration_id     text        NOT NULL,
    source             text        NOT NULL,
    source_external_id text        NOT NULL,
    target             text        NOT NULL,
    target_external_id text,
    status             text        NOT NULL,
    operation          text        NOT NULL,
    reason             text,
    provider_response  text,
    user_email         text,
    source_updated_at  timestamptz NOT NULL,
    synced_at          timestamptz NOT NULL
);
CREATE INDEX sync_log_by_integration ON sync_log (workspace_id, integration_id, synced_at DESC);

-- Exported invoices as announced by invoice-export.
CREATE TABLE invoices (
    workspace_id        text        NOT NULL,
    invoice_id          text        NOT NULL,
    provider            text        NOT NULL,
    provider_invoice_id text        NOT NULL,
    number              text,
    currency            text        NOT NULL,
    total               numeric     NOT NULL,
    period_start        date        NOT NULL,
    period_end          date        NOT NULL,
    status              text        NOT NULL,
    exported_at         timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, invoice_id)
);
