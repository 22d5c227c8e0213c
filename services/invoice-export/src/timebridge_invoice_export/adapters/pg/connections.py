"""Rows of accounting connections: OAuth states, connections, polls, webhook verifiers.

The OAuth tokens are not here: the credentials service owns them (migration 0004 dropped them).
"""

import datetime as dt
from collections.abc import Sequence

from timebridge_invoice_export.adapters.pg.rows import (
    Rows,
    _connection,
    _locking,
    verifier_context,
)
from timebridge_invoice_export.domain.accounting import Tenant
from timebridge_invoice_export.domain.connections import (
    AccountingConnection,
    ConnectionStatus,
    OAuthState,
)


class ConnectionRows(Rows):
    """Connections of a transaction."""

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
        connected_by: str,
        now: dt.datetime,
    ) -> None:
        """Create the connection or revive it (a reconnect keeps its id, clients, invoices)."""
        await self.conn.execute(
            "INSERT INTO accounting_connections (connection_id, workspace_id, provider, status,"
            " tenant_id, tenant_name, tenants, connected_by, created_at, updated_at, next_poll_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $8, $8, $8)"
            " ON CONFLICT (connection_id) DO UPDATE SET status = EXCLUDED.status,"
            " tenant_id = EXCLUDED.tenant_id, tenant_name = EXCLUDED.tenant_name,"
            " tenants = EXCLUDED.tenants, connected_by = EXCLUDED.connected_by,"
            " updated_at = EXCLUDED.updated_at, next_poll_at = EXCLUDED.next_poll_at,"
            " last_error = NULL",
            connection_id,
            workspace_id,
            provider,
            status,
            tenant_id,
            tenant_name,
            [{"id": t.id, "name": t.name} for t in tenants],
            now,
            connected_by,
        )

    async def delete_connection(self, connection_id: str) -> None:
        """Drop a pending connection whose company turned out to be connected already."""
        await self.conn.execute(
            "DELETE FROM accounting_connections WHERE connection_id = $1", connection_id
        )

    async def set_connection_status(
        self,
        connection_id: str,
        status: ConnectionStatus,
        now: dt.datetime,
        *,
        error: str | None = None,
        forget_webhooks: bool = False,
    ) -> None:
        await self.conn.execute(
            "UPDATE accounting_connections SET status = $2, last_error = $3, updated_at = $4,"
            " webhook_verifiers = CASE WHEN $5 THEN '{}'::jsonb ELSE webhook_verifiers END,"
            " webhooks_registered_at = CASE WHEN $5 THEN NULL ELSE webhooks_registered_at END"
            " WHERE connection_id = $1",
            connection_id,
            status,
            error,
            now,
            forget_webhooks,
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
