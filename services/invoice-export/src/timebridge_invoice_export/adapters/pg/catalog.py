"""Rows of what is billed to whom: mirrored clients, project assignments, rates, expenses."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict

from timebridge_invoice_export.adapters.pg.rows import Rows, _client, _expense, _locking
from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.invoices import Expense
from timebridge_invoice_export.domain.rates import Rate, tracker_source


class CatalogRows(Rows):
    """Clients, projects, rates and expenses of a transaction."""

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

    async def rate_source(self, workspace_id: str, client_id: str | None) -> str | None:
        """The tracker integration whose rates bill ``client_id`` (its own choice, else the
        workspace's); ``None``: Timebridge's own rates."""
        source: str | None = await self.conn.fetchval(
            "SELECT integration_id FROM rate_sources WHERE workspace_id = $1"
            " AND client_id IN ('', coalesce($2, '')) ORDER BY client_id DESC LIMIT 1",
            workspace_id,
            client_id,
        )
        return source

    async def put_rate_source(
        self, workspace_id: str, client_id: str | None, integration_id: str | None
    ) -> None:
        await self.conn.execute(
            "INSERT INTO rate_sources (workspace_id, client_id, integration_id)"
            " VALUES ($1, coalesce($2, ''), $3) ON CONFLICT (workspace_id, client_id)"
            " DO UPDATE SET integration_id = EXCLUDED.integration_id, updated_at = now()",
            workspace_id,
            client_id,
            integration_id,
        )

    async def tracker_rates(self, workspace_id: str, integration_id: str) -> list[Rate]:
        rows = await self.conn.fetch(
            "SELECT rate_id, project_id, user_id, hourly_rate, currency FROM tracker_rates"
            " WHERE workspace_id = $1 AND integration_id = $2"
            " ORDER BY project_id NULLS LAST, user_id NULLS LAST",
            workspace_id,
            integration_id,
        )
        return [Rate(**dict(r), source=tracker_source(integration_id)) for r in rows]

    async def replace_tracker_rates(
        self, workspace_id: str, integration_id: str, rates: Sequence[Rate], read_at: dt.datetime
    ) -> None:
        await self.conn.execute(
            "DELETE FROM tracker_rates WHERE workspace_id = $1 AND integration_id = $2",
            workspace_id,
            integration_id,
        )
        await self.conn.executemany(
            "INSERT INTO tracker_rates (workspace_id, integration_id, rate_id, project_id,"
            " user_id, hourly_rate, currency, read_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                (
                    workspace_id,
                    integration_id,
                    r.rate_id,
                    r.project_id,
                    r.user_id,
                    r.hourly_rate,
                    r.currency,
                    read_at,
                )
                for r in rates
            ],
        )

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
