-- This service's copy of every connection, from the compacted ConnectionChanged topic.
CREATE TABLE connections (
    connection_id text        PRIMARY KEY,
    workspace_id  text        NOT NULL,
    provider      text        NOT NULL,
    status        text        NOT NULL,
    revision      integer     NOT NULL,
    state         jsonb       NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_by_workspace ON connections (workspace_id, provider);
