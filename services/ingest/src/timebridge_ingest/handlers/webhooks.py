"""Accepting a signed webhook: verify, validate, translate, publish, and only then say yes."""

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import structlog
from timebridge_providers.kit.ports.observe import SignedWebhooks

from timebridge_common.events import TimeEntryLogged
from timebridge_common.events.base import Event
from timebridge_common.kafka.publisher import (
    EventPublisher,
    UnavailableError,
    publish_acknowledged,
)
from timebridge_common.webhooks.replay import ReplayWindow, publish_once
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.observations import to_event
from timebridge_ingest.handlers.ports import WebhookSecrets

log = structlog.get_logger(__name__)

_FACT_NAMESPACE = uuid.UUID("0b6f3d1e-6a43-4c2f-9d57-2f0c8e5a7b14")


REPLAY_MARGIN = dt.timedelta(seconds=60)
"""Kept this much longer than the signature tolerance (clocks of replicas differ a little)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """``event_id`` is None for a webhook acknowledged without an event (ticket changes);
    ``duplicate`` when the delivery was published before (answered again, not republished)."""

    event_id: uuid.UUID | None
    topic: str | None
    duplicate: bool = False


def fact_id(event: Event) -> uuid.UUID:
    """The event id of a delivered record other than an entry: derived from its content, so
    redeliveries of the same version (even under a new delivery id) carry the same id and
    consumers' inboxes take it once."""
    return uuid.uuid5(_FACT_NAMESPACE, f"{event.type_name()}:{event.model_dump_json()}")


async def publish_or_unavailable(
    publisher: EventPublisher, event: TimeEntryLogged, timeout_s: float
) -> uuid.UUID:
    """Publish with the event's observation id; return once Kafka acknowledged it (else raise
    :class:`~timebridge_common.kafka.publisher.UnavailableError`: answer 503)."""
    return await publish_as(publisher, event, event.observation_id(), timeout_s)


async def publish_as(
    publisher: EventPublisher, event: Event, event_id: uuid.UUID, timeout_s: float
) -> uuid.UUID:
    """Publish ``event`` as ``event_id``, returning once Kafka acknowledged it."""
    envelope = publisher.envelope(event, event_id=event_id)
    await publish_acknowledged(publisher, [(event, envelope)], timeout_s)
    return envelope.event_id


async def accept_signed_webhook(
    *,
    source: str,
    webhooks: SignedWebhooks,
    workspace_id: str,
    body: bytes,
    signature: str | None,
    secrets: WebhookSecrets,
    publisher: EventPublisher,
    window: ReplayWindow,
    now: dt.datetime,
    tolerance_s: int,
    publish_timeout_s: float,
) -> Accepted:
    """Return only once Kafka holds the event; raise ``RejectedError`` for a 4xx.

    The order matters: the signature is checked on the raw bytes before anything is parsed,
    and nothing is published unless every check passed. A delivery id already published in
    this workspace (its signature still inside the tolerance, so replayable) is answered with
    the first answer and not published again (the replay window, keyed by the delivery id that
    the sender keeps across retries); raises ``DeliveryInProgressError`` while another request
    publishes it.
    """
    secret = await secrets.get(workspace_id, source)
    if secret is None:
        raise RejectedError(404, f"no {source} webhook secret for workspace {workspace_id!r}")
    delivery = webhooks.verify(
        secret, signature, body, account=workspace_id, now=now, tolerance_s=tolerance_s
    )
    event: Event
    if delivery.fact is not None:
        event = delivery.fact
        if event.workspace_id != workspace_id:
            raise RejectedError(422, f"body is for another workspace than {workspace_id!r}")
        wanted = fact_id(event)
    elif delivery.change is not None:
        logged = to_event(
            delivery.change,
            source=source,
            workspace_id=workspace_id,
            integration_id=None,
            observed_via="webhook",
        )
        event, wanted = logged, logged.observation_id()
    else:
        return Accepted(event_id=None, topic=None)

    async def publish() -> str:
        try:
            event_id = await publish_as(publisher, event, wanted, publish_timeout_s)
        except UnavailableError as exc:
            log.error("publishing a webhook failed", error=str(exc), delivery=delivery.delivery_id)
            raise
        return json.dumps({"event_id": str(event_id), "topic": event.topic()})

    # A replay is accepted while |now - t| <= tolerance, i.e. until t + tolerance at the latest.
    first, outcome = await publish_once(
        window,
        f"{source}:{workspace_id}",
        delivery.delivery_id,
        now=now,
        expires_at=delivery.signed_at + dt.timedelta(seconds=tolerance_s) + REPLAY_MARGIN,
        lease_s=publish_timeout_s + 5,
        publish=publish,
    )
    answer = json.loads(outcome)
    # Debug, not info: one line per accepted webhook cost ~7% of ingest's CPU under load
    # (issue 12); refusals and failures are still logged at their levels.
    log.debug(
        "webhook accepted" if first else "webhook replay acknowledged, not republished",
        delivery=delivery.delivery_id,
        event_id=answer["event_id"],
    )
    return Accepted(uuid.UUID(answer["event_id"]), answer["topic"], duplicate=not first)
