-- Billing in reports (the accounting article: "we mark time entries as invoiced and this data
-- will be available in reports"): the invoice each Core entry is on, and the invoices' status as
-- the accounting tool shows it.
ALTER TABLE invoices
    ADD COLUMN tool_status    text,
    ADD COLUMN tool_total     numeric,
    ADD COLUMN amount_changed boolean     NOT NULL DEFAULT false,
    ADD COLUMN changed_at     timestamptz,
    ADD COLUMN deleted_at     timestamptz;

CREATE TABLE invoiced_entries (
    workspace_id text        NOT NULL,
    entry_id     text        NOT NULL,
    invoice_id   text        NOT NULL,
    invoiced_at  timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, entry_id)
);
CREATE INDEX invoiced_entries_of_invoice ON invoiced_entries (workspace_id, invoice_id);
