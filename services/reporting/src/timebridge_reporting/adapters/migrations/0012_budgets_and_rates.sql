-- Budgets as the contracts service announces them (BudgetChanged): the latest per budget, by
-- (revision, changed_at), so a redelivered or older announcement changes nothing (no inbox).
CREATE TABLE report_budgets (
    workspace_id text        NOT NULL,
    budget_id    text        NOT NULL,
    revision     integer     NOT NULL,
    target_kind  text        NOT NULL,
    target_id    text        NOT NULL,
    contract_id  text,
    items        jsonb       NOT NULL,
    unit         text        NOT NULL,
    amount       numeric     NOT NULL,
    currency     text,
    period       text        NOT NULL,
    changed_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, budget_id)
);

-- What each exported invoice's time lines billed per project: hours, amount and where the rates
-- came from (InvoiceLine.rate_source). The performance report prices budgets with it and the
-- billing report shows the rate source.
CREATE TABLE report_invoice_rates (
    workspace_id text    NOT NULL,
    invoice_id   text    NOT NULL,
    project_id   text    NOT NULL,
    currency     text    NOT NULL,
    hours        numeric NOT NULL,
    amount       numeric NOT NULL,
    rate_sources text[]  NOT NULL,
    PRIMARY KEY (workspace_id, invoice_id, project_id)
);
