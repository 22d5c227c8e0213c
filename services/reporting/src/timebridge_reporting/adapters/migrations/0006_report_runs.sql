-- Report definitions, their runs (one per definition and period or cause: the unique run_key makes
-- schedules and triggers fire once across replicas and restarts), rendered outputs, deliveries.
CREATE TABLE report_definitions (
    workspace_id  text        NOT NULL,
    definition_id text        NOT NULL,
    name          text        NOT NULL,
    body          jsonb       NOT NULL,
    next_fire_at  timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    PRIMARY KEY (workspace_id, definition_id)
);
CREATE UNIQUE INDEX report_definitions_name ON report_definitions (workspace_id, lower(name))
    WHERE deleted_at IS NULL;
CREATE INDEX report_definitions_due ON report_definitions (next_fire_at)
    WHERE deleted_at IS NULL AND next_fire_at IS NOT NULL;

CREATE TABLE report_runs (
    run_id        text        PRIMARY KEY,
    workspace_id  text        NOT NULL,
    definition_id text        NOT NULL DEFAULT '',
    run_key       text        NOT NULL,
    cause         text        NOT NULL,
    params        jsonb       NOT NULL,
    formats       text[]      NOT NULL,
    recipients    text[]      NOT NULL,
    period_start  date        NOT NULL,
    period_end    date        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending',
    attempts      integer     NOT NULL DEFAULT 0,
    error         text,
    fresh_up_to   timestamptz,
    requested_at  timestamptz NOT NULL,
    not_before    timestamptz NOT NULL,
    finished_at   timestamptz,
    UNIQUE (workspace_id, definition_id, run_key)
);
CREATE INDEX report_runs_pending ON report_runs (not_before) WHERE status = 'pending';
CREATE INDEX report_runs_history ON report_runs (workspace_id, requested_at DESC);

CREATE TABLE report_outputs (
    run_id text  NOT NULL REFERENCES report_runs (run_id),
    format text  NOT NULL,
    body   bytea NOT NULL,
    PRIMARY KEY (run_id, format)
);

-- One delivery per run and recipient; idempotency_key = definition, period (or cause), recipient.
CREATE TABLE report_deliveries (
    idempotency_key text        PRIMARY KEY,
    run_id          text        NOT NULL REFERENCES report_runs (run_id),
    workspace_id    text        NOT NULL,
    recipient       text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz,
    message_id      text        NOT NULL
);
CREATE INDEX report_deliveries_due ON report_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX report_deliveries_of_run ON report_deliveries (run_id);
