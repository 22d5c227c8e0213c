-- Every target record (slot) a write lease was ever taken on, kept for good: the statement
-- taking leases (sync_sql.TAKE_LEASES) records its keys here and learns which had no row yet.
-- Such a slot has never been planned or written, so no create of it can have been sent with
-- its answer lost, and the provider's look-up before a create is skipped (Slot.never_written;
-- issue 12: Harvest's look-up by reference was a request per new entry).
CREATE TABLE sync_attempts (
    integration_id text NOT NULL,
    system         text NOT NULL,
    key            text NOT NULL,
    PRIMARY KEY (integration_id, system, key)
);

-- Slots written before this table existed are never taken as new: every one Timebridge keeps a
-- record of, holds a lease on, or links an entry to.
INSERT INTO sync_attempts (integration_id, system, key)
SELECT integration_id, system, key FROM sync_targets
UNION SELECT integration_id, system, key FROM sync_intents
UNION SELECT integration_id, target, target_key FROM sync_links
ON CONFLICT DO NOTHING;
