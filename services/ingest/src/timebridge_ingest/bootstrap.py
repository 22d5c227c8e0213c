"""Composition root of the ingest service."""

import datetime as dt
from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from timebridge_common.crypto import SecretBox
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_ingest.adapters.postgres import PostgresWebhookSecrets
from timebridge_ingest.config import Settings
from timebridge_ingest.entrypoints.http import Clock, webhook_router
from timebridge_ingest.handlers.ports import WebhookSecrets

NAME = "ingest"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Ingest:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    secrets: WebhookSecrets
    publisher: EventPublisher


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    secrets: WebhookSecrets | None = None,
    tracer_provider: TracerProvider | None = None,
    clock: Clock = _utc_now,
) -> Ingest:
    """Build the service; pass ``secrets`` to run without a database (unit tests)."""
    runtime = build_runtime(
        NAME,
        settings,
        migrations_package="timebridge_ingest.adapters.migrations",
        broker=broker,
        pool=pool,
        with_database=secrets is None,
        tracer_provider=tracer_provider,
    )
    if secrets is None:
        assert runtime.pool is not None
        secrets = PostgresWebhookSecrets(
            runtime.pool, SecretBox(settings.encryption_key.get_secret_value())
        )
    publisher = EventPublisher(runtime.broker, runtime.tracer, NAME)
    app = http_app(runtime, title="Timebridge ingest")
    app.include_router(webhook_router(settings, secrets, publisher, clock))
    return Ingest(settings, runtime, app, secrets, publisher)
