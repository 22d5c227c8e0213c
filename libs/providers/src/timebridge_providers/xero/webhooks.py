"""Xero's webhooks: the signature check and the payload."""

import base64
import hashlib
import hmac

from pydantic import (
    ValidationError,
)

from timebridge_common.errors import InvalidMessageError
from timebridge_providers.kit.ports.accounting import Entity, Notice, WebhookSpec
from timebridge_providers.xero.wire import SIGNATURE_HEADER, WebhookPayload


def verify_webhook(key: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is Xero's for ``body`` (the raw bytes, before any parsing)."""
    if not signature:
        return False
    expected = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def parse_webhook(body: bytes) -> WebhookPayload:
    try:
        return WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidMessageError(f"not a Xero webhook payload: {exc}") from exc


FOLLOWED: dict[str, Entity] = {"CONTACT": "client", "INVOICE": "invoice"}
"""The event categories Timebridge follows, as the accounting port names them."""


def notices(body: bytes) -> list[Notice]:
    """The followed events of a delivery (none for Xero's intent-to-receive check)."""
    return [
        Notice(
            e.tenant_id, FOLLOWED[e.event_category], e.resource_id, e.event_type, e.event_date_utc
        )
        for e in parse_webhook(body).events
        if e.event_category in FOLLOWED
    ]


WEBHOOKS = WebhookSpec(
    scope="app",
    signature_header=SIGNATURE_HEADER,
    verify=verify_webhook,
    parse=notices,
    bare_answers=True,
    invoice_notices_cover_payments=True,
)
