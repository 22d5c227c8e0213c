"""Rows of the billable ledger: Core's time entries, their locked changes, reservations."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from timebridge_invoice_export.adapters.pg.rows import Rows, _entry, _expense
from timebridge_invoice_export.domain.invoices import Expense
from timebridge_invoice_export.domain.ledger import Held, LedgerEntry


class LedgerRows(Rows):
    """The ledger of a transaction."""

    async def held_entry(self, workspace_id: str, entry_id: str) -> Held | None:
        """The entry's version and its invoice's state, both locked until the transaction ends.

        The invoice is locked first (``FOR SHARE``), in the order an export takes them (invoice,
        then its entries), and read in its own statement: an export being committed is waited
        for and then seen as ``exporting``. Read in one statement with the entry, it was seen as
        the draft it had been, and a change landed in the ledger after the export had read the
        old hours: the invoice went out with them and nothing flagged the entry.
        """
        invoice_id: str | None = await self.conn.fetchval(
            "SELECT invoice_id FROM time_entries WHERE workspace_id = $1 AND entry_id = $2",
            workspace_id,
            entry_id,
        )
        while True:
            status: str | None = None
            if invoice_id is not None:
                status = await self.conn.fetchval(
                    "SELECT status FROM invoices WHERE invoice_id = $1 FOR SHARE", invoice_id
                )
            row = await self.conn.fetchrow(
                "SELECT source_updated_at, invoice_id FROM time_entries"
                " WHERE workspace_id = $1 AND entry_id = $2 FOR UPDATE",
                workspace_id,
                entry_id,
            )
            if row is None:
                return None
            if row["invoice_id"] == invoice_id:
                locked = status in ("exporting", "exported")
                return Held(row["source_updated_at"], invoice_id, locked)
            invoice_id = row["invoice_id"]  # put on (or off) an invoice meanwhile: again

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
