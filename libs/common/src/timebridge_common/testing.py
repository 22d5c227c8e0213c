"""Test support shared by every service's tests (imported only by tests)."""

import datetime as dt
from decimal import Decimal
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from timebridge_common.config import TelemetryConfig
from timebridge_common.events import (
    EntrySynced,
    InvoiceExported,
    InvoiceLine,
    TimeEntryFields,
    TimeEntryLogged,
    UserRef,
)
from timebridge_common.tracing import make_tracer_provider


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
