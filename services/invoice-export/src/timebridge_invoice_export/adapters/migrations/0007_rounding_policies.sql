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
