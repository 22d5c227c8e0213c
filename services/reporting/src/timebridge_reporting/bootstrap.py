"""Composition root of the reporting."""

from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.config import Settings
from timebridge_reporting.entrypoints import consumers
from timebridge_reporting.entrypoints.http import reports_router

NAME = "reporting"


@dataclass
class Reporting:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Reporting:
    runtime = build_runtime(
        NAME,
        settings,
        migrations=("timebridge_reporting.adapters.migrations",),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    models = PostgresReadModels(runtime.pool)
    consumers.register(runtime, models)
    app = http_app(runtime, title="Timebridge reporting")
    app.include_router(reports_router(models))
    return Reporting(settings, runtime, app)
