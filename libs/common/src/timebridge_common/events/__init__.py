"""Versioned event contracts published on Kafka (a public API: see ``schemas/``)."""

from timebridge_common.events.base import Event, event_topic
from timebridge_common.events.catalog import (
    ALL_EVENTS,
    AccountingChangeNotified,
    ClientAddress,
    ClientChanged,
    EntryMapped,
    EntrySynced,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceExportRequested,
    InvoiceLine,
    InvoiceStatusChanged,
    RoundingVersion,
    TimeEntryFields,
    TimeEntryLogged,
    UserRef,
)
from timebridge_common.events.connections import (
    ConnectionChanged,
    ConnectionChangedV1,
    IntegrationSettings,
)
from timebridge_common.events.envelope import Envelope

__all__ = [
    "ALL_EVENTS",
    "AccountingChangeNotified",
    "ClientAddress",
    "ClientChanged",
    "ConnectionChanged",
    "ConnectionChangedV1",
    "EntryMapped",
    "EntrySynced",
    "Envelope",
    "Event",
    "IntegrationSettings",
    "InvoiceDeleted",
    "InvoiceExportRequested",
    "InvoiceExported",
    "InvoiceLine",
    "InvoiceStatusChanged",
    "RoundingVersion",
    "TimeEntryFields",
    "TimeEntryLogged",
    "UserRef",
    "event_topic",
]
