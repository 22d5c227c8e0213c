"""Keeping the mirror and the exported invoices as the tools have them.

Payments the polls see go to :class:`~timebridge_invoice_export.handlers.payments.PaymentSync`.
Three paths lead here and all end in the same two idempotent steps (:meth:`ToolSync.apply_client`,
:meth:`ToolSync.apply_invoice`): the first mirror after connecting (every active client), the
periodic poll of each connection (changes since its cursor), and the tools' webhooks (which name
a record; it is read again before anything is applied). Each step locks the row, lets the domain
compare what the tool says with what is held (a version older than the held one changes
nothing, so a late poll never undoes a webhook), and stages the announcement in the outbox of
the same transaction.
"""

import datetime as dt
from decimal import Decimal

import structlog

from timebridge_common.events import (
    ClientAddress,
    ClientChanged,
    Envelope,
    Event,
    InvoiceStatusChanged,
)
from timebridge_invoice_export.domain.accounting import ToolClient, ToolInvoice, gone_invoice
from timebridge_invoice_export.domain.clients import MirroredClient, mirror
from timebridge_invoice_export.domain.connections import AccountingConnection
from timebridge_invoice_export.domain.invoices import Invoice, tool_update
from timebridge_invoice_export.handlers.connections import Connections
from timebridge_invoice_export.handlers.payments import PaymentSync
from timebridge_invoice_export.handlers.ports import Clock
from timebridge_invoice_export.handlers.stores import Store

log = structlog.get_logger(__name__)

PRODUCER = "invoice-export"


def envelope(event: Event, cause: Envelope | None = None) -> Envelope:
    return Envelope.for_event(event, producer=PRODUCER, cause=cause)


def client_changed(client: MirroredClient, now: dt.datetime) -> ClientChanged:
    address = client.address
    return ClientChanged(
        workspace_id=client.workspace_id,
        client_id=client.client_id,
        connection_id=client.connection_id,
        provider=client.provider,
        external_id=client.external_id,
        display_name=client.name,
        email=client.email,
        address=None
        if address is None
        else ClientAddress(
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country=address.country,
        ),
        tax_number=client.tax.tax_number,
        taxable=client.tax.taxable,
        tax_code=client.tax.tax_code,
        currency=client.currency,
        status=client.status,
        archived_by=client.archived_by,
        revision=client.revision,
        changed_at=now,
    )


class ToolSync:
    def __init__(self, store: Store, connections: Connections, clock: Clock) -> None:
        self._store = store
        self._connections = connections
        self._clock = clock
        self.payments = PaymentSync(store, clock)

    async def apply_client(
        self, connection: AccountingConnection, seen: ToolClient, cause: Envelope | None = None
    ) -> MirroredClient | None:
        """Mirror one client as the tool has it; returns it if anything changed."""
        async with self._store.tx() as tx:
            existing = await tx.client_by_external_id(connection.connection_id, seen.external_id)
            updated = mirror(
                existing,
                seen,
                workspace_id=connection.workspace_id,
                connection_id=connection.connection_id,
                provider=connection.provider,
            )
            if updated is None:
                return None
            await tx.save_client(updated)
            event = client_changed(updated, self._clock())
            await tx.publish([(event, envelope(event, cause))])
        log.info(
            "client mirrored",
            client_id=updated.client_id,
            revision=updated.revision,
            status=updated.status,
        )
        return updated

    async def apply_invoice(
        self, connection: AccountingConnection, seen: ToolInvoice, cause: Envelope | None = None
    ) -> Invoice | None:
        """Record what the tool shows of one of our exported invoices (others are not ours:
        ignored); returns the invoice if its status, number, date or amount changed."""
        now = self._clock()
        async with self._store.tx() as tx:
            invoice = await tx.invoice_by_tool_id(connection.connection_id, seen.external_id)
            if invoice is None or invoice.status not in ("exported", "deleted"):
                return None
            update = tool_update(invoice.tool_view(), seen)
            if update is None:
                await tx.update_invoice(invoice.invoice_id, tool_checked_at=now)
                return None
            await tx.update_invoice(
                invoice.invoice_id,
                tool_status=update.tool_status,
                number=update.number,
                tool_issue_date=update.issue_date,
                tool_total=update.tool_total,
                tool_updated_at=update.tool_updated_at,
                amount_changed=update.amount_changed,
                tool_gross_total=update.gross_total,
                tool_checked_at=now,
            )
            event = InvoiceStatusChanged(
                workspace_id=invoice.workspace_id,
                invoice_id=invoice.invoice_id,
                connection_id=invoice.connection_id,
                provider=invoice.provider,
                provider_invoice_id=seen.external_id,
                status=update.tool_status,
                number=update.number,
                issue_date=update.issue_date,
                total=update.tool_total,
                exported_total=invoice.total or Decimal(0),
                currency=invoice.currency or seen.currency or "XXX",
                amount_changed=update.amount_changed,
                changed_at=now,
            )
            await tx.publish([(event, envelope(event, cause))])
            changed = await tx.invoice(invoice.invoice_id)
        if update.amount_changed:
            log.warning(
                "invoice amount changed in the accounting tool",
                invoice_id=invoice.invoice_id,
                exported=str(invoice.total),
                now=str(update.tool_total),
            )
        return changed

    async def mirror_all(self, connection: AccountingConnection) -> int:
        """The first mirror: every active client of the company."""
        async with self._connections.tool(connection) as tool:
            clients = await tool.active_clients()
        changed = 0
        for seen in clients:
            changed += await self.apply_client(connection, seen) is not None
        return changed

    async def poll(
        self, connection: AccountingConnection, since: dt.datetime
    ) -> dt.datetime | None:
        """Apply everything changed since ``since``; returns the next cursor."""
        async with self._connections.tool(connection) as tool:
            changes = await tool.changes(since)
        for client in changes.clients:
            await self.apply_client(connection, client)
        for invoice in changes.invoices:
            await self.apply_invoice(connection, invoice)
        for external_id in changes.deleted_invoice_ids:
            await self.apply_invoice(connection, gone_invoice(external_id))
        for payment in changes.payments:
            await self.payments.apply_payment(connection, payment)
        return changes.cursor

    async def refresh_invoice(self, invoice: Invoice) -> Invoice | None:
        """Read one exported invoice from its tool now, with its payments (a change the
        webhooks and polls have not brought yet is published; a known one is not again)."""
        if invoice.provider_invoice_id is None:
            return None
        async with self._store.tx() as tx:
            connection = await tx.connection(invoice.connection_id)
        assert connection is not None
        async with self._connections.tool(connection) as tool:
            seen = await tool.invoice(invoice.provider_invoice_id)
            payments = await tool.invoice_payments(invoice.provider_invoice_id)
        changed = await self.apply_invoice(connection, seen)
        for payment in payments:
            await self.payments.apply_payment(connection, payment)
        return changed
