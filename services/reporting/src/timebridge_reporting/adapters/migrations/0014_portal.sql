-- The portal of report recipients: sign-in link requests (answered alike whether or not the
-- address is known), one-time links and portal sessions. Tokens are stored only as their
-- SHA-256: a copy of this database does not let anyone sign in.
CREATE TABLE portal_link_requests (
    request_id      text        PRIMARY KEY,
    workspace_id    text        NOT NULL,
    email           text        NOT NULL,
    requested_at    timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text
);
CREATE INDEX portal_link_requests_due ON portal_link_requests (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX portal_link_requests_by_address
    ON portal_link_requests (workspace_id, email, requested_at DESC);

CREATE TABLE portal_links (
    token_hash   bytea       PRIMARY KEY,
    request_id   text        NOT NULL REFERENCES portal_link_requests (request_id),
    workspace_id text        NOT NULL,
    email        text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

CREATE TABLE portal_sessions (
    token_hash   bytea       PRIMARY KEY,
    workspace_id text        NOT NULL,
    email        text        NOT NULL,
    clients      text[],
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
