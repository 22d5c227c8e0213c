-- invoice-export's own database: accounting connections, the client mirror, projects and rates,
-- the billable ledger (Core's time entries), expenses and invoices.

-- One company of one accounting tool, connected by a workspace admin through OAuth2.
CREATE TABLE accounting_connections (
    connection_id    text        PRIMARY KEY,
    workspace_id     text        NOT NULL,
    provider         text        NOT NULL CHECK (provider IN ('quickbooks', 'xero', 'freshbooks')),
    status           text        NOT NULL
                     CHECK (status IN ('choose_tenant', 'connected', 'needs_reauthorization',
                                       'disconnected')),
    tenant_id        text,
    tenant_name      text,
    tenants          jsonb       NOT NULL DEFAULT '[]',
    -- AES-256-GCM (platform key, bound to the connection id) of the access and refresh tokens.
    tokens_encrypted text,
    tokens_saved_at  timestamptz,
    -- FreshBooks callbacks: {"<callback id>": "<encrypted verifier>"}.
    webhook_verifiers jsonb      NOT NULL DEFAULT '{}',
    webhooks_registered_at timestamptz,
    mirrored_at      timestamptz,
    changes_cursor   timestamptz,
    next_poll_at     timestamptz NOT NULL DEFAULT now(),
    last_poll_at     timestamptz,
    last_error       text,
    connected_by     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX connections_one_per_company
    ON accounting_connections (workspace_id, provider, tenant_id) WHERE tenant_id IS NOT NULL;
CREATE INDEX connections_by_tenant ON accounting_connections (provider, tenant_id);

-- The state parameter of an authorization in progress: used once, expires.
CREATE TABLE oauth_states (
    state        text        PRIMARY KEY,
    workspace_id text        NOT NULL,
    provider     text        NOT NULL,
    redirect_uri text        NOT NULL,
    requested_by text        NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

CREATE TABLE clients (
    client_id              text        PRIMARY KEY,
    workspace_id           text        NOT NULL,
    connection_id          text        NOT NULL REFERENCES accounting_connections,
    provider               text        NOT NULL,
    external_id            text        NOT NULL,
    name                   text        NOT NULL,
    email                  text,
    address                jsonb,
    tax                    jsonb       NOT NULL DEFAULT '{}',
    currency               text,
    active_in_tool         boolean     NOT NULL,
    archived_in_timebridge boolean     NOT NULL DEFAULT false,
    source_updated_at      timestamptz,
    revision               integer     NOT NULL,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (connection_id, external_id)
);
CREATE INDEX clients_of_workspace ON clients (workspace_id, name);

-- Core projects assigned to clients (the article's "assign projects to these clients").
CREATE TABLE projects (
    workspace_id text        NOT NULL,
    project_id   text        NOT NULL,
    name         text        NOT NULL,
    client_id    text        NOT NULL REFERENCES clients,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, project_id)
);

CREATE TABLE rates (
    rate_id      text          PRIMARY KEY,
    workspace_id text          NOT NULL,
    project_id   text,
    user_id      text,
    hourly_rate  numeric(18,4) NOT NULL CHECK (hourly_rate >= 0),
    currency     text          NOT NULL,
    updated_at   timestamptz   NOT NULL DEFAULT now(),
    CHECK (project_id IS NOT NULL OR user_id IS NOT NULL)
);
CREATE UNIQUE INDEX rates_one_per_scope
    ON rates (workspace_id, coalesce(project_id, ''), coalesce(user_id, ''));

-- The billable ledger: Core's time entries, newest version each; invoice_id reserves an entry
-- for a draft and, once exported, locks it.
CREATE TABLE time_entries (
    workspace_id      text        NOT NULL,
    entry_id          text        NOT NULL,
    user_id           text        NOT NULL,
    user_email        text,
    user_name         text,
    project_id        text,
    ticket_id         text,
    date              date        NOT NULL,
    duration_seconds  integer     NOT NULL,
    notes             text        NOT NULL,
    billable          boolean     NOT NULL,
    deleted           boolean     NOT NULL,
    source_updated_at timestamptz NOT NULL,
    invoice_id        text,
    PRIMARY KEY (workspace_id, entry_id)
);
CREATE INDEX time_entries_uninvoiced ON time_entries (workspace_id, project_id, date)
    WHERE invoice_id IS NULL;
CREATE INDEX time_entries_of_invoice ON time_entries (invoice_id) WHERE invoice_id IS NOT NULL;

-- Changes Core reported for entries already on an exported invoice: not applied, shown as
-- warnings on that invoice.
CREATE TABLE locked_entry_changes (
    workspace_id      text        NOT NULL,
    entry_id          text        NOT NULL,
    invoice_id        text        NOT NULL,
    source_updated_at timestamptz NOT NULL,
    duration_seconds  integer     NOT NULL,
    deleted           boolean     NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, entry_id, source_updated_at)
);

CREATE TABLE expenses (
    expense_id   text          PRIMARY KEY,
    workspace_id text          NOT NULL,
    project_id   text          NOT NULL,
    date         date          NOT NULL,
    description  text          NOT NULL,
    amount       numeric(18,4) NOT NULL CHECK (amount >= 0),
    currency     text          NOT NULL,
    billable     boolean       NOT NULL,
    invoice_id   text,
    created_at   timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX expenses_uninvoiced ON expenses (workspace_id, project_id, date)
    WHERE invoice_id IS NULL;

CREATE TABLE invoices (
    invoice_id          text          PRIMARY KEY,
    workspace_id        text          NOT NULL,
    client_id           text          NOT NULL REFERENCES clients,
    connection_id       text          NOT NULL REFERENCES accounting_connections,
    provider            text          NOT NULL,
    period_start        date          NOT NULL,
    period_end          date          NOT NULL,
    issue_date          date          NOT NULL,
    due_date            date,
    status              text          NOT NULL
                        CHECK (status IN ('draft', 'exporting', 'exported', 'export_failed',
                                          'deleted')),
    -- Frozen when the export is requested: what was sent to the tool.
    currency            text,
    lines               jsonb,
    total               numeric(18,4),
    export_requested_at timestamptz,
    export_attempt      integer       NOT NULL DEFAULT 0,
    export_error        text,
    exported_at         timestamptz,
    provider_invoice_id text,
    -- What the tool shows now.
    tool_status         text,
    number              text,
    tool_issue_date     date,
    tool_total          numeric(18,4),
    tool_updated_at     timestamptz,
    amount_changed      boolean       NOT NULL DEFAULT false,
    tool_checked_at     timestamptz,
    deleted_at          timestamptz,
    created_by          text          NOT NULL,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX invoices_by_tool_id ON invoices (connection_id, provider_invoice_id)
    WHERE provider_invoice_id IS NOT NULL;
CREATE INDEX invoices_of_workspace ON invoices (workspace_id, created_at);
CREATE INDEX invoices_exporting ON invoices (export_requested_at) WHERE status = 'exporting';
