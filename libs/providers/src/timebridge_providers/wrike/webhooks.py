"""Wrike's secure webhooks: the registration handshake and each delivery's ``X-Hook-Secret``.

Sources. Wrike's "Webhooks" page (https://developers.wrike.com/webhooks, "Create Webhooks"): a
hook is created with ``POST /folders/{folderId}/webhooks`` (or ``/spaces/{spaceId}/webhooks``,
``/webhooks``) taking ``hookUrl``, an optional ``secret`` ("client secret to check authenticity
of the events later", its "Secure Webhooks" section) and an ``events`` filter such as
``[TimelogChanged]``. That section's text could not be retrieved here; the scheme below follows a
production Wrike receiver, TFTbpm/Wrike-graph-server (``index.js``, ``docs/server.md``):

- handshake: once the hook is created Wrike POSTs ``{"requestType": "WebHook secret
  verification"}`` with an ``X-Hook-Secret`` header (a random value); the endpoint answers 200
  with ``X-Hook-Secret`` set to the hex HMAC-SHA256 of that value keyed with the hook's secret;
- delivery: a JSON array of events (``taskId``, ``webhookId``, ``eventAuthorId``, ``eventType``,
  ``lastUpdatedDate``: the fields staviloglu/Taviloglu.Wrike.ApiClient's ``WrikeWebHookEvent``
  reads) whose ``X-Hook-Secret`` header is the hex HMAC-SHA256 of the raw body with the secret;
- a failed delivery makes Wrike deactivate the hook (the same receiver answers 202 to keep it).

Replay protection, as for ClickUp and Clockify: a delivery whose newest ``lastUpdatedDate`` is
further from now than the tolerance is refused (401); the digest of the signed body is the replay
key (Wrike's retry of a delivery resends the same body).

Not wired as the provider's webhook intake yet (the profile says polling): the kit's
``HintWebhooks.handshake`` gets no secret, which this handshake needs, and no source shows
whether a ``TimelogChanged`` event names the timelog (the base fields name only its task), which
the kit's :class:`~timebridge_providers.kit.ports.observe.Hint` must.
"""

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from timebridge_providers.kit.ports.observe import RefusedError, Signed

SECRET_HEADER = "X-Hook-Secret"  # noqa: S105 - a header name
VERIFICATION_REQUEST = "WebHook secret verification"
_MAX_BODY = 1_000_000
_MAX_HEADER = 256


def sign(secret: str, data: bytes) -> str:
    """The hex HMAC-SHA256 Wrike puts in ``X-Hook-Secret``: of the body, or of the handshake's
    random value."""
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == SECRET_HEADER.lower()), None)
    if not value or not value.isascii() or len(value) > _MAX_HEADER or not value.isprintable():
        raise RefusedError(401, f"missing or malformed {SECRET_HEADER} header")
    return value.strip()


def _json(body: bytes) -> Any:
    if len(body) > _MAX_BODY:
        raise RefusedError(413, "body too large")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise RefusedError(400, "body is not valid JSON") from None


def is_handshake(body: bytes) -> bool:
    """Wrike's secret verification request, sent once when a secure hook is created."""
    data = _json(body)
    return isinstance(data, dict) and data.get("requestType") == VERIFICATION_REQUEST


def handshake_answer(
    secret: str | None, headers: Mapping[str, str], body: bytes
) -> dict[str, str] | None:
    """The headers answering the verification request (``None``: ``body`` is a delivery).

    Only the holder of the hook's secret can answer, so a hook nobody proposed a secret for is
    refused (401) rather than activated.
    """
    if not is_handshake(body):
        return None
    if not secret:
        raise RefusedError(401, "no secret is kept for this webhook")
    return {SECRET_HEADER: sign(secret, _header(headers).encode())}


def events(body: bytes) -> list[dict[str, Any]]:
    """A delivery's events (422 when it is not a non-empty array of objects)."""
    data = _json(body)
    if not isinstance(data, list) or not data or not all(isinstance(e, dict) for e in data):
        raise RefusedError(422, "a delivery is a non-empty array of events")
    return data


def _updated(event: Mapping[str, Any]) -> dt.datetime:
    value = event.get("lastUpdatedDate")
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise RefusedError(422, "an event has no lastUpdatedDate") from None
    if when.tzinfo is None:
        raise RefusedError(422, "an event's lastUpdatedDate has no zone")
    return when


def authenticate(
    secret: str | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: dt.datetime,
    tolerance_s: int,
) -> Signed:
    """The delivery's replay key and time, once ``X-Hook-Secret`` signs ``body`` with the hook's
    secret (constant time) and its newest event is within the tolerance; else 401."""
    if not secret:
        raise RefusedError(401, "no secret is kept for this webhook")
    header = _header(headers).lower()
    if not hmac.compare_digest(sign(secret, body), header):
        raise RefusedError(401, "signature does not match")
    made = max(_updated(event) for event in events(body))
    if abs((now - made).total_seconds()) > tolerance_s:
        raise RefusedError(401, f"delivery is more than {tolerance_s}s from now")
    return Signed(delivery_id=hashlib.sha256(body).hexdigest(), signed_at=made)
