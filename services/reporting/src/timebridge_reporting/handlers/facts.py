"""Projecting events into the reports' read models, each event exactly once per consumer."""

from timebridge_common.events import ClientChanged, Envelope, InvoiceExported, TimeEntryLogged
from timebridge_reporting.adapters.facts import PostgresFacts

ENTRY_CONSUMER = "reporting.report-entries"
CLIENT_CONSUMER = "reporting.report-clients"
AMOUNTS_CONSUMER = "reporting.report-invoice-amounts"


async def on_time_entry_logged(
    facts: PostgresFacts, envelope: Envelope, event: TimeEntryLogged
) -> bool:
    return await facts.record_entry(ENTRY_CONSUMER, envelope, event)


async def on_client_changed(facts: PostgresFacts, envelope: Envelope, event: ClientChanged) -> bool:
    return await facts.record_client(CLIENT_CONSUMER, envelope, event)


async def on_invoice_amounts(
    facts: PostgresFacts, envelope: Envelope, event: InvoiceExported
) -> bool:
    return await facts.record_invoice_amounts(AMOUNTS_CONSUMER, envelope, event)
