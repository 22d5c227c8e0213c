"""Postgres writes of the reports' read models: entry facts, rollups, clients, freshness.

Each event is applied once (the inbox claim commits with the change). An entry's row is locked
while its old version is subtracted from the rollups and the new one added, so two consumers of
the same entry (a rebalance) can never count it twice.
"""

import datetime as dt
from decimal import Decimal

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.events import ClientChanged, Envelope, InvoiceExported, TimeEntryLogged
from timebridge_reporting.adapters.budgets import rate_rows
from timebridge_reporting.domain.facts import EntryFact, fact_of, rollup_deltas, supersedes

_FACT_COLUMNS = (
    "workspace_id, source, external_id, integration_id, user_id, user_email, user_name,"
    " project_id, task_id, work_date, seconds, billable, running, deleted, updated_at"
)


class PostgresFacts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_entry(self, consumer: str, envelope: Envelope, event: TimeEntryLogged) -> bool:
        """Apply one entry version; ``False`` for a redelivery or a version older than held."""
        new = fact_of(event)
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
            row = await conn.fetchrow(
                f"SELECT {_FACT_COLUMNS} FROM report_entries"  # noqa: S608 - constant columns
                " WHERE workspace_id = $1 AND source = $2 AND external_id = $3 FOR UPDATE",
                new.workspace_id,
                new.source,
                new.external_id,
            )
            old = None if row is None else EntryFact(**dict(row))
            if not supersedes(new, old):
                return False
            deltas = rollup_deltas(old, new)
            await conn.execute(
                f"INSERT INTO report_entries ({_FACT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6,"  # noqa: S608 - constant
                " $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                " ON CONFLICT (workspace_id, source, external_id) DO UPDATE SET"
                " integration_id = EXCLUDED.integration_id, user_id = EXCLUDED.user_id,"
                " user_email = EXCLUDED.user_email, user_name = EXCLUDED.user_name,"
                " project_id = EXCLUDED.project_id, task_id = EXCLUDED.task_id,"
                " work_date = EXCLUDED.work_date, seconds = EXCLUDED.seconds,"
                " billable = EXCLUDED.billable, running = EXCLUDED.running,"
                " deleted = EXCLUDED.deleted, updated_at = EXCLUDED.updated_at",
                new.workspace_id,
                new.source,
                new.external_id,
                new.integration_id,
                new.user_id,
                new.user_email,
                new.user_name,
                new.project_id,
                new.task_id,
                new.work_date,
                new.seconds,
                new.billable,
                new.running,
                new.deleted,
                new.updated_at,
            )
            for delta in deltas:
                key = delta.key
                await conn.execute(
                    "INSERT INTO report_rollups (workspace_id, source, user_id, project_id,"
                    " work_date, seconds, billable_seconds, entries)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    " ON CONFLICT (workspace_id, work_date, source, user_id, project_id) DO UPDATE"
                    " SET seconds = report_rollups.seconds + EXCLUDED.seconds,"
                    " billable_seconds = report_rollups.billable_seconds"
                    " + EXCLUDED.billable_seconds,"
                    " entries = report_rollups.entries + EXCLUDED.entries",
                    key.workspace_id,
                    key.source,
                    key.user_id,
                    key.project_id,
                    key.work_date,
                    delta.seconds,
                    delta.billable_seconds,
                    delta.entries,
                )
            name = new.user_name or new.user_email
            if name:
                await conn.execute(
                    "INSERT INTO report_users (workspace_id, user_id, name) VALUES ($1, $2, $3)"
                    " ON CONFLICT (workspace_id, user_id) DO UPDATE SET name = EXCLUDED.name"
                    " WHERE report_users.name <> EXCLUDED.name",
                    new.workspace_id,
                    new.user_id,
                    name,
                )
            await _seen(conn, envelope)
            return True

    async def record_client(self, consumer: str, envelope: Envelope, event: ClientChanged) -> bool:
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
            await conn.execute(
                "INSERT INTO report_clients (workspace_id, client_id, name, revision)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, client_id) DO UPDATE SET"
                " name = EXCLUDED.name, revision = EXCLUDED.revision"
                " WHERE report_clients.revision < EXCLUDED.revision",
                event.workspace_id,
                event.client_id,
                event.display_name,
                event.revision,
            )
            await _seen(conn, envelope)
            return True

    async def record_invoice_amounts(
        self, consumer: str, envelope: Envelope, event: InvoiceExported
    ) -> bool:
        """Which client each invoiced project bills to, the invoice's amount per project, and
        what its time lines billed per project (hours, amount, rate sources)."""
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
            amounts: dict[str, Decimal] = {}
            for line in event.lines:
                project = line.project_id or ""
                amounts[project] = amounts.get(project, Decimal(0)) + line.amount
            await conn.executemany(
                "INSERT INTO report_invoice_amounts (workspace_id, invoice_id, project_id,"
                " client_id, amount) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                [
                    (event.workspace_id, event.invoice_id, p, event.client_id, a)
                    for p, a in amounts.items()
                ],
            )
            await conn.executemany(
                "INSERT INTO report_project_clients (workspace_id, project_id, client_id)"
                " VALUES ($1, $2, $3) ON CONFLICT (workspace_id, project_id)"
                " DO UPDATE SET client_id = EXCLUDED.client_id",
                [(event.workspace_id, p, event.client_id) for p in amounts if p],
            )
            time_lines = [
                (ln.project_id or "", ln.quantity_hours, ln.amount, ln.rate_source or "not stated")
                for ln in event.lines
                if ln.kind == "time"
            ]
            await conn.executemany(
                "INSERT INTO report_invoice_rates (workspace_id, invoice_id, project_id, currency,"
                " hours, amount, rate_sources) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT DO NOTHING",
                rate_rows(event.workspace_id, event.invoice_id, event.currency, time_lines),
            )
            await _seen(conn, envelope)
            return True

    async def seen(self, envelope: Envelope) -> None:
        """Advance the workspace's freshness (events handled by other read models)."""
        async with self._pool.acquire() as conn:
            await _seen(conn, envelope)

    async def freshness(self, workspace_id: str) -> dt.datetime | None:
        value: dt.datetime | None = await self._pool.fetchval(
            "SELECT seen_up_to FROM report_freshness WHERE workspace_id = $1", workspace_id
        )
        return value


async def _seen(conn: asyncpg.Connection, envelope: Envelope) -> None:
    await conn.execute(
        "INSERT INTO report_freshness (workspace_id, seen_up_to) VALUES ($1, $2)"
        " ON CONFLICT (workspace_id) DO UPDATE SET"
        " seen_up_to = greatest(report_freshness.seen_up_to, EXCLUDED.seen_up_to)",
        envelope.workspace_id,
        envelope.occurred_at,
    )
