"""Accepting a Core webhook: verify, validate, translate, publish, and only then say yes."""

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass

import structlog

from timebridge_common.kafka.publisher import EventPublisher
from timebridge_ingest.domain.core_webhook import (
    CORE,
    WebhookRejectedError,
    parse_webhook,
    to_event,
    verify_signature,
)
from timebridge_ingest.handlers.ports import WebhookSecrets

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Accepted:
    event_id: uuid.UUID
    topic: str


class KafkaUnavailableError(Exception):
    """Kafka did not acknowledge in time: answer 503 so the sender retries (nothing was lost)."""


async def accept_core_webhook(
    *,
    workspace_id: str,
    body: bytes,
    signature: str | None,
    secrets: WebhookSecrets,
    publisher: EventPublisher,
    now: dt.datetime,
    tolerance_s: int,
    publish_timeout_s: float,
) -> Accepted:
    """Return only once Kafka holds the event; raise ``WebhookRejectedError`` for a 4xx.

    The order matters: the signature is checked on the raw bytes before anything is parsed,
    and nothing is published unless every check passed.
    """
    secret = await secrets.get(workspace_id, CORE)
    if secret is None:
        raise WebhookRejectedError(404, f"no Core webhook secret for workspace {workspace_id!r}")
    verify_signature(secret, signature, body, now=now, tolerance_s=tolerance_s)
    webhook = parse_webhook(body, workspace_id)
    event = to_event(webhook)
    envelope = publisher.envelope(event, event_id=event.observation_id())
    try:
        async with asyncio.timeout(publish_timeout_s):
            await publisher.publish(event, envelope)
    except Exception as exc:
        log.error("publishing a webhook failed", error=repr(exc), delivery=webhook.id)
        raise KafkaUnavailableError(str(exc) or type(exc).__name__) from exc
    log.info(
        "webhook accepted", delivery=webhook.id, type=webhook.type, event_id=str(envelope.event_id)
    )
    return Accepted(event_id=envelope.event_id, topic=event.topic())
