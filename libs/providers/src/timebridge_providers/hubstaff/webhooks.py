"""Hubstaff's webhooks (API v2): the verification echo, activation, ``X-Hook-Signature``, hints.

Source: the Hubstaff API v2 spec's "Webhooks" section (``../shared/provider-specs/
hubstaff-v2-swagger.json``, from hubstaff-cli; ``info.description`` and the ``/v2/.../webhooks``
paths). A hook is created with ``POST /v2/organizations/{organization_id}/webhooks`` (also per
project, or ``/v2/users/me/webhooks``) taking ``events`` and ``target_url``; Hubstaff then POSTs
an empty body with an ``X-Hook-Secret`` header, which the endpoint echoes (200). That value is the
hook's secret: the receiver keeps it (:meth:`HubstaffWebhooks.keyed_handshake` hands it over),
and the hook only delivers once activated with it (``POST /v2/webhooks/{webhook_id}/activate``
with ``X-Hook-Secret``: :class:`HubstaffHooks`). Every delivery carries ``X-Hook-Signature``, the
hex HMAC-SHA256 of the raw body keyed with it. A delivery is ``{"id": <uuid>, "event": ...,
"created_at": ..., "payload": {...}}``: ``id`` is the replay key and ``created_at`` (no zone in
the spec's example: taken as UTC) its age, as for ClickUp and Clockify.

What a delivery names. This provider's records are daily activities (one per user, project, task
and organization date); no documented payload names one. ``timer.stop`` (and ``activity.create/
update/delete``, sent "on request" with a payload the spec does not show: read with the same
fields) names the user, project and task and when the time was tracked (the spec's ``timer.start``
example: ``organization_id``, ``project_id``, ``task_id``, ``user_id``,
``tracking_started_at``). So a hint names that user's day on that task (:func:`day_key`), and
the observer re-reads the daily activities of it (``GET .../activities/daily`` filtered by user,
project and task, a day either side: the organization's date may differ from UTC's) as its poll
would render them: one event either way. Manual time added, edited or deleted, and time removed
by a manager, raise no documented event: the poll of ``activities/daily/updates`` sees them.
"""

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal

from timebridge_providers.kit.ports.observe import HandshakeAnswer, Hint, RefusedError, Signed

SECRET_HEADER = "X-Hook-Secret"  # noqa: S105 - a header name
SIGNATURE_HEADER = "X-Hook-Signature"
_MAX_BODY = 1_000_000
EVENTS = ("timer.stop",)
"""What a hook is registered for: the one generally available event naming a user's time on a
task (``activity.*`` are sent only "on request": a registration asking for them could be refused,
and with it the connection)."""
NAMING_TIME = (*EVENTS, "activity.create", "activity.update", "activity.delete")
"""The events taken as hints when they come (an organization that requested ``activity.*``)."""
DAY = "day"
_MAX_HEADER = 256


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    if value is None:
        return None
    if not value or not value.isascii() or len(value) > _MAX_HEADER or not value.isprintable():
        raise RefusedError(401, f"malformed {name} header")
    return value.strip()


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hook-Signature`` Hubstaff sends for ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def handshake(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The echo of the verification request's ``X-Hook-Secret``; ``None`` for a delivery."""
    value = _header(headers, SECRET_HEADER)
    return None if value is None else {SECRET_HEADER: value}


def activation_headers(secret: str) -> dict[str, str]:
    """The headers of ``POST /v2/webhooks/{webhook_id}/activate``: the verification's secret."""
    return {SECRET_HEADER: secret}


def _json(body: bytes) -> dict[str, Any]:
    if len(body) > _MAX_BODY:
        raise RefusedError(413, "body too large")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise RefusedError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RefusedError(422, "a delivery is a JSON object")
    return data


def authenticate(
    secret: str | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: dt.datetime,
    tolerance_s: int,
) -> Signed:
    """The delivery's ``id`` and ``created_at`` once ``X-Hook-Signature`` signs ``body`` with the
    hook's secret (constant time) and it was created within the tolerance; else 401 (422 when a
    signed body has no id or time)."""
    if not secret:
        raise RefusedError(401, "no secret is kept for this webhook")
    signature = _header(headers, SIGNATURE_HEADER)
    if signature is None:
        raise RefusedError(401, f"missing {SIGNATURE_HEADER} header")
    if not hmac.compare_digest(sign(secret, body), signature.lower()):
        raise RefusedError(401, "signature does not match")
    data = _json(body)
    try:
        created = dt.datetime.fromisoformat(str(data.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        raise RefusedError(422, "the delivery has no created_at") from None
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    if abs((now - created).total_seconds()) > tolerance_s:
        raise RefusedError(401, f"delivery is more than {tolerance_s}s from now")
    delivery_id = data.get("id")
    if not isinstance(delivery_id, str) or not 0 < len(delivery_id) <= 64:
        raise RefusedError(422, "the delivery has no id")
    return Signed(delivery_id=delivery_id, signed_at=created)


def day_key(user_id: str, project_id: str, task_id: str | None, date: dt.date) -> str:
    """The hint's record: a user's day on a project's task (``day:<user>:<project>:<task>:<date>``;
    ``-`` for time without a task)."""
    return f"{DAY}:{user_id}:{project_id}:{task_id or '-'}:{date.isoformat()}"


def parse_day_key(key: str) -> tuple[int, int, int | None, dt.date] | None:
    """The user, project, task and date a :func:`day_key` names; ``None`` for another key."""
    parts = key.split(":")
    if len(parts) != 5 or parts[0] != DAY:
        return None
    try:
        task = None if parts[3] == "-" else int(parts[3])
        return int(parts[1]), int(parts[2]), task, dt.date.fromisoformat(parts[4])
    except ValueError:
        return None


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isdigit() and 0 < len(value) <= 20:
        return value
    return None


def _when(payload: dict[str, Any], data: dict[str, Any]) -> dt.date:
    for name in ("tracking_stopped_at", "tracking_started_at", "starts_at", "created_at"):
        value = payload.get(name) if name in payload else data.get(name)
        if not isinstance(value, str):
            continue
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            continue
        return (
            (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).date()
        )
    raise RefusedError(422, "the delivery says not when the time was tracked")


def day_hint(body: bytes) -> Hint:
    """The user's day on the task a ``timer.stop`` or ``activity.*`` delivery names (422 for
    another event, or one naming no user and project)."""
    data = _json(body)
    payload = data.get("payload")
    if data.get("event") not in NAMING_TIME or not isinstance(payload, dict):
        raise RefusedError(422, "not a timer.stop or activity delivery")
    user, project = _id(payload.get("user_id")), _id(payload.get("project_id"))
    if user is None or project is None:
        raise RefusedError(422, "the delivery names no user and project")
    task = _id(payload.get("task_id"))
    date = _when(payload, data)
    return Hint(day_key(user, project, task, date), date, user, task)


class HubstaffWebhooks:
    """The intake of Hubstaff's deliveries (``hint`` scheme; its handshake hands the secret)."""

    scheme: Literal["hint"] = "hint"

    def handshake(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        return handshake(headers)

    def keyed_handshake(
        self, secret: str | None, headers: Mapping[str, str], body: bytes
    ) -> HandshakeAnswer | None:
        """The echo, and the echoed value as the secret to keep (Hubstaff chose it)."""
        del secret, body
        echo = handshake(headers)
        return None if echo is None else HandshakeAnswer(echo, echo[SECRET_HEADER])

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
        return day_hint(body)
