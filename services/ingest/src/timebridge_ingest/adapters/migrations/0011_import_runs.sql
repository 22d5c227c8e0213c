-- Imports of a tracker's history (issue 11): an integration's initial import from a start date,
-- or a backfill of a period an admin asks for. A run covers its dates window by window, oldest
-- first, and records its progress after each window (days covered, entries observed), so the
-- console shows real progress and a restarted replica resumes at the first day not covered.
CREATE TABLE import_runs (
    import_id        text        PRIMARY KEY,
    workspace_id     text        NOT NULL,
    integration_id   text        NOT NULL,
    kind             text        NOT NULL,
    from_date        date        NOT NULL,
    to_date          date        NOT NULL,
    window_days      integer     NOT NULL,
    covered_until    date,
    days_done        integer     NOT NULL DEFAULT 0,
    windows_done     integer     NOT NULL DEFAULT 0,
    entries_observed integer     NOT NULL DEFAULT 0,
    state            text        NOT NULL,
    last_error       text,
    requested_at     timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    next_attempt_at  timestamptz NOT NULL,
    lease_until      timestamptz
);
CREATE INDEX import_runs_of_integration ON import_runs (integration_id, requested_at DESC);
CREATE INDEX import_runs_due ON import_runs (next_attempt_at)
    WHERE state IN ('queued', 'running', 'waiting');
-- One unfinished run per integration: a second request while one runs is refused (409).
CREATE UNIQUE INDEX import_runs_one_active ON import_runs (integration_id)
    WHERE state IN ('queued', 'running', 'waiting');
