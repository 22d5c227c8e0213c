"""QuickBooks Online's webhooks: the signature check and both payload formats."""

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from pydantic import (
    BaseModel,
    Field,
    TypeAdapter,
    ValidationError,
)

from timebridge_common.errors import InvalidMessageError
from timebridge_providers.kit.ports.accounting import Entity, Notice, WebhookSpec
from timebridge_providers.quickbooks.wire import _CLOUD_OPERATIONS, _ENTITY_NAMES, SIGNATURE_HEADER


def verify_webhook(verifier_token: str, body: bytes, signature: str | None) -> bool:
    """Whether ``intuit-signature`` is the base64 HMAC-SHA256 of the raw body under the app's
    verifier token (compare before parsing: a re-serialised body would not match)."""
    if not signature:
        return False
    mac = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    # Bytes, not text: compare_digest raises on non-ASCII text (a header with such bytes).
    return hmac.compare_digest(base64.b64encode(mac), signature.strip().encode())


@dataclass(frozen=True)
class EntityChange:
    """One change a webhook announced: ids only, so read the entity before acting on it."""

    realm_id: str
    entity: str
    """QuickBooks' entity name: ``Customer``, ``Invoice``, ..."""
    entity_id: str
    operation: str
    """``Create``, ``Update``, ``Delete``, ``Void``, ``Merge`` or ``Emailed``."""
    occurred_at: dt.datetime | None = None
    event_id: str | None = None
    """The CloudEvents id (legacy notifications have none)."""


class _LegacyEntity(BaseModel):
    name: str
    id: str
    operation: str
    last_updated: dt.datetime | None = Field(default=None, alias="lastUpdated")


class _LegacyEvent(BaseModel):
    entities: list[_LegacyEntity] = []


class _LegacyNotification(BaseModel):
    realm_id: str = Field(alias="realmId")
    data_change_event: _LegacyEvent = Field(alias="dataChangeEvent")


class _LegacyPayload(BaseModel):
    event_notifications: list[_LegacyNotification] = Field(alias="eventNotifications")


class _CloudEvent(BaseModel):
    id: str
    type: str
    time: dt.datetime | None = None
    intuitentityid: str
    intuitaccountid: str


_WEBHOOK = TypeAdapter(_LegacyPayload | list[_CloudEvent])


def parse_webhook(body: bytes) -> list[EntityChange]:
    """The changes of a delivery, in either payload format (legacy or CloudEvents)."""
    try:
        payload = _WEBHOOK.validate_json(body)
    except ValidationError as exc:
        raise InvalidMessageError(f"not a QuickBooks webhook: {exc}"[:500]) from exc
    if isinstance(payload, _LegacyPayload):
        return [
            EntityChange(
                realm_id=note.realm_id,
                entity=entity.name,
                entity_id=entity.id,
                operation=entity.operation,
                occurred_at=entity.last_updated,
            )
            for note in payload.event_notifications
            for entity in note.data_change_event.entities
        ]
    return [_cloud_change(event) for event in payload]


def _cloud_change(event: _CloudEvent) -> EntityChange:
    parts = event.type.split(".")
    if len(parts) != 4 or parts[0] != "qbo":
        raise InvalidMessageError(f"unknown QuickBooks event type {event.type!r}")
    return EntityChange(
        realm_id=event.intuitaccountid,
        entity=_ENTITY_NAMES.get(parts[1], parts[1].capitalize()),
        entity_id=event.intuitentityid,
        operation=_CLOUD_OPERATIONS.get(parts[2], parts[2].capitalize()),
        occurred_at=event.time,
        event_id=event.id,
    )


FOLLOWED: dict[str, Entity] = {"Customer": "client", "Invoice": "invoice", "Payment": "payment"}
"""The entities Timebridge follows, as the accounting port names them."""


def notices(body: bytes) -> list[Notice]:
    """The followed changes of a delivery, as the accounting port's notices."""
    return [
        Notice(c.realm_id, FOLLOWED[c.entity], c.entity_id, c.operation, c.occurred_at)
        for c in parse_webhook(body)
        if c.entity in FOLLOWED
    ]


WEBHOOKS = WebhookSpec(
    scope="app", signature_header=SIGNATURE_HEADER, verify=verify_webhook, parse=notices
)
