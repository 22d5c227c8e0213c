-- Where billing takes its rates from: Timebridge's own (integration_id NULL) or a tracker
-- integration's, per workspace (client_id '') or per client (beats the workspace's).
CREATE TABLE rate_sources (
    workspace_id   text        NOT NULL,
    client_id      text        NOT NULL DEFAULT '',
    integration_id text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, client_id)
);

-- The rates a tracker holds, in Core's project and user ids, as last read from it (a snapshot
-- replaced whole on each read).
CREATE TABLE tracker_rates (
    workspace_id   text          NOT NULL,
    integration_id text          NOT NULL,
    rate_id        text          NOT NULL,
    project_id     text,
    user_id        text,
    hourly_rate    numeric(18,4) NOT NULL CHECK (hourly_rate >= 0),
    currency       text          NOT NULL,
    read_at        timestamptz   NOT NULL,
    PRIMARY KEY (workspace_id, integration_id, rate_id),
    CHECK (project_id IS NOT NULL OR user_id IS NOT NULL)
);
CREATE UNIQUE INDEX tracker_rates_one_per_scope
    ON tracker_rates (workspace_id, integration_id, coalesce(project_id, ''), coalesce(user_id, ''));
