"""Turning a triggering event into report runs: one per definition that listens for it.

The event is claimed in the inbox and the runs are inserted in the same transaction; the run key
names the fact (an invoice reaching a status, a milestone, a threshold crossing of one budget
revision), so a redelivery, a replay or the same fact announced twice yields no second run.
"""

import datetime as dt
import zoneinfo

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.events import Envelope
from timebridge_reporting.adapters.runs import PostgresRuns, RunRequest, definition_of
from timebridge_reporting.domain.definitions import covered_period
from timebridge_reporting.domain.report_model import Period
from timebridge_reporting.domain.triggers import Fired

CONSUMER = "reporting.report-triggers"


class PostgresTriggers:
    def __init__(self, pool: asyncpg.Pool, runs: PostgresRuns) -> None:
        self._pool = pool
        self._runs = runs

    async def fire(
        self, envelope: Envelope, fired: Fired, now: dt.datetime, consumer: str = CONSUMER
    ) -> list[str]:
        """Request a run of each listening definition; return the new runs' ids."""
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return []
            rows = await conn.fetch(
                "SELECT * FROM report_definitions WHERE workspace_id = $1"
                " AND deleted_at IS NULL AND body -> 'triggers' ? $2",
                envelope.workspace_id,
                fired.trigger,
            )
            period = fired.period or await self._invoice_period(conn, envelope, fired)
            created: list[str] = []
            for row in rows:
                definition = definition_of(row)
                body = definition.body
                day = envelope.occurred_at.astimezone(zoneinfo.ZoneInfo(body.timezone)).date()
                request = RunRequest(
                    definition.workspace_id,
                    definition.definition_id,
                    f"trigger:{fired.fact_key}",
                    f"trigger:{fired.trigger}:{envelope.event_id}",
                    body.params,
                    body.formats,
                    body.recipients,
                    period or covered_period(body.default_coverage, day, body.params.week_start),
                )
                run_id, new = await self._runs.request(request, now, conn)
                if new:
                    created.append(run_id)
            return created

    @staticmethod
    async def _invoice_period(
        conn: asyncpg.Connection, envelope: Envelope, fired: Fired
    ) -> Period | None:
        if fired.invoice_id is None:
            return None
        row = await conn.fetchrow(
            "SELECT period_start, period_end FROM invoices WHERE workspace_id = $1"
            " AND invoice_id = $2",
            envelope.workspace_id,
            fired.invoice_id,
        )
        return None if row is None else Period(start=row["period_start"], end=row["period_end"])
