-- Provider-neutral observation state (issue 7). Webhook hints of any provider wait in one inbox,
-- keyed by the provider's record id as text; what a window poll saw moves into the poll's opaque
-- cursor (the provider package's JSON), so an upgraded poll still sees deletions since the last.
ALTER TABLE everhour_deliveries RENAME TO hook_deliveries;
ALTER INDEX everhour_deliveries_due RENAME TO hook_deliveries_due;
ALTER TABLE hook_deliveries ALTER COLUMN record_id TYPE text USING record_id::text;
ALTER TABLE hook_deliveries ALTER COLUMN user_id TYPE text USING user_id::text;

UPDATE poll_schedule s SET cursor = seen.cursor
FROM (
    SELECT connection_id,
           json_object_agg(
               record_id, json_build_array(record_date, fingerprint, user_id, task_id)
           )::text AS cursor
    FROM poll_seen GROUP BY connection_id
) seen
WHERE seen.connection_id = s.connection_id AND s.cursor IS NULL;
DROP TABLE poll_seen;

-- Sync health: when a poll last succeeded, the kind of its last failure (authentication: the key
-- was revoked), and what happened to the connection's webhook (disabled, re-activated).
ALTER TABLE poll_schedule ADD COLUMN last_ok_at timestamptz;
ALTER TABLE poll_schedule ADD COLUMN error_kind text;
ALTER TABLE poll_schedule ADD COLUMN failures integer NOT NULL DEFAULT 0;
ALTER TABLE poll_schedule ADD COLUMN hook_note text;
ALTER TABLE poll_schedule ADD COLUMN hook_note_at timestamptz;
