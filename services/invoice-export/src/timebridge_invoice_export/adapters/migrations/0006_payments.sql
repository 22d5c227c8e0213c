-- Payments of exported invoices as read from the accounting tool: one row per payment and
-- invoice it settles (a tool's payment may settle several). A sighting equal to the row changes
-- nothing; a change raises revision, which names the PaymentRecorded it published.
CREATE TABLE invoice_payments (
    connection_id       text          NOT NULL,
    provider_payment_id text          NOT NULL,
    provider_invoice_id text          NOT NULL,
    invoice_id          text          NOT NULL REFERENCES invoices (invoice_id),
    state               text          NOT NULL CHECK (state IN ('recorded', 'voided', 'deleted')),
    paid_on             date          NOT NULL,
    currency            text          NOT NULL,
    payment_amount      numeric(18,4) NOT NULL,
    applied_amount      numeric(18,4) NOT NULL,
    unapplied_amount    numeric(18,4) NOT NULL,
    revision            integer       NOT NULL CHECK (revision >= 1),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, provider_payment_id, provider_invoice_id)
);

CREATE INDEX invoice_payments_by_invoice ON invoice_payments (invoice_id);
