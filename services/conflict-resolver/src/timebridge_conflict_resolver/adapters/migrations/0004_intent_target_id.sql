-- The id of the record a write lease covers, once known (an update's or delete's from the start,
-- a create's as soon as the system answered it): an observation of that record while the lease
-- is held is Timebridge's own write in flight, retried until the outcome is committed.
ALTER TABLE sync_intents ADD COLUMN target_id text;
CREATE INDEX sync_intents_by_target ON sync_intents (integration_id, system, target_id);
