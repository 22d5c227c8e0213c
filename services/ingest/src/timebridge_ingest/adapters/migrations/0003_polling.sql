-- When each connection is polled next. A replica takes a due row with FOR UPDATE SKIP LOCKED
-- and moves next_poll_at forward before polling, so one replica polls a connection at a time.
CREATE TABLE poll_schedule (
    connection_id  text        PRIMARY KEY,
    workspace_id   text        NOT NULL,
    next_poll_at   timestamptz NOT NULL,
    last_polled_at timestamptz,
    last_error     text,
    cursor         text
);

-- What the last poll of a tracker saw, to tell new, changed and deleted records apart.
CREATE TABLE poll_seen (
    connection_id text    NOT NULL,
    record_id     text    NOT NULL,
    record_date   date    NOT NULL,
    fingerprint   text    NOT NULL,
    user_id       bigint  NOT NULL,
    task_id       text,
    PRIMARY KEY (connection_id, record_id)
);
