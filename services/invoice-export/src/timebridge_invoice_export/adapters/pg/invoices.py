"""Rows of invoices."""

import datetime as dt
from typing import Any

from timebridge_invoice_export.adapters.pg.rows import Rows, _invoice, _line_json, _locking
from timebridge_invoice_export.domain.invoices import Invoice


class InvoiceRows(Rows):
    """Invoices of a transaction."""

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
