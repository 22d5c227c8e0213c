-- Reports' read models, fed only by events (TimeEntryLogged, ClientChanged, InvoiceExported).
-- One row per entry of every source: its latest version (the source's updated_at decides).
CREATE TABLE report_entries (
    workspace_id   text        NOT NULL,
    source         text        NOT NULL,
    external_id    text        NOT NULL,
    integration_id text,
    user_id        text        NOT NULL,
    user_email     text,
    user_name      text,
    project_id     text        NOT NULL DEFAULT '',
    task_id        text,
    work_date      date        NOT NULL,
    seconds        integer     NOT NULL,
    billable       boolean     NOT NULL,
    running        boolean     NOT NULL DEFAULT false,
    deleted        boolean     NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, source, external_id)
);
CREATE INDEX report_entries_by_day ON report_entries (workspace_id, source, work_date);

-- Rollups per (workspace, source, user, project, day), maintained with every fact: a new version
-- of an entry subtracts the old one and adds itself, a delete only subtracts. Reports over a
-- month read these rows instead of the entries.
CREATE TABLE report_rollups (
    workspace_id     text    NOT NULL,
    source           text    NOT NULL,
    user_id          text    NOT NULL,
    project_id       text    NOT NULL,
    work_date        date    NOT NULL,
    seconds          bigint  NOT NULL,
    billable_seconds bigint  NOT NULL,
    entries          integer NOT NULL,
    PRIMARY KEY (workspace_id, work_date, source, user_id, project_id)
);

-- Who a project bills to (from invoices' lines) and clients' names (from the client mirror).
CREATE TABLE report_project_clients (
    workspace_id text NOT NULL,
    project_id   text NOT NULL,
    client_id    text NOT NULL,
    PRIMARY KEY (workspace_id, project_id)
);
CREATE TABLE report_clients (
    workspace_id text    NOT NULL,
    client_id    text    NOT NULL,
    name         text    NOT NULL,
    revision     integer NOT NULL,
    PRIMARY KEY (workspace_id, client_id)
);
-- Invoiced amounts per invoice and project (time and expense lines), for the billing report.
CREATE TABLE report_invoice_amounts (
    workspace_id text    NOT NULL,
    invoice_id   text    NOT NULL,
    project_id   text    NOT NULL,
    client_id    text    NOT NULL,
    amount       numeric NOT NULL,
    PRIMARY KEY (workspace_id, invoice_id, project_id)
);

-- Freshness: the time up to which each workspace's events have been seen.
CREATE TABLE report_freshness (
    workspace_id text        PRIMARY KEY,
    seen_up_to   timestamptz NOT NULL
);
