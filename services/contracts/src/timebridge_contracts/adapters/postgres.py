"""The contracts store on PostgreSQL: one :class:`PgTx` per transaction (see handlers/ports)."""

import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg

from timebridge_common.db import outbox
from timebridge_common.db.inbox import once
from timebridge_common.events import Envelope, Event
from timebridge_contracts.adapters.audit_log import append
from timebridge_contracts.domain.budgets import Budget, Contribution, RateRule, ScopeItem
from timebridge_contracts.handlers.ports import (
    AuditFacts,
    BudgetTarget,
    ContractRecord,
    MilestoneRecord,
    ScopeRecord,
    StoredEntry,
    targets_of,
)

_LOCK_NAMESPACE = "contracts-budgets:"
_LOCKED = {False: "SELECT * FROM %s", True: "SELECT * FROM %s FOR UPDATE"}
"""A row read to be changed in the same transaction is locked (constant SQL, no input)."""
_UNANNOUNCED = "SELECT %s FROM budgets WHERE announced_revision IS DISTINCT FROM revision"


def _card_json(card: Sequence[RateRule]) -> list[dict[str, Any]]:
    """jsonb goes in as Python objects (the pool's codec encodes them)."""
    return [
        {
            "hourly_rate": str(r.hourly_rate),
            "project_id": r.project_id,
            "user_id": r.user_id,
            "task_type": r.task_type,
        }
        for r in card
    ]


def _card(raw: Any) -> tuple[RateRule, ...]:
    rows = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(
        RateRule(
            Decimal(r["hourly_rate"]), r.get("project_id"), r.get("user_id"), r.get("task_type")
        )
        for r in rows
    )


def _items(raw: Any) -> tuple[ScopeItem, ...]:
    rows = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(ScopeItem(r["project_id"], r.get("ticket_id")) for r in rows)


def contract_of(row: asyncpg.Record) -> ContractRecord:
    return ContractRecord(
        workspace_id=row["workspace_id"],
        contract_id=row["contract_id"],
        title=row["title"],
        client_id=row["client_id"],
        client_name=row["client_name"],
        status=row["status"],
        currency=row["currency"],
        rate_card=_card(row["rate_card"]),
        rounding_policy=row["rounding_policy"],
        signed_at=row["signed_at"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        revision=row["revision"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        source_updated_at=row["source_updated_at"],
    )


def scope_of(row: asyncpg.Record) -> ScopeRecord:
    return ScopeRecord(
        row["workspace_id"], row["scope_id"], row["contract_id"], row["name"], _items(row["items"])
    )


def budget_of(row: asyncpg.Record) -> Budget:
    return Budget(
        workspace_id=row["workspace_id"],
        budget_id=row["budget_id"],
        target_kind=row["target_kind"],
        target_id=row["target_id"],
        unit=row["unit"],
        amount=row["amount"],
        period=row["period"],
        thresholds=tuple(row["thresholds"]),
        revision=row["revision"],
        currency=row["currency"],
        contract_id=row["contract_id"],
    )


def milestone_of(row: asyncpg.Record) -> MilestoneRecord:
    return MilestoneRecord(
        row["workspace_id"],
        row["project_id"],
        row["milestone_id"],
        row["title"],
        row["contract_id"],
        row["due_date"],
        row["reached_at"],
    )


class PgTx:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def put_client(
        self,
        workspace_id: str,
        client_id: str,
        *,
        name: str,
        provider: str,
        status: str,
        revision: int,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO clients VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (workspace_id, client_id) DO UPDATE SET display_name = $3,"
            " provider = $4, status = $5, revision = $6 WHERE clients.revision <= $6",
            workspace_id,
            client_id,
            name,
            provider,
            status,
            revision,
        )

    async def client_name(self, workspace_id: str, client_id: str) -> str | None:
        name: str | None = await self.conn.fetchval(
            "SELECT display_name FROM clients WHERE workspace_id = $1 AND client_id = $2",
            workspace_id,
            client_id,
        )
        return name

    async def get_contract(
        self, workspace_id: str, contract_id: str, *, lock: bool = False
    ) -> ContractRecord | None:
        row = await self.conn.fetchrow(
            _LOCKED[lock] % "contracts WHERE workspace_id = $1 AND contract_id = $2",
            workspace_id,
            contract_id,
        )
        return contract_of(row) if row else None

    async def put_contract(self, c: ContractRecord) -> None:
        await self.conn.execute(
            "INSERT INTO contracts (workspace_id, contract_id, client_id, client_name, title,"
            " status, signed_at, start_date, end_date, currency, rate_card, rounding_policy,"
            " revision, created_at, updated_at, source_updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15,"
            " $16) ON CONFLICT (workspace_id, contract_id) DO UPDATE SET client_id = $3,"
            " client_name = $4, title = $5, status = $6, signed_at = $7, start_date = $8,"
            " end_date = $9, currency = $10, rate_card = $11::jsonb, rounding_policy = $12,"
            " revision = $13, updated_at = $15, source_updated_at = $16",
            c.workspace_id,
            c.contract_id,
            c.client_id,
            c.client_name,
            c.title,
            c.status,
            c.signed_at,
            c.start_date,
            c.end_date,
            c.currency,
            _card_json(c.rate_card),
            c.rounding_policy,
            c.revision,
            c.created_at,
            c.updated_at,
            c.source_updated_at,
        )

    async def scopes(self, workspace_id: str, contract_id: str) -> list[ScopeRecord]:
        rows = await self.conn.fetch(
            "SELECT * FROM scopes WHERE workspace_id = $1 AND contract_id = $2"
            " ORDER BY created_at, scope_id",
            workspace_id,
            contract_id,
        )
        return [scope_of(r) for r in rows]

    async def get_scope(self, workspace_id: str, scope_id: str) -> ScopeRecord | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM scopes WHERE workspace_id = $1 AND scope_id = $2",
            workspace_id,
            scope_id,
        )
        return scope_of(row) if row else None

    async def put_scope(self, scope: ScopeRecord) -> None:
        items = [{"project_id": i.project_id, "ticket_id": i.ticket_id} for i in scope.items]
        await self.conn.execute(
            "INSERT INTO scopes VALUES ($1, $2, $3, $4, $5::jsonb, clock_timestamp())",
            scope.workspace_id,
            scope.scope_id,
            scope.contract_id,
            scope.name,
            items,
        )

    async def get_budget(
        self, workspace_id: str, budget_id: str, *, lock: bool = False
    ) -> Budget | None:
        row = await self.conn.fetchrow(
            _LOCKED[lock] % "budgets WHERE workspace_id = $1 AND budget_id = $2",
            workspace_id,
            budget_id,
        )
        return budget_of(row) if row else None

    async def put_budget(self, b: Budget, at: dt.datetime, by: str | None) -> None:
        await self.conn.execute(
            "INSERT INTO budgets VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (workspace_id, budget_id) DO UPDATE SET target_kind = $3,"
            " target_id = $4, contract_id = $5, unit = $6, amount = $7, period = $8,"
            " thresholds = $9, currency = $10, revision = $11, updated_at = $12",
            b.workspace_id,
            b.budget_id,
            b.target_kind,
            b.target_id,
            b.contract_id,
            b.unit,
            b.amount,
            b.period,
            list(b.thresholds),
            b.currency,
            b.revision,
            at,
        )
        await self.conn.execute(
            "INSERT INTO budget_revisions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            b.workspace_id,
            b.budget_id,
            b.revision,
            b.unit,
            b.amount,
            b.period,
            list(b.thresholds),
            b.currency,
            at,
            by,
        )

    async def budget_targets(self, workspace_id: str) -> list[BudgetTarget]:
        budgets = [
            budget_of(r)
            for r in await self.conn.fetch(
                "SELECT * FROM budgets WHERE workspace_id = $1 ORDER BY budget_id", workspace_id
            )
        ]
        scopes = [
            scope_of(r)
            for r in await self.conn.fetch(
                "SELECT * FROM scopes WHERE workspace_id = $1", workspace_id
            )
        ]
        cards = {
            r["contract_id"]: _card(r["rate_card"])
            for r in await self.conn.fetch(
                "SELECT contract_id, rate_card FROM contracts WHERE workspace_id = $1",
                workspace_id,
            )
        }
        return [targets_of(b, scopes, cards) for b in budgets]

    async def fired(self, budget: Budget, period_key: str) -> frozenset[int]:
        rows = await self.conn.fetch(
            "SELECT threshold FROM budget_fired WHERE workspace_id = $1 AND budget_id = $2"
            " AND revision = $3 AND period_key = $4 AND rearmed_at IS NULL",
            budget.workspace_id,
            budget.budget_id,
            budget.revision,
            period_key,
        )
        return frozenset(r["threshold"] for r in rows)

    async def set_fired(
        self,
        budget: Budget,
        period_key: str,
        add: Sequence[int],
        remove: Sequence[int],
        at: dt.datetime,
    ) -> dict[int, int]:
        key = (budget.workspace_id, budget.budget_id, budget.revision, period_key)
        if remove:
            await self.conn.execute(
                "UPDATE budget_fired SET rearmed_at = $6 WHERE workspace_id = $1"
                " AND budget_id = $2 AND revision = $3 AND period_key = $4"
                " AND threshold = ANY($5::int[]) AND rearmed_at IS NULL",
                *key,
                list(remove),
                at,
            )
        crossings: dict[int, int] = {}
        for threshold in add:
            crossings[threshold] = await self.conn.fetchval(
                "INSERT INTO budget_fired (workspace_id, budget_id, revision, period_key,"
                " threshold, crossed_at, crossing)"
                " SELECT $1, $2, $3, $4, $5, $6, coalesce(max(crossing), 0) + 1 FROM budget_fired"
                " WHERE workspace_id = $1 AND budget_id = $2 AND revision = $3"
                " AND period_key = $4 AND threshold = $5 RETURNING crossing",
                *key,
                threshold,
                at,
            )
        return crossings

    async def mark_announced(self, budget: Budget) -> None:
        await self.conn.execute(
            "UPDATE budgets SET announced_revision = $3 WHERE workspace_id = $1 AND budget_id = $2",
            budget.workspace_id,
            budget.budget_id,
            budget.revision,
        )

    async def unannounced_workspaces(self) -> list[str]:
        return [r[0] for r in await self.conn.fetch(_UNANNOUNCED % "DISTINCT workspace_id")]

    async def claim_unannounced(self, workspace_id: str) -> list[str]:
        rows = await self.conn.fetch(
            _UNANNOUNCED % "budget_id" + " AND workspace_id = $1 FOR UPDATE SKIP LOCKED",
            workspace_id,
        )
        return [r[0] for r in rows]

    async def lock_workspace(self, workspace_id: str) -> None:
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", _LOCK_NAMESPACE + workspace_id
        )

    async def get_entry(self, workspace_id: str, entry_id: str) -> StoredEntry | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM entries WHERE workspace_id = $1 AND entry_id = $2",
            workspace_id,
            entry_id,
        )
        if row is None:
            return None
        contribution = Contribution(
            row["entry_id"],
            row["project_id"],
            row["ticket_id"],
            row["user_id"],
            row["day"],
            row["seconds"],
            row["billable"],
        )
        return StoredEntry(contribution, row["updated_at"], row["deleted"])

    async def put_entry(self, workspace_id: str, entry: StoredEntry) -> None:
        c = entry.contribution
        await self.conn.execute(
            "INSERT INTO entries VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (workspace_id, entry_id) DO UPDATE SET project_id = $3,"
            " ticket_id = $4, user_id = $5, day = $6, seconds = $7, billable = $8,"
            " updated_at = $9, deleted = $10",
            workspace_id,
            c.entry_id,
            c.project_id,
            c.ticket_id,
            c.user_id,
            c.day,
            c.seconds,
            c.billable,
            entry.updated_at,
            entry.deleted,
        )

    async def entries_for(
        self, workspace_id: str, project_ids: Sequence[str]
    ) -> list[Contribution]:
        """Summed in SQL per project, ticket, user, month and billable: what budgets tell apart
        (scope items, rates, periods), so a re-evaluation reads a few rows, not every entry."""
        rows = await self.conn.fetch(
            "SELECT project_id, ticket_id, user_id, date_trunc('month', day)::date AS month,"
            " billable, sum(seconds)::bigint AS seconds FROM entries"
            " WHERE workspace_id = $1 AND project_id = ANY($2::text[]) AND NOT deleted"
            " GROUP BY project_id, ticket_id, user_id, month, billable",
            workspace_id,
            list(project_ids),
        )
        return [
            Contribution(
                "",
                r["project_id"],
                r["ticket_id"],
                r["user_id"],
                r["month"],
                int(r["seconds"]),
                r["billable"],
            )
            for r in rows
        ]

    async def get_milestone(
        self, workspace_id: str, project_id: str, milestone_id: str, *, lock: bool = False
    ) -> MilestoneRecord | None:
        row = await self.conn.fetchrow(
            _LOCKED[lock]
            % "milestones WHERE workspace_id = $1 AND project_id = $2 AND milestone_id = $3",
            workspace_id,
            project_id,
            milestone_id,
        )
        return milestone_of(row) if row else None

    async def put_milestone(self, m: MilestoneRecord) -> None:
        await self.conn.execute(
            "INSERT INTO milestones VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())"
            " ON CONFLICT (workspace_id, project_id, milestone_id) DO UPDATE SET title = $4,"
            " contract_id = $5, due_date = $6, reached_at = $7",
            m.workspace_id,
            m.project_id,
            m.milestone_id,
            m.title,
            m.contract_id,
            m.due_date,
            m.reached_at,
        )

    async def put_invoice_entries(
        self, workspace_id: str, invoice_id: str, entry_ids: Sequence[str], client_id: str
    ) -> None:
        await self.conn.execute(
            "INSERT INTO invoice_entries (workspace_id, invoice_id, entry_ids, client_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, invoice_id)"
            " DO UPDATE SET entry_ids = $3, client_id = $4",
            workspace_id,
            invoice_id,
            list(entry_ids),
            client_id,
        )

    async def invoice_entries(
        self, workspace_id: str, invoice_id: str
    ) -> tuple[list[str], str | None]:
        row = await self.conn.fetchrow(
            "SELECT entry_ids, client_id FROM invoice_entries"
            " WHERE workspace_id = $1 AND invoice_id = $2",
            workspace_id,
            invoice_id,
        )
        return (list(row["entry_ids"]), row["client_id"]) if row else ([], None)

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        await outbox.enqueue(self.conn, events)

    async def audit(self, workspace_id: str, facts: AuditFacts, at: dt.datetime) -> None:
        await append(self.conn, workspace_id, facts, at)


class PostgresStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PgTx(conn)

    @asynccontextmanager
    async def once(self, consumer: str, envelope: Envelope) -> AsyncIterator[PgTx | None]:
        async with once(self.pool, consumer, envelope) as conn:
            yield PgTx(conn) if conn is not None else None
