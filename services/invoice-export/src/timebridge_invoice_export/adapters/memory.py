"""The store ports in memory: the handlers' unit tests run on these instead of Postgres.

Each method does what its SQL in ``adapters/pg/`` does, on plain dictionaries. A transaction
works on the state itself and puts back a copy taken when it began if it fails, so a refused use
case leaves nothing behind, as a rolled-back transaction would. Row locks are not modelled: the
unit tests run one use case at a time (concurrency is the integration tests' business).
"""

# The ports' ``lock`` and ``now`` arguments matter to Postgres (row locks, audit times) only.
# ruff: noqa: ARG002

import copy
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from timebridge_common.events import Envelope, Event
from timebridge_invoice_export.adapters.memory_payments import MemoryPayments
from timebridge_invoice_export.adapters.memory_rounding import MemoryRounding
from timebridge_invoice_export.domain.accounting import Tenant
from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.connections import (
    AccountingConnection,
    ConnectionStatus,
    OAuthState,
)
from timebridge_invoice_export.domain.invoices import Expense, Invoice
from timebridge_invoice_export.domain.ledger import Held, LedgerEntry
from timebridge_invoice_export.domain.payments import HeldPayment
from timebridge_invoice_export.domain.rates import Rate
from timebridge_invoice_export.domain.rounding import RoundingPolicy


@dataclass
class _Connection:
    row: AccountingConnection
    verifiers: dict[str, str] = field(default_factory=dict)
    next_poll_at: dt.datetime | None = None


@dataclass
class State:
    """Everything the in-memory store holds (tests read it directly)."""

    states: dict[str, tuple[OAuthState, dt.datetime, bool]] = field(default_factory=dict)
    connections: dict[str, _Connection] = field(default_factory=dict)
    clients: dict[str, MirroredClient] = field(default_factory=dict)
    projects: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    rates: dict[tuple[str, str | None, str | None], tuple[str, Rate]] = field(default_factory=dict)
    rate_sources: dict[tuple[str, str], str | None] = field(default_factory=dict)
    tracker_rates: dict[tuple[str, str], list[Rate]] = field(default_factory=dict)
    expenses: dict[str, Expense] = field(default_factory=dict)
    entries: dict[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    locked_changes: list[dict[str, Any]] = field(default_factory=list)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    payments: dict[tuple[str, str, str], HeldPayment] = field(default_factory=dict)
    rounding: dict[tuple[str, str], list[RoundingPolicy]] = field(default_factory=dict)
    published: list[tuple[Event, Envelope]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    """(consumer, event id) pairs claimed by :meth:`MemoryStore.once`."""


class MemoryTx(MemoryPayments, MemoryRounding):
    """One transaction of the in-memory store (the ``Tx`` port)."""

    def __init__(self, state: State) -> None:
        self.s = state

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        self.s.published.extend(events)

    # -- connections -------------------------------------------------------------------------

    async def add_oauth_state(self, state: str, value: OAuthState, expires_at: dt.datetime) -> None:
        self.s.states[state] = (value, expires_at, False)

    async def use_oauth_state(
        self, state: str, provider: str, now: dt.datetime
    ) -> OAuthState | None:
        found = self.s.states.get(state)
        if found is None or found[2] or found[1] <= now or found[0].provider != provider:
            return None
        self.s.states[state] = (found[0], found[1], True)
        return found[0]

    async def connection(
        self, connection_id: str, *, lock: bool = False
    ) -> AccountingConnection | None:
        found = self.s.connections.get(connection_id)
        return None if found is None else replace(found.row, verified_webhooks=len(found.verifiers))

    async def connection_for_tenant(
        self, workspace_id: str, provider: str, tenant_id: str
    ) -> AccountingConnection | None:
        for c in self.s.connections.values():
            row = c.row
            if (row.workspace_id, row.provider, row.tenant_id) == (
                workspace_id,
                provider,
                tenant_id,
            ):
                return await self.connection(row.connection_id)
        return None

    async def connections_of_tenant(self, provider: str, tenant_id: str) -> list[str]:
        return sorted(
            c.row.connection_id
            for c in self.s.connections.values()
            if (c.row.provider, c.row.tenant_id, c.row.status) == (provider, tenant_id, "connected")
        )

    async def connections(self, workspace_id: str) -> list[AccountingConnection]:
        rows = [c.row for c in self.s.connections.values() if c.row.workspace_id == workspace_id]
        rows.sort(key=lambda r: (r.created_at, r.connection_id))
        return [r for r in [await self.connection(r.connection_id) for r in rows] if r]

    async def save_connection(
        self,
        *,
        connection_id: str,
        workspace_id: str,
        provider: str,
        status: ConnectionStatus,
        tenant_id: str | None,
        tenant_name: str | None,
        tenants: Sequence[Tenant],
        connected_by: str,
        now: dt.datetime,
    ) -> None:
        existing = self.s.connections.get(connection_id)
        base = (
            existing.row
            if existing
            else AccountingConnection(
                connection_id=connection_id,
                workspace_id=workspace_id,
                provider=provider,
                status=status,
                tenant_id=tenant_id,
                tenant_name=tenant_name,
                tenants=(),
                mirrored_at=None,
                changes_cursor=None,
                last_poll_at=None,
                last_error=None,
                webhooks_registered_at=None,
                created_at=now,
            )
        )
        row = replace(
            base,
            status=status,
            tenant_id=tenant_id,
            tenant_name=tenant_name,
            tenants=tuple(tenants),
            last_error=None,
        )
        verifiers = existing.verifiers if existing else {}
        self.s.connections[connection_id] = _Connection(row, verifiers, now)

    async def delete_connection(self, connection_id: str) -> None:
        self.s.connections.pop(connection_id, None)

    async def set_connection_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        now: dt.datetime,
        *,
        error: str | None = None,
        forget_webhooks: bool = False,
    ) -> None:
        c = self.s.connections[connection_id]
        c.row = replace(c.row, status=status, last_error=error)
        if forget_webhooks:
            c.verifiers = {}
            c.row = replace(c.row, webhooks_registered_at=None)

    async def claim_due_polls(self, now: dt.datetime, interval_s: float) -> list[str]:
        due = [
            c
            for c in self.s.connections.values()
            if c.row.status == "connected" and c.next_poll_at is not None and c.next_poll_at <= now
        ]
        for c in due:
            c.next_poll_at = now + dt.timedelta(seconds=interval_s)
        return [c.row.connection_id for c in due]

    async def poll_now(self, connection_id: str, now: dt.datetime) -> None:
        self.s.connections[connection_id].next_poll_at = now

    async def polled(
        self,
        connection_id: str,
        now: dt.datetime,
        *,
        cursor: dt.datetime | None,
        mirrored: bool,
        error: str | None,
    ) -> None:
        c = self.s.connections[connection_id]
        c.row = replace(
            c.row,
            last_poll_at=now,
            last_error=error,
            changes_cursor=cursor or c.row.changes_cursor,
            mirrored_at=(c.row.mirrored_at or now) if mirrored else c.row.mirrored_at,
        )

    async def webhooks_registered(self, connection_id: str, now: dt.datetime) -> None:
        c = self.s.connections[connection_id]
        c.row = replace(c.row, webhooks_registered_at=now)

    async def add_webhook_verifier(
        self, connection_id: str, callback_id: str, verifier: str
    ) -> None:
        self.s.connections[connection_id].verifiers[callback_id] = verifier

    async def webhook_verifiers(self, connection_id: str) -> list[str]:
        found = self.s.connections.get(connection_id)
        return [] if found is None else list(found.verifiers.values())

    # -- clients, projects, rates, expenses ----------------------------------------------------

    async def client(self, client_id: str, *, lock: bool = False) -> MirroredClient | None:
        return self.s.clients.get(client_id)

    async def client_by_external_id(
        self, connection_id: str, external_id: str
    ) -> MirroredClient | None:
        return next(
            (
                c
                for c in self.s.clients.values()
                if (c.connection_id, c.external_id) == (connection_id, external_id)
            ),
            None,
        )

    async def clients(self, workspace_id: str, status: str | None) -> list[MirroredClient]:
        found = [
            c
            for c in self.s.clients.values()
            if c.workspace_id == workspace_id and status in (None, c.status)
        ]
        return sorted(found, key=lambda c: (c.name.lower(), c.client_id))

    async def save_client(self, client: MirroredClient) -> None:
        self.s.clients[client.client_id] = client

    async def assign_project(
        self, workspace_id: str, project_id: str, name: str, client_id: str
    ) -> None:
        self.s.projects[(workspace_id, project_id)] = (name, client_id)

    async def unassign_project(self, workspace_id: str, project_id: str) -> bool:
        return self.s.projects.pop((workspace_id, project_id), None) is not None

    async def projects(self, workspace_id: str) -> dict[str, tuple[str, str]]:
        return {p: v for (w, p), v in self.s.projects.items() if w == workspace_id}

    async def rates(self, workspace_id: str) -> list[Rate]:
        found = [r for (w, _, _), (_, r) in self.s.rates.items() if w == workspace_id]
        return sorted(
            found,
            key=lambda r: (
                r.project_id is None,
                r.project_id or "",
                r.user_id is None,
                r.user_id or "",
            ),
        )

    async def put_rate(self, workspace_id: str, rate: Rate) -> Rate:
        key = (workspace_id, rate.project_id, rate.user_id)
        kept = self.s.rates.get(key)
        stored = rate if kept is None else replace(rate, rate_id=kept[1].rate_id)
        self.s.rates[key] = (workspace_id, stored)
        return stored

    async def delete_rate(self, workspace_id: str, rate_id: str) -> bool:
        for key, (w, r) in list(self.s.rates.items()):
            if w == workspace_id and r.rate_id == rate_id:
                del self.s.rates[key]
                return True
        return False

    async def rate_source(self, workspace_id: str, client_id: str | None) -> str | None:
        own = self.s.rate_sources.get((workspace_id, client_id or ""), "")
        return self.s.rate_sources.get((workspace_id, "")) if own == "" else own

    async def put_rate_source(
        self, workspace_id: str, client_id: str | None, integration_id: str | None
    ) -> None:
        self.s.rate_sources[(workspace_id, client_id or "")] = integration_id

    async def tracker_rates(self, workspace_id: str, integration_id: str) -> list[Rate]:
        return list(self.s.tracker_rates.get((workspace_id, integration_id), []))

    async def replace_tracker_rates(
        self, workspace_id: str, integration_id: str, rates: Sequence[Rate], read_at: dt.datetime
    ) -> None:
        self.s.tracker_rates[(workspace_id, integration_id)] = list(rates)

    async def add_expense(self, expense: Expense) -> None:
        self.s.expenses[expense.expense_id] = expense

    async def expense(self, expense_id: str, *, lock: bool = False) -> Expense | None:
        return self.s.expenses.get(expense_id)

    async def expenses(self, workspace_id: str) -> list[Expense]:
        found = [e for e in self.s.expenses.values() if e.workspace_id == workspace_id]
        return sorted(found, key=lambda e: (e.date, e.expense_id))

    async def delete_expense(self, expense_id: str) -> None:
        self.s.expenses.pop(expense_id, None)

    # -- the ledger ----------------------------------------------------------------------------

    async def held_entry(self, workspace_id: str, entry_id: str) -> Held | None:
        entry = self.s.entries.get((workspace_id, entry_id))
        if entry is None:
            return None
        invoice = self.s.invoices.get(entry.invoice_id or "")
        locked = invoice is not None and invoice.status in ("exporting", "exported")
        return Held(entry.source_updated_at, entry.invoice_id, locked)

    async def save_entry(self, entry: LedgerEntry) -> None:
        key = (entry.workspace_id, entry.entry_id)
        held = self.s.entries.get(key)
        self.s.entries[key] = replace(entry, invoice_id=held.invoice_id if held else None)

    async def record_locked_change(self, entry: LedgerEntry, invoice_id: str) -> None:
        change = {
            "entry_id": entry.entry_id,
            "invoice_id": invoice_id,
            "source_updated_at": entry.source_updated_at,
            "duration_seconds": entry.duration_seconds,
            "deleted": entry.deleted,
        }
        if change not in self.s.locked_changes:
            self.s.locked_changes.append(change)

    async def locked_changes(self, invoice_id: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in c.items() if k != "invoice_id"}
            for c in self.s.locked_changes
            if c["invoice_id"] == invoice_id
        ]

    async def entries(
        self, workspace_id: str, *, invoice_id: str | None = None, uninvoiced: bool = False
    ) -> list[LedgerEntry]:
        found = [
            e
            for e in self.s.entries.values()
            if e.workspace_id == workspace_id
            and (invoice_id is None or e.invoice_id == invoice_id)
            and (not uninvoiced or (e.invoice_id is None and e.billable and not e.deleted))
        ]
        return sorted(found, key=lambda e: (e.date, e.entry_id))

    async def reserve(
        self,
        workspace_id: str,
        invoice_id: str,
        project_ids: Sequence[str],
        start: dt.date,
        end: dt.date,
    ) -> tuple[int, int]:
        entries = expenses = 0
        for key, e in self.s.entries.items():
            if (
                e.workspace_id == workspace_id
                and e.invoice_id is None
                and e.billable
                and not e.deleted
                and e.project_id in project_ids
                and start <= e.date <= end
            ):
                self.s.entries[key] = replace(e, invoice_id=invoice_id)
                entries += 1
        for expense_id, x in self.s.expenses.items():
            if (
                x.workspace_id == workspace_id
                and x.invoice_id is None
                and x.billable
                and x.project_id in project_ids
                and start <= x.date <= end
            ):
                self.s.expenses[expense_id] = replace(x, invoice_id=invoice_id)
                expenses += 1
        return entries, expenses

    async def release(self, invoice_id: str) -> tuple[list[str], list[str]]:
        entries, expenses = [], []
        for key, e in self.s.entries.items():
            if e.invoice_id == invoice_id:
                self.s.entries[key] = replace(e, invoice_id=None)
                entries.append(e.entry_id)
        for expense_id, x in self.s.expenses.items():
            if x.invoice_id == invoice_id:
                self.s.expenses[expense_id] = replace(x, invoice_id=None)
                expenses.append(x.expense_id)
        return sorted(entries), sorted(expenses)

    async def release_unbillable(self, invoice_id: str) -> None:
        for key, e in self.s.entries.items():
            if e.invoice_id == invoice_id and (e.deleted or not e.billable):
                self.s.entries[key] = replace(e, invoice_id=None)

    async def expenses_of(self, invoice_id: str) -> list[Expense]:
        found = [x for x in self.s.expenses.values() if x.invoice_id == invoice_id]
        return sorted(found, key=lambda x: (x.date, x.expense_id))

    # -- invoices ------------------------------------------------------------------------------

    async def add_invoice(self, invoice: Invoice) -> None:
        self.s.invoices[invoice.invoice_id] = invoice

    async def invoice(self, invoice_id: str, *, lock: bool = False) -> Invoice | None:
        return self.s.invoices.get(invoice_id)

    async def invoice_by_tool_id(
        self, connection_id: str, provider_invoice_id: str
    ) -> Invoice | None:
        return next(
            (
                i
                for i in self.s.invoices.values()
                if (i.connection_id, i.provider_invoice_id) == (connection_id, provider_invoice_id)
            ),
            None,
        )

    async def invoices(
        self, workspace_id: str, *, client_id: str | None, status: str | None
    ) -> list[Invoice]:
        found = [
            i
            for i in self.s.invoices.values()
            if i.workspace_id == workspace_id
            and client_id in (None, i.client_id)
            and status in (None, i.status)
        ]
        found.sort(key=lambda i: i.invoice_id)
        found.sort(key=lambda i: i.created_at, reverse=True)
        return found

    async def stalled_exports(self, before: dt.datetime) -> list[Invoice]:
        found = [
            i
            for i in self.s.invoices.values()
            if i.status == "exporting"
            and i.export_requested_at is not None
            and i.export_requested_at < before
        ]
        return sorted(found, key=lambda i: i.export_requested_at or before)

    async def update_invoice(self, invoice_id: str, **fields: Any) -> None:
        if "lines" in fields and fields["lines"] is not None:
            fields["lines"] = tuple(fields["lines"])
        self.s.invoices[invoice_id] = replace(self.s.invoices[invoice_id], **fields)


class MemoryStore:
    """The ``Store`` port in memory; ``state`` is what it holds."""

    def __init__(self) -> None:
        self.state = State()

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[MemoryTx]:
        before = copy.deepcopy(self.state)
        try:
            yield MemoryTx(self.state)
        except BaseException:
            self.state.__dict__.update(before.__dict__)
            raise

    @asynccontextmanager
    async def once(self, consumer: str, envelope: Envelope) -> AsyncIterator[MemoryTx | None]:
        key = (consumer, str(envelope.event_id))
        if key in self.state.seen:
            yield None
            return
        async with self.tx() as tx:
            self.state.seen.add(key)
            yield tx
