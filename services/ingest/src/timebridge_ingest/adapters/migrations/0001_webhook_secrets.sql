CREATE TABLE webhook_secrets (
    workspace_id text        NOT NULL,
    source       text        NOT NULL,
    secret_enc   text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, source)
);
