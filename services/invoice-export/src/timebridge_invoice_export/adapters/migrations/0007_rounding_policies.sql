-- Rounding of billed time, a versioned policy per client (client_id) or for the workspace
-- (client_id ''). Every change is a new version; old versions stay, since invoice lines name
-- the version that rounded them (in invoices.lines).
CREATE TABLE rounding_policies (
    workspace_id      text        NOT NULL,
    client_id         text        NOT NULL DEFAULT '',
    version           integer     NOT NULL CHECK (version >= 1),
    increment_minutes integer     NOT NULL CHECK (increment_minutes BETWEEN 0 AND 60),
    applies_to        text        NOT NULL CHECK (applies_to IN ('per_entry', 'per_line')),
    created_at        timestamptz NOT NULL,
    created_by        text        NOT NULL,
    PRIMARY KEY (workspace_id, client_id, version)
);

-- What the customer owes in all, tax included, as the tool reports it: payments settle this
-- (tool_total stays the amount before tax, comparable with what was exported). NULL: not read
-- yet, the balance then falls back to tool_total.
ALTER TABLE invoices ADD COLUMN tool_gross_total numeric(18,4);

-- What payments settled beyond that total (a credit with the customer), never a negative balance.
ALTER TABLE invoices ADD COLUMN overpaid numeric(18,4) NOT NULL DEFAULT 0;
