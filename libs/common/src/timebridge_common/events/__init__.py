"""Versioned event contracts published on Kafka (a public API: see ``schemas/``)."""

from timebridge_common.events.base import Event, event_topic
from timebridge_common.events.catalog import (
    ALL_EVENTS,
    ConnectionChanged,
    EntryMapped,
    EntrySynced,
    IntegrationSettings,
    InvoiceExported,
    InvoiceLine,
    TimeEntryFields,
    TimeEntryLogged,
    UserRef,
)
from timebridge_common.events.envelope import Envelope

__all__ = [
    "ALL_EVENTS",
    "ConnectionChanged",
    "EntryMapped",
    "EntrySynced",
    "Envelope",
    "Event",
    "IntegrationSettings",
    "InvoiceExported",
    "InvoiceLine",
    "TimeEntryFields",
    "TimeEntryLogged",
    "UserRef",
    "event_topic",
]
