-- The trackers' own summary reports (TrackerSummaryReported), the latest fetch per integration
-- and period: reconciliation compares them with the tracker's entries held in report_entries.
-- A redelivered or older fetch changes nothing (fetched_at decides), so no inbox is needed.
CREATE TABLE tracker_summaries (
    workspace_id   text        NOT NULL,
    integration_id text        NOT NULL,
    period_start   date        NOT NULL,
    period_end     date        NOT NULL,
    provider       text        NOT NULL,
    lines          jsonb       NOT NULL,
    unavailable    text,
    cause          text        NOT NULL,
    fetched_at     timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, integration_id, period_start, period_end)
);
