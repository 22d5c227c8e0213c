-- Contracts, scopes, budgets (versioned), milestones, and the entries budgets count.

CREATE TABLE clients (
    workspace_id text NOT NULL,
    client_id    text NOT NULL,
    display_name text NOT NULL,
    provider     text NOT NULL,
    status       text NOT NULL,
    revision     int  NOT NULL,
    PRIMARY KEY (workspace_id, client_id)
);

CREATE TABLE contracts (
    workspace_id    text        NOT NULL,
    contract_id     text        NOT NULL,
    client_id       text,
    client_name     text        NOT NULL,
    title           text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('draft', 'signed', 'active', 'ended')),
    signed_at       timestamptz,
    start_date      date,
    end_date        date,
    currency        text        NOT NULL,
    rate_card       jsonb       NOT NULL DEFAULT '[]',
    rounding_policy text,
    revision        int         NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, contract_id)
);

CREATE TABLE scopes (
    workspace_id text        NOT NULL,
    scope_id     text        NOT NULL,
    contract_id  text        NOT NULL,
    name         text        NOT NULL,
    items        jsonb       NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, scope_id),
    FOREIGN KEY (workspace_id, contract_id) REFERENCES contracts (workspace_id, contract_id)
);

-- The current revision of each budget; every revision is kept in budget_revisions.
CREATE TABLE budgets (
    workspace_id text           NOT NULL,
    budget_id    text           NOT NULL,
    target_kind  text           NOT NULL CHECK (target_kind IN ('contract', 'scope', 'project')),
    target_id    text           NOT NULL,
    contract_id  text,
    unit         text           NOT NULL CHECK (unit IN ('hours', 'money')),
    amount       numeric(18, 4) NOT NULL CHECK (amount >= 0),
    period       text           NOT NULL CHECK (period IN ('total', 'monthly')),
    thresholds   int[]          NOT NULL,
    currency     text,
    revision     int            NOT NULL,
    updated_at   timestamptz    NOT NULL,
    PRIMARY KEY (workspace_id, budget_id)
);

CREATE TABLE budget_revisions (
    workspace_id text           NOT NULL,
    budget_id    text           NOT NULL,
    revision     int            NOT NULL,
    unit         text           NOT NULL,
    amount       numeric(18, 4) NOT NULL,
    period       text           NOT NULL,
    thresholds   int[]          NOT NULL,
    currency     text,
    changed_at   timestamptz    NOT NULL,
    changed_by   text,
    PRIMARY KEY (workspace_id, budget_id, revision)
);

-- Thresholds fired (and not re-armed) per budget revision and period.
CREATE TABLE budget_fired (
    workspace_id text        NOT NULL,
    budget_id    text        NOT NULL,
    revision     int         NOT NULL,
    period_key   text        NOT NULL,
    threshold    int         NOT NULL,
    crossed_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, budget_id, revision, period_key, threshold)
);

-- Each Core entry's latest version: what budgets count (deleted = 0 seconds).
CREATE TABLE entries (
    workspace_id text        NOT NULL,
    entry_id     text        NOT NULL,
    project_id   text,
    ticket_id    text,
    user_id      text,
    day          date        NOT NULL,
    seconds      int         NOT NULL,
    billable     boolean     NOT NULL,
    updated_at   timestamptz NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (workspace_id, entry_id)
);
CREATE INDEX entries_by_project ON entries (workspace_id, project_id, day);

CREATE TABLE milestones (
    workspace_id text        NOT NULL,
    project_id   text        NOT NULL,
    milestone_id text        NOT NULL,
    title        text        NOT NULL,
    contract_id  text,
    due_date     date,
    reached_at   timestamptz,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, project_id, milestone_id)
);

-- Which Core entries an exported invoice billed (to link later status changes to entries).
CREATE TABLE invoice_entries (
    workspace_id text   NOT NULL,
    invoice_id   text   NOT NULL,
    entry_ids    text[] NOT NULL,
    PRIMARY KEY (workspace_id, invoice_id)
);
