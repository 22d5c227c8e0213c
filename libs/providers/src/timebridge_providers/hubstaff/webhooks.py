"""Hubstaff's webhooks (API v2): the verification echo, activation and ``X-Hook-Signature``.

Source: the Hubstaff API v2 spec's "Webhooks" section (``../shared/provider-specs/
hubstaff-v2-swagger.json``, from hubstaff-cli; ``info.description`` and the ``/v2/.../webhooks``
paths). A hook is created with ``POST /v2/organizations/{organization_id}/webhooks`` (also per
project, or ``/v2/users/me/webhooks``) taking ``events`` and ``target_url``; Hubstaff then POSTs
an empty body with an ``X-Hook-Secret`` header, which the endpoint echoes (200). That value is the
hook's secret: the hook only delivers once activated with it (``POST
/v2/webhooks/{webhook_id}/activate`` with ``X-Hook-Secret``), and every delivery carries
``X-Hook-Signature``, the hex HMAC-SHA256 of the raw body keyed with it. A delivery is ``{"id":
<uuid>, "event": ..., "created_at": ..., "payload": {...}}``: ``id`` is the replay key and
``created_at`` (no zone in the spec's example: taken as UTC) its age, as for ClickUp and Clockify.

Not wired as the provider's webhook intake yet (the profile says polling): its events are timer,
task, schedule and shift events, and ``activity.create/update/delete`` only "on request", whose
payload the spec does not show; this provider's records are daily activities (their ``id``),
which no documented payload names. And the secret is chosen by Hubstaff and seen only by the
receiver's handshake, which the kit's ``HintWebhooks.handshake`` cannot store.
"""

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from timebridge_providers.kit.ports.observe import RefusedError, Signed

SECRET_HEADER = "X-Hook-Secret"  # noqa: S105 - a header name
SIGNATURE_HEADER = "X-Hook-Signature"
_MAX_BODY = 1_000_000
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
