"""Wrike's secure webhooks: the handshake, signed deliveries of ``TimelogChanged`` as hints.

Sources. Wrike's "Webhooks" page (https://developers.wrike.com/webhooks, "Create Webhooks"): a
hook is created with ``POST /webhooks`` (account), ``/folders/{folderId}/webhooks`` or
``/spaces/{spaceId}/webhooks`` taking ``hookUrl``, an optional ``secret`` ("client secret to check
authenticity of the events later", its "Secure Webhooks" section) and an ``events`` filter such as
``[TimelogChanged]``; ``GET``/``PUT``/``DELETE /webhooks/{id}`` read it, set its ``status``
(``Active``/``Suspended``: Wrike suspends a hook whose deliveries keep failing) and remove it. The
"Secure Webhooks" text could not be retrieved here (A: assumed from secondary sources); the
scheme follows a production Wrike receiver, TFTbpm/Wrike-graph-server (``index.js``,
``docs/server.md``), and issue 8's reading of Wrike's page (``X-Request-Hash``):

- handshake: once the hook is created Wrike POSTs ``{"requestType": "WebHook secret
  verification"}`` with an ``X-Hook-Secret`` header (a random value); the endpoint answers 200
  with ``X-Hook-Secret`` set to the hex HMAC-SHA256 of that value keyed with the hook's secret
  (the one ingest proposed and keeps: :meth:`WrikeWebhooks.keyed_handshake`);
- delivery: a JSON array of events (``taskId``, ``webhookId``, ``eventAuthorId``, ``eventType``,
  ``lastUpdatedDate``: the fields staviloglu/Taviloglu.Wrike.ApiClient's ``WrikeWebHookEvent``
  reads) signed with the hex HMAC-SHA256 of the raw body in ``X-Request-Hash`` (the receiver
  above reads it from ``X-Hook-Secret``: that header is taken when ``X-Request-Hash`` is absent,
  checked the same way, in constant time);
- a ``TimelogChanged`` event names the timelog (``timeTrackerId``; ``type`` Added, Updated or
  Removed; ``hours``: the "Time tracker ID", "Type" and "Hours" Workato's Wrike trigger lists),
  which :meth:`WrikeWebhooks.hints` turns into a hint to re-read ``GET /timelogs/{id}`` (the kit's
  ``hint`` scheme: what the delivery claims is never trusted). A timelog found gone is reported
  deleted with the task the event names, its author and its date (what Wrike's delivery has;
  the poll's deletion of it carries what the poll last listed).

Replay protection, as for ClickUp and Clockify: a delivery whose newest ``lastUpdatedDate`` is
further from now than the tolerance is refused (401); the digest of the signed body is the replay
key (Wrike's retry of a delivery resends the same body).
"""

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal

from timebridge_providers.kit.ports.observe import HandshakeAnswer, Hint, RefusedError, Signed

SECRET_HEADER = "X-Hook-Secret"  # noqa: S105 - a header name
SIGNATURE_HEADER = "X-Request-Hash"
EVENTS = ("TimelogChanged",)
"""What a hook is registered for (Wrike's ``events`` filter)."""
_TIMELOG_EVENTS = frozenset({"TimelogChanged", "TimelogCreated", "TimelogDeleted"})
VERIFICATION_REQUEST = "WebHook secret verification"
_MAX_BODY = 1_000_000
_MAX_HEADER = 256


def sign(secret: str, data: bytes) -> str:
    """The hex HMAC-SHA256 Wrike puts in ``X-Hook-Secret``: of the body, or of the handshake's
    random value."""
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], *names: str) -> str:
    """The first of ``names`` present (401 when none is, or it is no printable ASCII)."""
    wanted = names or (SECRET_HEADER,)
    found = {k.lower(): v for k, v in headers.items()}
    value = next((found[n.lower()] for n in wanted if n.lower() in found), None)
    if not value or not value.isascii() or len(value) > _MAX_HEADER or not value.isprintable():
        raise RefusedError(401, f"missing or malformed {wanted[0]} header")
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
    header = _header(headers, SIGNATURE_HEADER, SECRET_HEADER).lower()
    if not hmac.compare_digest(sign(secret, body), header):
        raise RefusedError(401, "signature does not match")
    made = max(_updated(event) for event in events(body))
    if abs((now - made).total_seconds()) > tolerance_s:
        raise RefusedError(401, f"delivery is more than {tolerance_s}s from now")
    return Signed(delivery_id=hashlib.sha256(body).hexdigest(), signed_at=made)


def _text(value: object) -> str | None:
    """A short printable id (Wrike's ids are opaque ASCII)."""
    if isinstance(value, str) and 0 < len(value) <= 64 and value.isascii() and value.isalnum():
        return value
    return None


def timelog_hints(body: bytes) -> list[Hint]:
    """The timelogs a delivery's ``TimelogChanged`` events name (422 when none does)."""
    found: dict[str, Hint] = {}
    for event in events(body):
        timelog = _text(event.get("timeTrackerId")) or _text(event.get("timelogId"))
        author = _text(event.get("eventAuthorId"))
        if event.get("eventType") not in _TIMELOG_EVENTS or timelog is None or author is None:
            continue  # a deletion is reported under a user: one naming none is no hint
        found[timelog] = Hint(
            external_id=timelog,
            date=_updated(event).date(),
            user_id=author,
            task_id=_text(event.get("taskId")),
        )
    if not found:
        raise RefusedError(422, "no TimelogChanged event naming a timelog (timeTrackerId)")
    return list(found.values())


class WrikeWebhooks:
    """The intake of Wrike's deliveries (``hint`` scheme, keyed handshake, batched events)."""

    scheme: Literal["hint"] = "hint"

    def handshake(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        """Wrike's handshake needs the secret and the body: :meth:`keyed_handshake` answers."""
        del headers
        return None

    def keyed_handshake(
        self, secret: str | None, headers: Mapping[str, str], body: bytes
    ) -> HandshakeAnswer | None:
        answer = handshake_answer(secret, headers, body)
        return None if answer is None else HandshakeAnswer(answer)

    def authenticate(
        self,
        secret: str | None,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Signed | None:
        return authenticate(secret, headers, body, now=now, tolerance_s=tolerance_s)

    def hint(self, body: bytes) -> Hint:
        return timelog_hints(body)[0]

    def hints(self, body: bytes) -> list[Hint]:
        return timelog_hints(body)
