-- An OAuth tracker connected from the console (issue 11): the one-time state of a consent in
-- progress, kept ~10 minutes. Only its SHA-256 is stored (the state itself travels in the
-- browser's URLs); it is deleted when the provider's callback spends it, so a replayed or
-- expired callback finds nothing. It carries what the admin chose (settings, connection fields:
-- nothing secret); the code and tokens never come here.
CREATE TABLE oauth_states (
    state_hash   text        PRIMARY KEY,
    workspace_id text        NOT NULL,
    provider     text        NOT NULL,
    admin_id     text        NOT NULL,
    settings     jsonb       NOT NULL,
    fields       jsonb       NOT NULL,
    redirect_uri text        NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
