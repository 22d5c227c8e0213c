"""Composition root of the mapping service."""

from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from timebridge_common import connections
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_mapping.adapters.postgres import PostgresMappingStore
from timebridge_mapping.config import Settings
from timebridge_mapping.entrypoints import consumers
from timebridge_mapping.entrypoints.http import entries_router
from timebridge_mapping.handlers.ports import MappingStore

NAME = "mapping"


@dataclass
class Mapping:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    store: MappingStore


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    store: MappingStore | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Mapping:
    """Build the service; pass ``store`` to run without a database (unit tests)."""
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(connections.MIGRATIONS, "timebridge_mapping.adapters.migrations"),
        broker=broker,
        pool=pool,
        with_database=store is None,
        tracer_provider=tracer_provider,
    )
    if store is None:
        assert runtime.pool is not None
        store = PostgresMappingStore(runtime.pool)
    if runtime.pool is not None:
        connections.ConnectionCopies(runtime.pool).subscribe(runtime)
    consumers.register(runtime, store)
    app = http_app(runtime, title="Timebridge mapping")
    app.include_router(entries_router(store))
    return Mapping(settings, runtime, app, store)
