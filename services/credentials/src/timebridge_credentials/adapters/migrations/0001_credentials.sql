-- Every provider credential of every workspace, sealed (AES-256-GCM, associated data naming the
-- workspace, connection and column). extra holds ids a request names (account, tenant, realm):
-- not secrets.
CREATE TABLE credentials (
    workspace_id      text        NOT NULL,
    connection_id     text        NOT NULL,
    provider          text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('api_key', 'oauth2')),
    base_url          text        NOT NULL DEFAULT '',
    extra             jsonb       NOT NULL DEFAULT '{}',
    secret_sealed     text,
    access_sealed     text,
    refresh_sealed    text,
    expires_at        timestamptz,
    state             text        NOT NULL DEFAULT 'ok'
                                  CHECK (state IN ('ok', 'needs_reauthorisation')),
    last_error        text,
    last_error_at     timestamptz,
    last_refreshed_at timestamptz,
    revision          integer     NOT NULL DEFAULT 1,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, connection_id),
    CHECK ((kind = 'api_key' AND secret_sealed IS NOT NULL)
        OR (kind = 'oauth2' AND access_sealed IS NOT NULL AND refresh_sealed IS NOT NULL
            AND expires_at IS NOT NULL))
);
