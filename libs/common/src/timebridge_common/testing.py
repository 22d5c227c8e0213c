"""Test support shared by every service's tests (imported only by tests)."""

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from timebridge_common.config import TelemetryConfig
from timebridge_common.events import (
    AccountingChangeNotified,
    ClientAddress,
    ClientChanged,
    ConnectionChanged,
    ConnectionChangedV1,
    EntryMapped,
    EntrySynced,
    IntegrationSettings,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceExportRequested,
    InvoiceLine,
    InvoiceStatusChanged,
    TimeEntryFields,
    TimeEntryLogged,
    UserRef,
)
from timebridge_common.kafka.topics import partitions_of
from timebridge_common.tracing import make_tracer_provider


class LazyApp:
    """An ASGI app looked up by name when called: sandboxes deliver webhooks to services that
    are built after them (``apps[name]`` is filled in once the service exists)."""

    def __init__(self, apps: dict[str, Any], name: str) -> None:
        self.apps = apps
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.apps[self.name](scope, receive, send)


def in_memory_tracing(service: str) -> tuple[TracerProvider, InMemorySpanExporter]:
    """A tracer provider whose finished spans can be inspected."""
    exporter = InMemorySpanExporter()
    provider = make_tracer_provider(
        service, TelemetryConfig(), extra_processors=(SimpleSpanProcessor(exporter),)
    )
    return provider, exporter


def sample_time_entry_logged(**overrides: Any) -> TimeEntryLogged:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "source": "core",
        "external_id": "te_1",
        "entry": TimeEntryFields(
            user=UserRef(external_id="u_1", email="ann@acme.test", name="Ann"),
            project_external_id="p_1",
            task_external_id="t_1",
            date=dt.date(2026, 11, 21),
            started_at=dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC),
            ended_at=dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC),
            timezone="Europe/Berlin",
            duration_seconds=3600,
            notes="Fixing the login page",
            billable=True,
        ),
        "updated_at": dt.datetime(2026, 11, 21, 10, 1, tzinfo=dt.UTC),
        "observed_via": "webhook",
    }
    return TimeEntryLogged.model_validate(values | overrides)


def sample_entry_mapped(**overrides: Any) -> EntryMapped:
    logged = sample_time_entry_logged()
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "integration_id": "int_everhour",
        "source": "core",
        "source_external_id": "te_1",
        "target": "everhour",
        "operation": "upsert",
        "entry": logged.entry.model_copy(
            update={
                "user": UserRef(external_id="1001", email="ann@acme.test"),
                "project_external_id": "ev:9000000001",
                "task_external_id": "ev:7000000001",
            }
        ),
        "source_entry": logged.entry,
        "source_updated_at": logged.updated_at,
        "user_mapped_by": "email",
        "task_mapped_by": "link",
    }
    return EntryMapped.model_validate(values | overrides)


def sample_entry_synced(**overrides: Any) -> EntrySynced:
    logged = sample_time_entry_logged()
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "integration_id": "int_everhour",
        "source": "core",
        "source_external_id": "te_1",
        "target": "everhour",
        "target_external_id": "eh_1",
        "status": "synced",
        "operation": "create",
        "entry": logged.entry,
        "source_updated_at": logged.updated_at,
        "synced_at": dt.datetime(2026, 11, 21, 10, 2, tzinfo=dt.UTC),
    }
    return EntrySynced.model_validate(values | overrides)


def sample_connection_changed(**overrides: Any) -> ConnectionChanged:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "connection_id": "int_0123456789abcdef",
        "provider": "everhour",
        "status": "connected",
        "base_url": "https://api.everhour.com",
        "account": {"user_id": "1", "name": "Ann Admin"},
        "settings": IntegrationSettings(),
        "revision": 1,
        "changed_at": dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC),
    }
    return ConnectionChanged.model_validate(values | overrides)


def sample_connection_changed_v1(**overrides: Any) -> ConnectionChangedV1:
    """A deprecated v1 record, as the old topic still holds them (with a sealed credential)."""
    values = sample_connection_changed().model_dump() | {"credentials_encrypted": "v1:AAAA"}
    return ConnectionChangedV1.model_validate(values | overrides)


def sample_invoice_exported(**overrides: Any) -> InvoiceExported:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "invoice_id": "inv_1",
        "provider": "xero",
        "provider_invoice_id": "243216c5-369e-4056-ac67-05388f86dc81",
        "number": "INV-0001",
        "client_id": "cl_1",
        "provider_client_id": "bd2270c3-8706-4c11-9cfb-000b551c3f51",
        "currency": "EUR",
        "issue_date": dt.date(2026, 11, 30),
        "period_start": dt.date(2026, 11, 1),
        "period_end": dt.date(2026, 11, 30),
        "lines": (
            InvoiceLine(
                description="Development",
                quantity_hours=Decimal("1.5"),
                unit_price=Decimal("120.00"),
                amount=Decimal("180.00"),
            ),
        ),
        "total": Decimal("180.00"),
        "entry_ids": ("te_1",),
        "exported_at": dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC),
    }
    return InvoiceExported.model_validate(values | overrides)


def sample_invoice_status_changed(**overrides: Any) -> InvoiceStatusChanged:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "invoice_id": "inv_1",
        "connection_id": "acc_1",
        "provider": "xero",
        "provider_invoice_id": "243216c5-369e-4056-ac67-05388f86dc81",
        "status": "sent",
        "number": "INV-0001",
        "issue_date": dt.date(2026, 11, 30),
        "total": Decimal("200.00"),
        "exported_total": Decimal("180.00"),
        "currency": "EUR",
        "amount_changed": True,
        "changed_at": dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC),
    }
    return InvoiceStatusChanged.model_validate(values | overrides)


def sample_invoice_deleted(**overrides: Any) -> InvoiceDeleted:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "invoice_id": "inv_1",
        "was_exported": True,
        "entry_ids": ("te_1",),
        "deleted_at": dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC),
    }
    return InvoiceDeleted.model_validate(values | overrides)


def sample_invoice_export_requested(**overrides: Any) -> InvoiceExportRequested:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "invoice_id": "inv_1",
        "connection_id": "acc_1",
        "requested_at": dt.datetime(2026, 11, 30, 16, 59, tzinfo=dt.UTC),
    }
    return InvoiceExportRequested.model_validate(values | overrides)


def sample_accounting_change_notified(**overrides: Any) -> AccountingChangeNotified:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "connection_id": "acc_1",
        "provider": "quickbooks",
        "entity": "invoice",
        "external_id": "130",
        "operation": "Update",
        "occurred_at": dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC),
    }
    return AccountingChangeNotified.model_validate(values | overrides)


def sample_client_changed(**overrides: Any) -> ClientChanged:
    values: dict[str, Any] = {
        "workspace_id": "acme",
        "client_id": "cl_1",
        "connection_id": "acc_1",
        "provider": "freshbooks",
        "external_id": "5512",
        "display_name": "Globex Corporation",
        "email": "ap@globex.test",
        "address": ClientAddress(line1="1 Main St", city="Springfield", country="US"),
        "tax_number": "US-12-3456789",
        "currency": "USD",
        "status": "active",
        "revision": 1,
        "changed_at": dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC),
    }
    return ClientChanged.model_validate(values | overrides)


async def position_group_at_end(bootstrap: str, group_id: str, topics: list[str]) -> None:
    """Commit ``group_id``'s offsets at the current end of ``topics``.

    A service joining that group then starts at "now", like a long-running deployment, instead
    of replaying everything earlier runs left in the topics.
    """
    partitions = await partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    partitions = await partitions_of(bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str,
    start: dict[TopicPartition, int],
    *,
    until: Callable[[list[Any]], bool],
    timeout_s: float = 20.0,
) -> list[Any]:
    """Records from the ``start`` offsets on, until ``until(records)`` holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(timeout_s):
            while not until(records):
                batches = await consumer.getmany(timeout_ms=200)
                for batch in batches.values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def wait_for(check: Callable[[], Awaitable[Any]], timeout_s: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(0.1)
