"""Composition root of the invoice-export."""

from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_invoice_export.adapters.postgres import PostgresLedger
from timebridge_invoice_export.config import Settings
from timebridge_invoice_export.entrypoints import consumers
from timebridge_invoice_export.entrypoints.http import ledger_router

NAME = "invoice-export"


@dataclass
class InvoiceExport:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    tracer_provider: TracerProvider | None = None,
) -> InvoiceExport:
    runtime = build_runtime(
        NAME,
        settings,
        migrations=("timebridge_invoice_export.adapters.migrations",),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    ledger = PostgresLedger(runtime.pool)
    consumers.register(runtime, ledger)
    app = http_app(runtime, title="Timebridge invoice-export")
    app.include_router(ledger_router(ledger))
    return InvoiceExport(settings, runtime, app)
