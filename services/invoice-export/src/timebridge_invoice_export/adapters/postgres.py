"""Postgres storage of invoice-export.

Handlers work inside one transaction (:meth:`Store.tx`, or :meth:`Store.once` for a consumed
event, which also claims its id in the inbox); rows they decide on are read ``FOR UPDATE`` so
that a webhook, a poll and an admin acting on the same invoice or client serialise. Events are
staged in the outbox of the same transaction: the state and what it announces commit together.
"""

import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from timebridge_common.crypto import SecretBox
from timebridge_common.db.inbox import once
from timebridge_common.db.outbox import enqueue
from timebridge_common.events import Envelope, Event
from timebridge_common.outbound.oauth import Tokens
from timebridge_invoice_export.domain.accounting import Address, TaxDetails, Tenant
from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.connections import AccountingConnection, ConnectionStatus
from timebridge_invoice_export.domain.invoices import Expense, Invoice, InvoiceStatus, Line
from timebridge_invoice_export.domain.ledger import Held, LedgerEntry
from timebridge_invoice_export.domain.money import round_money
from timebridge_invoice_export.domain.rates import Rate


def token_context(connection_id: str) -> str:
    return f"accounting-connection:{connection_id}/tokens"


def verifier_context(connection_id: str, callback_id: str) -> str:
    return f"accounting-connection:{connection_id}/webhook-verifier:{callback_id}"


@dataclass(frozen=True, slots=True)
class OAuthState:
    workspace_id: str
    provider: str
    redirect_uri: str
    requested_by: str


def _locking(query: str, lock: bool) -> str:
    """``query`` reading the row ``FOR UPDATE`` when the caller will decide on it."""
    return query + " FOR UPDATE" if lock else query


class Tx:
    """One open transaction; every method runs in it."""

    def __init__(self, conn: asyncpg.Connection, box: SecretBox) -> None:
        self.conn = conn
        self._box = box

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        await enqueue(self.conn, events)

    # -- OAuth states and connections -------------------------------------------------------

    async def add_oauth_state(self, state: str, value: OAuthState, expires_at: dt.datetime) -> None:
        await self.conn.execute(
            "INSERT INTO oauth_states (state, workspace_id, provider, redirect_uri, requested_by,"
            " expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            state,
            value.workspace_id,
            value.provider,
            value.redirect_uri,
            value.requested_by,
            expires_at,
        )

    async def use_oauth_state(
        self, state: str, provider: str, now: dt.datetime
    ) -> OAuthState | None:
        """Spend ``state`` (once, before it expires); None if unknown, used or expired."""
        row = await self.conn.fetchrow(
            "UPDATE oauth_states SET used_at = $3 WHERE state = $1 AND provider = $2"
            " AND used_at IS NULL AND expires_at > $3"
            " RETURNING workspace_id, provider, redirect_uri, requested_by",
            state,
            provider,
            now,
        )
        return None if row is None else OAuthState(**dict(row))

    async def connection(
        self, connection_id: str, *, lock: bool = False
    ) -> AccountingConnection | None:
        row = await self.conn.fetchrow(
            _locking("SELECT * FROM accounting_connections WHERE connection_id = $1", lock),
            connection_id,
        )
        return None if row is None else _connection(row)

    async def connection_for_tenant(
        self, workspace_id: str, provider: str, tenant_id: str
    ) -> AccountingConnection | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM accounting_connections WHERE workspace_id = $1 AND provider = $2"
            " AND tenant_id = $3 FOR UPDATE",
            workspace_id,
            provider,
            tenant_id,
        )
        return None if row is None else _connection(row)

    async def connections_of_tenant(self, provider: str, tenant_id: str) -> list[str]:
        """Connected connections (of any workspace) to one company: webhook routing."""
        rows = await self.conn.fetch(
            "SELECT connection_id FROM accounting_connections WHERE provider = $1"
            " AND tenant_id = $2 AND status = 'connected' ORDER BY connection_id",
            provider,
            tenant_id,
        )
        return [r["connection_id"] for r in rows]

    async def connections(self, workspace_id: str) -> list[AccountingConnection]:
        rows = await self.conn.fetch(
            "SELECT * FROM accounting_connections WHERE workspace_id = $1"
            " ORDER BY created_at, connection_id",
            workspace_id,
        )
        return [_connection(r) for r in rows]

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
        tokens: Tokens | None,
        connected_by: str,
        now: dt.datetime,
    ) -> None:
        """Create the connection or revive it (a reconnect keeps its id, clients, invoices)."""
        await self.conn.execute(
            "INSERT INTO accounting_connections (connection_id, workspace_id, provider, status,"
            " tenant_id, tenant_name, tenants, tokens_encrypted, tokens_saved_at, connected_by,"
            " created_at, updated_at, next_poll_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $9, $9)"
            " ON CONFLICT (connection_id) DO UPDATE SET status = EXCLUDED.status,"
            " tenant_id = EXCLUDED.tenant_id, tenant_name = EXCLUDED.tenant_name,"
            " tenants = EXCLUDED.tenants, tokens_encrypted = EXCLUDED.tokens_encrypted,"
            " tokens_saved_at = EXCLUDED.tokens_saved_at, connected_by = EXCLUDED.connected_by,"
            " updated_at = EXCLUDED.updated_at, next_poll_at = EXCLUDED.next_poll_at,"
            " last_error = NULL",
            connection_id,
            workspace_id,
            provider,
            status,
            tenant_id,
            tenant_name,
            [{"id": t.id, "name": t.name} for t in tenants],
            None if tokens is None else self._seal(connection_id, tokens),
            now,
            connected_by,
        )

    async def set_connection_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        now: dt.datetime,
        *,
        error: str | None = None,
        wipe_tokens: bool = False,
    ) -> None:
        await self.conn.execute(
            "UPDATE accounting_connections SET status = $2, last_error = $3, updated_at = $4,"
            " tokens_encrypted = CASE WHEN $5 THEN NULL ELSE tokens_encrypted END,"
            " webhook_verifiers = CASE WHEN $5 THEN '{}'::jsonb ELSE webhook_verifiers END,"
            " webhooks_registered_at = CASE WHEN $5 THEN NULL ELSE webhooks_registered_at END"
            " WHERE connection_id = $1",
            connection_id,
            status,
            error,
            now,
            wipe_tokens,
        )

    async def claim_due_polls(self, now: dt.datetime, interval_s: float) -> list[str]:
        """Connections due for a poll, claimed until the next interval (replicas share)."""
        rows = await self.conn.fetch(
            "UPDATE accounting_connections SET next_poll_at = $1 + make_interval(secs => $2)"
            " WHERE connection_id IN (SELECT connection_id FROM accounting_connections"
            " WHERE status = 'connected' AND next_poll_at <= $1"
            " ORDER BY next_poll_at FOR UPDATE SKIP LOCKED) RETURNING connection_id",
            now,
            interval_s,
        )
        return [r["connection_id"] for r in rows]

    async def poll_now(self, connection_id: str, now: dt.datetime) -> None:
        await self.conn.execute(
            "UPDATE accounting_connections SET next_poll_at = $2 WHERE connection_id = $1",
            connection_id,
            now,
        )

    async def polled(
        self,
        connection_id: str,
        now: dt.datetime,
        *,
        cursor: dt.datetime | None,
        mirrored: bool,
        error: str | None,
    ) -> None:
        await self.conn.execute(
            "UPDATE accounting_connections SET last_poll_at = $2, last_error = $3,"
            " changes_cursor = coalesce($4, changes_cursor),"
            " mirrored_at = CASE WHEN $5 THEN coalesce(mirrored_at, $2) ELSE mirrored_at END"
            " WHERE connection_id = $1",
            connection_id,
            now,
            error,
            cursor,
            mirrored,
        )

    async def webhooks_registered(self, connection_id: str, now: dt.datetime) -> None:
        await self.conn.execute(
            "UPDATE accounting_connections SET webhooks_registered_at = $2"
            " WHERE connection_id = $1",
            connection_id,
            now,
        )

    async def add_webhook_verifier(
        self, connection_id: str, callback_id: str, verifier: str
    ) -> None:
        sealed = self._box.encrypt(verifier, context=verifier_context(connection_id, callback_id))
        await self.conn.execute(
            "UPDATE accounting_connections SET webhook_verifiers = webhook_verifiers || $2::jsonb"
            " WHERE connection_id = $1",
            connection_id,
            {callback_id: sealed},
        )

    async def webhook_verifiers(self, connection_id: str) -> list[str]:
        stored = await self.conn.fetchval(
            "SELECT webhook_verifiers FROM accounting_connections WHERE connection_id = $1",
            connection_id,
        )
        return [
            self._box.decrypt(v, context=verifier_context(connection_id, k))
            for k, v in (stored or {}).items()
        ]

    async def tokens(self, connection_id: str, *, lock: bool) -> Tokens | None:
        sealed = await self.conn.fetchval(
            _locking(
                "SELECT tokens_encrypted FROM accounting_connections WHERE connection_id = $1",
                lock,
            ),
            connection_id,
        )
        return None if sealed is None else self._open(connection_id, sealed)

    async def save_tokens(self, connection_id: str, tokens: Tokens, now: dt.datetime) -> None:
        await self.conn.execute(
            "UPDATE accounting_connections SET tokens_encrypted = $2, tokens_saved_at = $3"
            " WHERE connection_id = $1",
            connection_id,
            self._seal(connection_id, tokens),
            now,
        )

    def _seal(self, connection_id: str, tokens: Tokens) -> str:
        plain = json.dumps(
            {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "expires_at": tokens.expires_at.isoformat(),
            }
        )
        return self._box.encrypt(plain, context=token_context(connection_id))

    def _open(self, connection_id: str, sealed: str) -> Tokens:
        data = json.loads(self._box.decrypt(sealed, context=token_context(connection_id)))
        return Tokens(
            data["access_token"],
            data["refresh_token"],
            dt.datetime.fromisoformat(data["expires_at"]),
        )

    # -- clients and projects ------------------------------------------------------------------

    async def client(self, client_id: str, *, lock: bool = False) -> MirroredClient | None:
        row = await self.conn.fetchrow(
            _locking("SELECT * FROM clients WHERE client_id = $1", lock),
            client_id,
        )
        return None if row is None else _client(row)

    async def client_by_external_id(
        self, connection_id: str, external_id: str
    ) -> MirroredClient | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM clients WHERE connection_id = $1 AND external_id = $2 FOR UPDATE",
            connection_id,
            external_id,
        )
        return None if row is None else _client(row)

    async def clients(self, workspace_id: str, status: str | None) -> list[MirroredClient]:
        rows = await self.conn.fetch(
            "SELECT * FROM clients WHERE workspace_id = $1 AND ($2::text IS NULL OR"
            " (CASE WHEN active_in_tool AND NOT archived_in_timebridge THEN 'active'"
            " ELSE 'archived' END) = $2) ORDER BY lower(name), client_id",
            workspace_id,
            status,
        )
        return [_client(r) for r in rows]

    async def save_client(self, client: MirroredClient) -> None:
        tax = asdict(client.tax)
        address = None if client.address is None else asdict(client.address)
        await self.conn.execute(
            "INSERT INTO clients (client_id, workspace_id, connection_id, provider, external_id,"
            " name, email, address, tax, currency, active_in_tool, archived_in_timebridge,"
            " source_updated_at, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
            " $12, $13, $14) ON CONFLICT (client_id) DO UPDATE SET name = EXCLUDED.name,"
            " email = EXCLUDED.email, address = EXCLUDED.address, tax = EXCLUDED.tax,"
            " currency = EXCLUDED.currency, active_in_tool = EXCLUDED.active_in_tool,"
            " archived_in_timebridge = EXCLUDED.archived_in_timebridge,"
            " source_updated_at = EXCLUDED.source_updated_at, revision = EXCLUDED.revision,"
            " updated_at = now()",
            client.client_id,
            client.workspace_id,
            client.connection_id,
            client.provider,
            client.external_id,
            client.name,
            client.email,
            address,
            tax,
            client.currency,
            client.active_in_tool,
            client.archived_in_timebridge,
            client.source_updated_at,
            client.revision,
        )

    async def assign_project(
        self, workspace_id: str, project_id: str, name: str, client_id: str
    ) -> None:
        await self.conn.execute(
            "INSERT INTO projects (workspace_id, project_id, name, client_id) VALUES ($1, $2, $3,"
            " $4) ON CONFLICT (workspace_id, project_id) DO UPDATE SET name = EXCLUDED.name,"
            " client_id = EXCLUDED.client_id, assigned_at = now()",
            workspace_id,
            project_id,
            name,
            client_id,
        )

    async def unassign_project(self, workspace_id: str, project_id: str) -> bool:
        done: str = await self.conn.execute(
            "DELETE FROM projects WHERE workspace_id = $1 AND project_id = $2",
            workspace_id,
            project_id,
        )
        return done != "DELETE 0"

    async def projects(self, workspace_id: str) -> dict[str, tuple[str, str]]:
        """project id -> (name, client id)."""
        rows = await self.conn.fetch(
            "SELECT project_id, name, client_id FROM projects WHERE workspace_id = $1",
            workspace_id,
        )
        return {r["project_id"]: (r["name"], r["client_id"]) for r in rows}

    # -- rates and expenses --------------------------------------------------------------------

    async def rates(self, workspace_id: str) -> list[Rate]:
        rows = await self.conn.fetch(
            "SELECT rate_id, project_id, user_id, hourly_rate, currency FROM rates"
            " WHERE workspace_id = $1 ORDER BY project_id NULLS LAST, user_id NULLS LAST",
            workspace_id,
        )
        return [Rate(**dict(r)) for r in rows]

    async def put_rate(self, workspace_id: str, rate: Rate) -> Rate:
        """Insert or replace the rate of that scope; returns it with its (kept) id."""
        row = await self.conn.fetchrow(
            "INSERT INTO rates (rate_id, workspace_id, project_id, user_id, hourly_rate,"
            " currency) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (workspace_id, coalesce(project_id, ''), coalesce(user_id, ''))"
            " DO UPDATE SET hourly_rate = EXCLUDED.hourly_rate, currency = EXCLUDED.currency,"
            " updated_at = now()"
            " RETURNING rate_id, project_id, user_id, hourly_rate, currency",
            rate.rate_id,
            workspace_id,
            rate.project_id,
            rate.user_id,
            rate.hourly_rate,
            rate.currency,
        )
        return Rate(**dict(row))

    async def delete_rate(self, workspace_id: str, rate_id: str) -> bool:
        done: str = await self.conn.execute(
            "DELETE FROM rates WHERE workspace_id = $1 AND rate_id = $2", workspace_id, rate_id
        )
        return done != "DELETE 0"

    async def add_expense(self, expense: Expense) -> None:
        await self.conn.execute(
            "INSERT INTO expenses (expense_id, workspace_id, project_id, date, description,"
            " amount, currency, billable) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            expense.expense_id,
            expense.workspace_id,
            expense.project_id,
            expense.date,
            expense.description,
            expense.amount,
            expense.currency,
            expense.billable,
        )

    async def expense(self, expense_id: str, *, lock: bool = False) -> Expense | None:
        row = await self.conn.fetchrow(
            _locking("SELECT * FROM expenses WHERE expense_id = $1", lock),
            expense_id,
        )
        return None if row is None else _expense(row)

    async def expenses(self, workspace_id: str) -> list[Expense]:
        rows = await self.conn.fetch(
            "SELECT * FROM expenses WHERE workspace_id = $1 ORDER BY date, expense_id",
            workspace_id,
        )
        return [_expense(r) for r in rows]

    async def delete_expense(self, expense_id: str) -> None:
        await self.conn.execute("DELETE FROM expenses WHERE expense_id = $1", expense_id)

    # -- the ledger ----------------------------------------------------------------------------

    async def held_entry(self, workspace_id: str, entry_id: str) -> Held | None:
        row = await self.conn.fetchrow(
            "SELECT e.source_updated_at, e.invoice_id, i.status AS invoice_status"
            " FROM time_entries e LEFT JOIN invoices i USING (invoice_id)"
            " WHERE e.workspace_id = $1 AND e.entry_id = $2 FOR UPDATE OF e",
            workspace_id,
            entry_id,
        )
        if row is None:
            return None
        locked = row["invoice_status"] in ("exporting", "exported")
        return Held(row["source_updated_at"], row["invoice_id"], locked)

    async def save_entry(self, entry: LedgerEntry) -> None:
        await self.conn.execute(
            "INSERT INTO time_entries (workspace_id, entry_id, user_id, user_email, user_name,"
            " project_id, ticket_id, date, duration_seconds, notes, billable, deleted,"
            " source_updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " ON CONFLICT (workspace_id, entry_id) DO UPDATE SET user_id = EXCLUDED.user_id,"
            " user_email = EXCLUDED.user_email, user_name = EXCLUDED.user_name,"
            " project_id = EXCLUDED.project_id, ticket_id = EXCLUDED.ticket_id,"
            " date = EXCLUDED.date, duration_seconds = EXCLUDED.duration_seconds,"
            " notes = EXCLUDED.notes, billable = EXCLUDED.billable, deleted = EXCLUDED.deleted,"
            " source_updated_at = EXCLUDED.source_updated_at",
            entry.workspace_id,
            entry.entry_id,
            entry.user_id,
            entry.user_email,
            entry.user_name,
            entry.project_id,
            entry.ticket_id,
            entry.date,
            entry.duration_seconds,
            entry.notes,
            entry.billable,
            entry.deleted,
            entry.source_updated_at,
        )

    async def record_locked_change(self, entry: LedgerEntry, invoice_id: str) -> None:
        await self.conn.execute(
            "INSERT INTO locked_entry_changes (workspace_id, entry_id, invoice_id,"
            " source_updated_at, duration_seconds, deleted) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT DO NOTHING",
            entry.workspace_id,
            entry.entry_id,
            invoice_id,
            entry.source_updated_at,
            entry.duration_seconds,
            entry.deleted,
        )

    async def locked_changes(self, invoice_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            "SELECT entry_id, source_updated_at, duration_seconds, deleted, received_at"
            " FROM locked_entry_changes WHERE invoice_id = $1 ORDER BY received_at, entry_id",
            invoice_id,
        )
        return [dict(r) for r in rows]

    async def entries(
        self, workspace_id: str, *, invoice_id: str | None = None, uninvoiced: bool = False
    ) -> list[LedgerEntry]:
        rows = await self.conn.fetch(
            "SELECT * FROM time_entries WHERE workspace_id = $1"
            " AND ($2::text IS NULL OR invoice_id = $2)"
            " AND (NOT $3 OR (invoice_id IS NULL AND billable AND NOT deleted))"
            " ORDER BY date, entry_id",
            workspace_id,
            invoice_id,
            uninvoiced,
        )
        return [_entry(r) for r in rows]

    async def reserve(
        self,
        workspace_id: str,
        invoice_id: str,
        project_ids: Sequence[str],
        start: dt.date,
        end: dt.date,
    ) -> tuple[int, int]:
        """Put the period's billable, uninvoiced entries and expenses of those projects on the
        invoice; returns how many of each (the rows are locked: two drafts never share one)."""
        entries: str = await self.conn.execute(
            "UPDATE time_entries SET invoice_id = $2 WHERE workspace_id = $1"
            " AND invoice_id IS NULL AND billable AND NOT deleted AND project_id = ANY($3::text[])"
            " AND date BETWEEN $4 AND $5",
            workspace_id,
            invoice_id,
            list(project_ids),
            start,
            end,
        )
        expenses: str = await self.conn.execute(
            "UPDATE expenses SET invoice_id = $2 WHERE workspace_id = $1 AND invoice_id IS NULL"
            " AND billable AND project_id = ANY($3::text[]) AND date BETWEEN $4 AND $5",
            workspace_id,
            invoice_id,
            list(project_ids),
            start,
            end,
        )
        return int(entries.rsplit(maxsplit=1)[-1]), int(expenses.rsplit(maxsplit=1)[-1])

    async def release(self, invoice_id: str) -> tuple[list[str], list[str]]:
        """Take every entry and expense off the invoice; returns their ids."""
        entries = await self.conn.fetch(
            "UPDATE time_entries SET invoice_id = NULL WHERE invoice_id = $1 RETURNING entry_id",
            invoice_id,
        )
        expenses = await self.conn.fetch(
            "UPDATE expenses SET invoice_id = NULL WHERE invoice_id = $1 RETURNING expense_id",
            invoice_id,
        )
        return sorted(r["entry_id"] for r in entries), sorted(r["expense_id"] for r in expenses)

    async def release_unbillable(self, invoice_id: str) -> None:
        """A draft lets go of entries that were deleted or made non-billable meanwhile."""
        await self.conn.execute(
            "UPDATE time_entries SET invoice_id = NULL WHERE invoice_id = $1"
            " AND (deleted OR NOT billable)",
            invoice_id,
        )

    async def expenses_of(self, invoice_id: str) -> list[Expense]:
        rows = await self.conn.fetch(
            "SELECT * FROM expenses WHERE invoice_id = $1 ORDER BY date, expense_id", invoice_id
        )
        return [_expense(r) for r in rows]

    # -- invoices ------------------------------------------------------------------------------

    async def add_invoice(self, invoice: Invoice) -> None:
        await self.conn.execute(
            "INSERT INTO invoices (invoice_id, workspace_id, client_id, connection_id, provider,"
            " period_start, period_end, issue_date, due_date, status, created_by, created_at,"
            " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            invoice.invoice_id,
            invoice.workspace_id,
            invoice.client_id,
            invoice.connection_id,
            invoice.provider,
            invoice.period_start,
            invoice.period_end,
            invoice.issue_date,
            invoice.due_date,
            invoice.status,
            invoice.created_by,
            invoice.created_at,
        )

    async def invoice(self, invoice_id: str, *, lock: bool = False) -> Invoice | None:
        row = await self.conn.fetchrow(
            _locking("SELECT * FROM invoices WHERE invoice_id = $1", lock),
            invoice_id,
        )
        return None if row is None else _invoice(row)

    async def invoice_by_tool_id(
        self, connection_id: str, provider_invoice_id: str
    ) -> Invoice | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM invoices WHERE connection_id = $1 AND provider_invoice_id = $2"
            " FOR UPDATE",
            connection_id,
            provider_invoice_id,
        )
        return None if row is None else _invoice(row)

    async def invoices(
        self, workspace_id: str, *, client_id: str | None, status: str | None
    ) -> list[Invoice]:
        rows = await self.conn.fetch(
            "SELECT * FROM invoices WHERE workspace_id = $1"
            " AND ($2::text IS NULL OR client_id = $2) AND ($3::text IS NULL OR status = $3)"
            " ORDER BY created_at DESC, invoice_id",
            workspace_id,
            client_id,
            status,
        )
        return [_invoice(r) for r in rows]

    async def stalled_exports(self, before: dt.datetime) -> list[Invoice]:
        rows = await self.conn.fetch(
            "SELECT * FROM invoices WHERE status = 'exporting' AND export_requested_at < $1"
            " ORDER BY export_requested_at FOR UPDATE SKIP LOCKED",
            before,
        )
        return [_invoice(r) for r in rows]

    async def update_invoice(self, invoice_id: str, **fields: Any) -> None:
        """Set the given columns (names are this module's callers', never user input)."""
        if "lines" in fields and fields["lines"] is not None:
            fields["lines"] = [_line_json(line) for line in fields["lines"]]
        names = sorted(fields)
        assignments = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
        await self.conn.execute(
            f"UPDATE invoices SET {assignments}, updated_at = now() WHERE invoice_id = $1",  # noqa: S608
            invoice_id,
            *(fields[name] for name in names),
        )


class Store:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self.pool = pool
        self._box = box

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Tx]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield Tx(conn, self._box)

    @asynccontextmanager
    async def once(self, consumer: str, envelope: Envelope) -> AsyncIterator[Tx | None]:
        """A transaction that also claims ``envelope`` for ``consumer`` (None: seen before)."""
        async with once(self.pool, consumer, envelope) as conn:
            yield None if conn is None else Tx(conn, self._box)


class PostgresTokenStore:
    """The ``TokenStore`` of the OAuth ``TokenManager``: tokens sealed in ``connections``.

    ``locked`` holds the connection's row lock for the whole refresh, so one process refreshes
    and every other waits and then reads the rotated tokens; ``save`` writes them in that same
    transaction, which commits before the new access token is handed out.
    """

    def __init__(self, store: Store, clock: Any) -> None:
        self._store = store
        self._clock = clock

    async def load(self, connection_id: str) -> Tokens:
        async with self._store.tx() as tx:
            tokens = await tx.tokens(connection_id, lock=False)
        return _require(connection_id, tokens)

    @asynccontextmanager
    async def locked(self, connection_id: str) -> AsyncIterator["_Slot"]:
        async with self._store.tx() as tx:
            tokens = _require(connection_id, await tx.tokens(connection_id, lock=True))
            yield _Slot(tx, connection_id, tokens, self._clock)


@dataclass
class _Slot:
    tx: Tx
    connection_id: str
    tokens: Tokens
    clock: Any

    async def save(self, new: Tokens) -> None:
        await self.tx.save_tokens(self.connection_id, new, self.clock())
        self.tokens = new


class NoTokensError(Exception):
    """The connection has no tokens (disconnected)."""


def _require(connection_id: str, tokens: Tokens | None) -> Tokens:
    if tokens is None:
        raise NoTokensError(f"accounting connection {connection_id} holds no tokens")
    return tokens


def _connection(row: asyncpg.Record) -> AccountingConnection:
    return AccountingConnection(
        connection_id=row["connection_id"],
        workspace_id=row["workspace_id"],
        provider=row["provider"],
        status=row["status"],
        tenant_id=row["tenant_id"],
        tenant_name=row["tenant_name"],
        tenants=tuple(Tenant(t["id"], t["name"]) for t in row["tenants"]),
        mirrored_at=row["mirrored_at"],
        changes_cursor=row["changes_cursor"],
        last_poll_at=row["last_poll_at"],
        last_error=row["last_error"],
        webhooks_registered_at=row["webhooks_registered_at"],
        created_at=row["created_at"],
        verified_webhooks=len(row["webhook_verifiers"]),
    )


def _client(row: asyncpg.Record) -> MirroredClient:
    address = row["address"]
    return MirroredClient(
        client_id=row["client_id"],
        workspace_id=row["workspace_id"],
        connection_id=row["connection_id"],
        provider=row["provider"],
        external_id=row["external_id"],
        name=row["name"],
        email=row["email"],
        address=None if address is None else Address(**address),
        tax=TaxDetails(**row["tax"]),
        currency=row["currency"],
        active_in_tool=row["active_in_tool"],
        archived_in_timebridge=row["archived_in_timebridge"],
        source_updated_at=row["source_updated_at"],
        revision=row["revision"],
    )


def _entry(row: asyncpg.Record) -> LedgerEntry:
    return LedgerEntry(
        workspace_id=row["workspace_id"],
        entry_id=row["entry_id"],
        user_id=row["user_id"],
        user_email=row["user_email"],
        user_name=row["user_name"],
        project_id=row["project_id"],
        ticket_id=row["ticket_id"],
        date=row["date"],
        duration_seconds=row["duration_seconds"],
        notes=row["notes"],
        billable=row["billable"],
        deleted=row["deleted"],
        source_updated_at=row["source_updated_at"],
        invoice_id=row["invoice_id"],
    )


def _expense(row: asyncpg.Record) -> Expense:
    return Expense(
        expense_id=row["expense_id"],
        workspace_id=row["workspace_id"],
        project_id=row["project_id"],
        date=row["date"],
        description=row["description"],
        amount=row["amount"],
        currency=row["currency"],
        billable=row["billable"],
        invoice_id=row["invoice_id"],
    )


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "description": line.description,
        "project_id": line.project_id,
        "user_id": line.user_id,
        "quantity": str(line.quantity),
        "unit_price": str(line.unit_price),
        "amount": str(line.amount),
        "entry_ids": list(line.entry_ids),
        "expense_id": line.expense_id,
        "first_date": None if line.first_date is None else line.first_date.isoformat(),
    }


def _line(data: dict[str, Any]) -> Line:
    return Line(
        kind=data["kind"],
        description=data["description"],
        project_id=data["project_id"],
        user_id=data["user_id"],
        quantity=Decimal(data["quantity"]),
        unit_price=Decimal(data["unit_price"]),
        amount=Decimal(data["amount"]),
        entry_ids=tuple(data["entry_ids"]),
        expense_id=data["expense_id"],
        first_date=None
        if data["first_date"] is None
        else dt.date.fromisoformat(data["first_date"]),
    )


def _money(value: Decimal | None, currency: str | None) -> Decimal | None:
    """An amount as the currency writes it (``numeric(18,4)`` pads to four places)."""
    return None if value is None else round_money(value, currency or "XXX")


def _invoice(row: asyncpg.Record) -> Invoice:
    status: InvoiceStatus = row["status"]
    return Invoice(
        invoice_id=row["invoice_id"],
        workspace_id=row["workspace_id"],
        client_id=row["client_id"],
        connection_id=row["connection_id"],
        provider=row["provider"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        issue_date=row["issue_date"],
        due_date=row["due_date"],
        status=status,
        currency=row["currency"],
        lines=tuple(_line(line) for line in row["lines"] or ()),
        total=_money(row["total"], row["currency"]),
        export_requested_at=row["export_requested_at"],
        export_attempt=row["export_attempt"],
        export_error=row["export_error"],
        exported_at=row["exported_at"],
        provider_invoice_id=row["provider_invoice_id"],
        tool_status=row["tool_status"],
        number=row["number"],
        tool_issue_date=row["tool_issue_date"],
        tool_total=_money(row["tool_total"], row["currency"]),
        tool_updated_at=row["tool_updated_at"],
        amount_changed=row["amount_changed"],
        tool_checked_at=row["tool_checked_at"],
        deleted_at=row["deleted_at"],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )
