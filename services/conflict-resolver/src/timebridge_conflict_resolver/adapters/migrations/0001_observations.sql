-- Every entry seen on any side, indexed for match-by-timestamp (same person, same day).
CREATE TABLE observations (
    workspace_id     text        NOT NULL,
    source           text        NOT NULL,
    external_id      text        NOT NULL,
    person           text        NOT NULL,
    date             date        NOT NULL,
    started_at       timestamptz,
    duration_seconds integer     NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted          boolean     NOT NULL,
    PRIMARY KEY (workspace_id, source, external_id)
);
CREATE INDEX observations_person_day ON observations (workspace_id, person, date);
