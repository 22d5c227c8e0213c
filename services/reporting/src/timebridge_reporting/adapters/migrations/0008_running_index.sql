-- Reports count running timers of a period (excluded from the totals): a partial index keeps that
-- count from reading every entry of the period.
CREATE INDEX report_entries_running ON report_entries (workspace_id, source, work_date)
    WHERE running AND NOT deleted;
