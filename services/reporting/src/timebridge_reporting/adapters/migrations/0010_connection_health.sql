-- A connection's observation changing state (ConnectionHealthChanged): every change, for the
-- sync log ("the tracker rejected the API key at 10:02"), and the current state per connection.
CREATE TABLE connection_health_log (
    event_id          uuid        PRIMARY KEY,
    workspace_id      text        NOT NULL,
    connection_id     text        NOT NULL,
    integration_id    text,
    provider          text        NOT NULL,
    state             text        NOT NULL,
    previous_state    text,
    error_class       text,
    message           text,
    provider_response text,
    failures          integer     NOT NULL,
    changed_at        timestamptz NOT NULL
);
CREATE INDEX connection_health_log_by_time ON connection_health_log (workspace_id, changed_at DESC);

CREATE TABLE connection_health (
    workspace_id      text        NOT NULL,
    connection_id     text        NOT NULL,
    integration_id    text,
    provider          text        NOT NULL,
    state             text        NOT NULL,
    error_class       text,
    message           text,
    provider_response text,
    failures          integer     NOT NULL,
    changed_at        timestamptz NOT NULL,
    event_id          uuid        NOT NULL,
    PRIMARY KEY (workspace_id, connection_id)
);
