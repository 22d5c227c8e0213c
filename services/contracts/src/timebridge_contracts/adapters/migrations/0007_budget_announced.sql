-- The revision of each budget last announced to other services (BudgetChanged), set in the
-- transaction that publishes it through the outbox. NULL for budgets stored before contracts
-- published BudgetChanged: the service announces every budget whose revision differs once at
-- start-up (a budget already announced this way is announced once more, which is harmless:
-- reporting keeps the latest by revision and time).
ALTER TABLE budgets ADD COLUMN announced_revision int;
CREATE INDEX budgets_unannounced ON budgets (workspace_id)
    WHERE announced_revision IS DISTINCT FROM revision;
