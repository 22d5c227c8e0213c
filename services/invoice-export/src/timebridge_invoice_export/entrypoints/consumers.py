"""Kafka subscriptions of invoice-export (each with the runtime's explicit ack policy: an offset
is committed only after the handler finished or the record was dead-lettered)."""

from timebridge_common.events import (
    AccountingChangeNotified,
    Envelope,
    InvoiceExportRequested,
    TimeEntryLogged,
)
from timebridge_common.events.payments import AccountingPaymentNotified
from timebridge_common.runtime import ServiceRuntime
from timebridge_invoice_export.handlers.invoices import Invoices
from timebridge_invoice_export.handlers.ledger import on_time_entry_logged
from timebridge_invoice_export.handlers.notifications import Notifications
from timebridge_invoice_export.handlers.stores import Store


def register(
    runtime: ServiceRuntime, store: Store, invoices: Invoices, notifications: Notifications
) -> None:
    async def time_entry_logged(envelope: Envelope, event: TimeEntryLogged) -> None:
        await on_time_entry_logged(store, envelope, event)

    runtime.subscribe(TimeEntryLogged, time_entry_logged)
    runtime.subscribe(InvoiceExportRequested, invoices.perform_export)
    runtime.subscribe(AccountingChangeNotified, notifications.handle)
    runtime.subscribe(AccountingPaymentNotified, notifications.handle_payment)
