-- A workspace's Core connection (registered by the platform admin).
CREATE TABLE workspaces (
    workspace_id   text        PRIMARY KEY,
    core_base_url  text        NOT NULL,
    core_token_enc text        NOT NULL,
    revision       integer     NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Tracker integrations (Everhour, ...). The API key is encrypted; hook_token is the unguessable
-- path segment of the URL the tracker delivers webhooks to.
CREATE TABLE integrations (
    integration_id text        PRIMARY KEY,
    workspace_id   text        NOT NULL REFERENCES workspaces (workspace_id),
    provider       text        NOT NULL,
    base_url       text        NOT NULL,
    api_key_enc    text,
    status         text        NOT NULL,
    settings       jsonb       NOT NULL,
    account        jsonb       NOT NULL DEFAULT '{}',
    hook_id        text,
    hook_token     text        UNIQUE,
    revision       integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integrations_by_workspace ON integrations (workspace_id);

-- Webhook URLs handed to a tracker before the integration row exists: the tracker calls them
-- back (handshake) while we are still waiting for its answer to the registration.
CREATE TABLE pending_hooks (
    hook_token   text        PRIMARY KEY,
    workspace_id text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
