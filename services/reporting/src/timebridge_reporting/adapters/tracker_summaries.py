"""Postgres store of the trackers' summaries, and the tracker entries they are compared with.

Keeping a summary is idempotent without an inbox: a row per integration and period holds the
latest fetch, and an older or repeated one (a redelivery, or two fetches arriving out of order)
changes nothing.
"""

import json

import asyncpg

from timebridge_common.events.tracker_reports import TrackerSummaryLine, TrackerSummaryReported
from timebridge_reporting.domain.report_model import Period
from timebridge_reporting.domain.tracker_summary import HeldSummary, OurTotal


class PostgresTrackerSummaries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, event: TrackerSummaryReported) -> bool:
        """Keep ``event`` unless a summary fetched as late or later is held; ``True``: kept."""
        lines = json.dumps([line.model_dump(mode="json") for line in event.lines])
        kept = await self._pool.fetchval(
            "INSERT INTO tracker_summaries (workspace_id, integration_id, period_start,"
            " period_end, provider, lines, unavailable, cause, fetched_at)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)"
            " ON CONFLICT (workspace_id, integration_id, period_start, period_end) DO UPDATE SET"
            " provider = EXCLUDED.provider, lines = EXCLUDED.lines,"
            " unavailable = EXCLUDED.unavailable, cause = EXCLUDED.cause,"
            " fetched_at = EXCLUDED.fetched_at"
            " WHERE tracker_summaries.fetched_at < EXCLUDED.fetched_at RETURNING true",
            event.workspace_id,
            event.integration_id,
            event.period_start,
            event.period_end,
            event.provider,
            lines,
            event.unavailable,
            event.cause,
            event.fetched_at,
        )
        return bool(kept)


async def held_and_ours(
    conn: asyncpg.Connection, workspace_id: str, period: Period
) -> tuple[list[HeldSummary], list[OurTotal]]:
    """The summaries held for exactly ``period``, and each tracker's live entries in it."""
    summaries = await conn.fetch(
        "SELECT integration_id, provider, lines, unavailable, fetched_at FROM tracker_summaries"
        " WHERE workspace_id = $1 AND period_start = $2 AND period_end = $3",
        workspace_id,
        period.start,
        period.end,
    )
    totals = await conn.fetch(
        "SELECT e.integration_id, e.user_id, NULLIF(e.project_id, '') AS project_id,"
        " sum(e.seconds) AS seconds,"
        " sum(CASE WHEN e.billable THEN e.seconds ELSE 0 END) AS billable_seconds"
        " FROM report_entries e JOIN connections c ON c.connection_id = e.integration_id"
        " AND c.workspace_id = e.workspace_id AND c.provider = e.source"
        " WHERE e.workspace_id = $1 AND e.work_date BETWEEN $2 AND $3"
        " AND NOT e.deleted AND NOT e.running"
        " GROUP BY e.integration_id, e.user_id, e.project_id",
        workspace_id,
        period.start,
        period.end,
    )
    return (
        [
            HeldSummary(
                r["integration_id"],
                r["provider"],
                tuple(TrackerSummaryLine.model_validate(line) for line in _lines(r["lines"])),
                r["unavailable"],
                r["fetched_at"],
            )
            for r in summaries
        ],
        [
            OurTotal(
                r["integration_id"],
                r["user_id"],
                r["project_id"],
                int(r["seconds"]),
                int(r["billable_seconds"]),
            )
            for r in totals
        ],
    )


def _lines(value: object) -> list[object]:
    loaded = json.loads(value) if isinstance(value, str) else value
    assert isinstance(loaded, list)
    return loaded
