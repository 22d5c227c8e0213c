-- Project mapping per integration: one Core project <-> one tracker project.
CREATE TABLE project_mappings (
    integration_id     text        NOT NULL,
    core_project_id    text        NOT NULL,
    tracker_project_id text        NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, core_project_id),
    UNIQUE (integration_id, tracker_project_id)
);

-- Per Core project: the tracker task for tickets without a task of their own.
CREATE TABLE project_rules (
    integration_id  text        NOT NULL,
    core_project_id text        NOT NULL,
    default_task_id text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, core_project_id)
);

-- Both sides' users as last read through the connections' credentials.
CREATE TABLE directory_users (
    integration_id text NOT NULL,
    side           text NOT NULL CHECK (side IN ('core', 'tracker')),
    user_id        text NOT NULL,
    email          text,
    name           text,
    PRIMARY KEY (integration_id, side, user_id)
);

CREATE TABLE directory_refreshes (
    integration_id text        PRIMARY KEY,
    refreshed_at   timestamptz NOT NULL
);

-- Manual user mappings (email matches are computed from directory_users, never stored).
CREATE TABLE user_mappings (
    integration_id  text        NOT NULL,
    core_user_id    text        NOT NULL,
    tracker_user_id text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, core_user_id),
    UNIQUE (integration_id, tracker_user_id)
);

-- Core ticket <-> tracker task, set manually, by a title match or by creating the task.
CREATE TABLE task_links (
    integration_id     text        NOT NULL,
    core_ticket_id     text        NOT NULL,
    tracker_task_id    text        NOT NULL,
    tracker_project_id text,
    linked_by          text        NOT NULL CHECK (linked_by IN ('manual', 'title', 'created')),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, core_ticket_id),
    UNIQUE (integration_id, tracker_task_id)
);

-- Core tickets as last read (titles for matching and creating tasks).
CREATE TABLE tickets (
    workspace_id text        NOT NULL,
    ticket_id    text        NOT NULL,
    ticket       jsonb       NOT NULL,
    fetched_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, ticket_id)
);

-- Entries held until their user is mapped (unmapped-user policy "queue"); the entry itself is
-- the newest version in source_entries.
CREATE TABLE held_entries (
    integration_id text        NOT NULL,
    workspace_id   text        NOT NULL,
    source         text        NOT NULL,
    external_id    text        NOT NULL,
    reason         text        NOT NULL,
    held_at        timestamptz NOT NULL,
    PRIMARY KEY (integration_id, workspace_id, source, external_id)
);
