"""Postgres read model of HR time off (``TimeOffRecorded``) and the utilization report's read.

A request's latest state is kept per HR connection; its days are kept only while it is approved,
so a cancellation (or denial) removes them. Days are matched to users by email: the user whose
entries (of the report's source) carry the employee's work email.
"""

import asyncpg

from timebridge_common.events.time_off import TimeOffRecorded
from timebridge_reporting.domain.report_model import Period
from timebridge_reporting.domain.utilization import TimeOff, TimeOffDay


class PostgresTimeOff:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, event: TimeOffRecorded) -> bool:
        """Keep ``event`` unless a later observation of the request is held; ``True``: kept."""
        key = (event.workspace_id, event.integration_id, event.request_id)
        async with self._pool.acquire() as conn, conn.transaction():
            kept = await conn.fetchval(
                "INSERT INTO report_time_off (workspace_id, integration_id, request_id, source,"
                " email, employee_name, status, absence_type, unit, amount, start_date, end_date,"
                " observed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                " ON CONFLICT (workspace_id, integration_id, request_id) DO UPDATE SET"
                " source = EXCLUDED.source, email = EXCLUDED.email,"
                " employee_name = EXCLUDED.employee_name, status = EXCLUDED.status,"
                " absence_type = EXCLUDED.absence_type, unit = EXCLUDED.unit,"
                " amount = EXCLUDED.amount, start_date = EXCLUDED.start_date,"
                " end_date = EXCLUDED.end_date, observed_at = EXCLUDED.observed_at"
                " WHERE report_time_off.observed_at < EXCLUDED.observed_at RETURNING true",
                *key,
                event.source,
                event.employee_email,
                event.employee_name,
                event.status,
                event.absence_type,
                event.unit,
                event.amount,
                event.start,
                event.end,
                event.observed_at,
            )
            if not kept:
                return False
            await conn.execute(
                "DELETE FROM report_time_off_days WHERE workspace_id = $1"
                " AND integration_id = $2 AND request_id = $3",
                *key,
            )
            if event.status == "approved" and event.employee_email:
                await conn.executemany(
                    "INSERT INTO report_time_off_days (workspace_id, integration_id, request_id,"
                    " email, day, amount, unit) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    [
                        (*key, event.employee_email.lower(), day, amount, event.unit)
                        for day, amount in event.days.items()
                        if amount > 0
                    ],
                )
        return True


async def time_off_in(
    pool: asyncpg.Pool, workspace_id: str, period: Period, source: str
) -> TimeOff:
    """Approved time off per user and day of ``period``; people matched to no user counted."""
    async with pool.acquire() as conn:
        recorded = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM report_time_off WHERE workspace_id = $1)", workspace_id
        )
        if not recorded:
            return TimeOff()
        rows = await conn.fetch(
            "WITH emails AS (SELECT DISTINCT email FROM report_time_off_days"
            "  WHERE workspace_id = $1 AND day BETWEEN $3 AND $4),"
            " users AS (SELECT m.email, (SELECT e.user_id FROM report_entries e"
            "  WHERE e.workspace_id = $1 AND e.source = $2 AND e.user_email IS NOT NULL"
            "  AND lower(e.user_email) = m.email LIMIT 1) AS user_id FROM emails m)"
            " SELECT u.email, u.user_id, d.day, d.unit, sum(d.amount) AS amount"
            " FROM report_time_off_days d JOIN users u ON u.email = d.email"
            " WHERE d.workspace_id = $1 AND d.day BETWEEN $3 AND $4 GROUP BY 1, 2, 3, 4",
            workspace_id,
            source,
            period.start,
            period.end,
        )
    days = [
        TimeOffDay(r["user_id"], r["day"], r["amount"], r["unit"])
        for r in rows
        if r["user_id"] is not None
    ]
    unmatched = len({r["email"] for r in rows if r["user_id"] is None})
    return TimeOff(tuple(days), unmatched_people=unmatched, recorded=True)
