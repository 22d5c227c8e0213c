-- Reports requested by email: one row per received message (its Message-ID), whatever came of
-- it, so a message delivered twice is answered once and unknown senders leave a trace but no mail.
CREATE TABLE report_requests (
    workspace_id text        NOT NULL,
    message_id   text        NOT NULL,
    sender       text        NOT NULL,
    subject      text        NOT NULL,
    outcome      text        NOT NULL,
    run_id       text,
    detail       text,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, message_id)
);
