"""What every row class shares: the connection, the platform key, and the row mappers."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import asyncpg

from timebridge_common.crypto import SecretBox
from timebridge_common.db.outbox import enqueue
from timebridge_common.events import Envelope, Event
from timebridge_invoice_export.domain.accounting import Address, TaxDetails, Tenant
from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.connections import AccountingConnection
from timebridge_invoice_export.domain.invoices import Expense, Invoice, InvoiceStatus, Line
from timebridge_invoice_export.domain.ledger import LedgerEntry
from timebridge_invoice_export.domain.money import round_money
from timebridge_invoice_export.domain.rounding import RoundingUsed


def verifier_context(connection_id: str, callback_id: str) -> str:
    return f"accounting-connection:{connection_id}/webhook-verifier:{callback_id}"


def _locking(query: str, lock: bool) -> str:
    """``query`` reading the row ``FOR UPDATE`` when the caller will decide on it."""
    return query + " FOR UPDATE" if lock else query


class Rows:
    """One open transaction's connection (every method runs in it) and the platform key."""

    def __init__(self, conn: asyncpg.Connection, box: SecretBox) -> None:
        self.conn = conn
        self._box = box

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        """Stage events in the outbox of this transaction (they commit with the state)."""
        await enqueue(self.conn, events)


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
        "rate_source": line.rate_source,
        "rounding": None if line.rounding is None else asdict(line.rounding),
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
        rate_source=data.get("rate_source"),
        rounding=None if data.get("rounding") is None else RoundingUsed(**data["rounding"]),
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
        tool_gross_total=_money(row["tool_gross_total"], row["currency"]),
        overpaid=_money(row["overpaid"], row["currency"]) or Decimal(0),
        tool_updated_at=row["tool_updated_at"],
        amount_changed=row["amount_changed"],
        tool_checked_at=row["tool_checked_at"],
        deleted_at=row["deleted_at"],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )
