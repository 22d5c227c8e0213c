-- Crossings are kept: a re-armed threshold gets rearmed_at instead of being deleted, and the
-- next crossing of it (same revision and period) is crossing n + 1.

ALTER TABLE budget_fired ADD COLUMN crossing int NOT NULL DEFAULT 1 CHECK (crossing >= 1);
ALTER TABLE budget_fired ADD COLUMN rearmed_at timestamptz;
ALTER TABLE budget_fired DROP CONSTRAINT budget_fired_pkey;
ALTER TABLE budget_fired
    ADD PRIMARY KEY (workspace_id, budget_id, revision, period_key, threshold, crossing);
CREATE UNIQUE INDEX budget_fired_current
    ON budget_fired (workspace_id, budget_id, revision, period_key, threshold)
    WHERE rearmed_at IS NULL;
