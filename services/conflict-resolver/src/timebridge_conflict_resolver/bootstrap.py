"""Composition root of the conflict-resolver."""

from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from timebridge_common import connections
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_conflict_resolver.adapters.postgres import PostgresObservations
from timebridge_conflict_resolver.config import Settings
from timebridge_conflict_resolver.entrypoints import consumers
from timebridge_conflict_resolver.entrypoints.http import observations_router

NAME = "conflict-resolver"


@dataclass
class ConflictResolver:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    tracer_provider: TracerProvider | None = None,
) -> ConflictResolver:
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(connections.MIGRATIONS, "timebridge_conflict_resolver.adapters.migrations"),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    store = PostgresObservations(runtime.pool)
    connections.ConnectionCopies(runtime.pool).subscribe(runtime)
    consumers.register(runtime, store)
    app = http_app(runtime, title="Timebridge conflict-resolver")
    app.include_router(observations_router(store))
    return ConflictResolver(settings, runtime, app)
