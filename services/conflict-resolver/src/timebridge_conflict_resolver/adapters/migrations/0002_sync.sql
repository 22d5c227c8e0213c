-- Where an observed entry is in its own system (a day record is found by task, user and day).
ALTER TABLE observations ADD COLUMN task_external_id text, ADD COLUMN user_external_id text;

-- Target records Timebridge manages: written by it, or linked as the same work (match by
-- timestamp). `confirmed` is the record as last read back (null: confirmed absent), the
-- baseline that tells a change made in the target from Timebridge's own write.
CREATE TABLE sync_targets (
    integration_id text        NOT NULL,
    system         text        NOT NULL,
    key            text        NOT NULL,  -- a day record: task|user|date; an entry: <source>:<entry id>
    workspace_id   text        NOT NULL,
    target_id      text,
    confirmed      jsonb,
    confirmed_at   timestamptz,           -- the record's own last change when confirmed
    origin         text        NOT NULL CHECK (origin IN ('written', 'linked')),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, system, key)
);
CREATE INDEX sync_targets_by_id ON sync_targets (integration_id, system, target_id);

-- One row per source entry: the target record it lands in and what was last written for it.
-- The active links of one day record are the entries whose seconds it sums.
CREATE TABLE sync_links (
    integration_id    text        NOT NULL,
    source            text        NOT NULL,
    source_id         text        NOT NULL,
    workspace_id      text        NOT NULL,
    target            text        NOT NULL,
    target_key        text        NOT NULL,
    written           jsonb       NOT NULL,
    source_updated_at timestamptz NOT NULL,
    active            boolean     NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, source, source_id)
);
CREATE INDEX sync_links_by_target ON sync_links (integration_id, target, target_key) WHERE active;

-- Write leases: taken before a target record is read, holding the planned write while the
-- provider call is under way; released by the transaction that records the outcome.
CREATE TABLE sync_intents (
    integration_id text        NOT NULL,
    system         text        NOT NULL,
    key            text        NOT NULL,
    owner          uuid        NOT NULL,  -- the event id (or the resolution) writing
    operation      text,
    planned        jsonb,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, system, key)
);
CREATE INDEX sync_intents_by_owner ON sync_intents (owner);

-- The review queue: one open conflict per source entry, with both versions.
CREATE TABLE conflicts (
    conflict_id        uuid        PRIMARY KEY,
    workspace_id       text        NOT NULL,
    integration_id     text        NOT NULL,
    source             text        NOT NULL,
    source_id          text        NOT NULL,
    target             text        NOT NULL,
    target_external_id text,
    kind               text        NOT NULL,
    reason             text        NOT NULL,
    event              jsonb       NOT NULL,  -- the EntryMapped to replay when resolved
    cause              jsonb       NOT NULL,  -- its envelope (CloudEvents headers)
    source_version     jsonb,
    target_version     jsonb,
    status             text        NOT NULL DEFAULT 'open',
    resolution         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    resolved_at        timestamptz
);
CREATE UNIQUE INDEX conflicts_open ON conflicts (integration_id, source, source_id)
    WHERE status = 'open';
CREATE INDEX conflicts_by_integration ON conflicts (workspace_id, integration_id, status);
