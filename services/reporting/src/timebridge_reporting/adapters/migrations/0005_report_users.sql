-- Users' display names for reports (the latest name or email an entry carried), so reports never
-- scan every entry for them.
CREATE TABLE report_users (
    workspace_id text NOT NULL,
    user_id      text NOT NULL,
    name         text NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
