"""The Core webhook contract (see docs/contracts/core-webhooks.md): verification and parsing.

Core signs each delivery like Stripe does: ``Core-Signature: t=<unix seconds>,v1=<hex>``, where
``v1`` is HMAC-SHA256 over ``"<t>.<raw body>"`` with the workspace's webhook secret. Signing the
timestamp lets us refuse a captured request replayed later; several ``v1`` values may appear
while Core rotates a secret.
"""

import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timebridge_common.events import TimeEntryLogged
from timebridge_common.events.base import UtcDatetime
from timebridge_common.events.codec import validation_summary
from timebridge_providers.core.client import TimeEntry
from timebridge_providers.core.commercial import (
    COMMERCIAL_TYPES,
    CommercialWebhook,
    parse_commercial,
)
from timebridge_providers.core.translate import entry_to_event
from timebridge_providers.kit.ports.observe import RefusedError as RejectedError

SIGNATURE_HEADER = "Core-Signature"
_MAX_HEADER = 4096
_MAX_TIMESTAMP_DIGITS = 12


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Core-Signature`` header value for ``body`` (what Core, and our sandbox, send)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str | None, body: bytes, *, now: dt.datetime, tolerance_s: int
) -> dt.datetime:
    """The signing time, once ``header`` is known to sign ``body`` with ``secret`` within the
    tolerance (else a 401 refusal).

    The header is untrusted text: Starlette decodes its bytes as Latin-1, and
    ``hmac.compare_digest`` raises on non-ASCII text, so anything but printable ASCII is refused
    before it is parsed; the timestamp is bounded before it is compared with the clock.
    """
    if not header:
        raise RejectedError(401, f"missing {SIGNATURE_HEADER} header")
    if not header.isascii() or not header.isprintable() or len(header) > _MAX_HEADER:
        raise RejectedError(401, f"malformed {SIGNATURE_HEADER} header: not printable ASCII")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    raw_t = parts.get("t", [""])[0]
    if not (raw_t.isdigit() and len(raw_t) <= _MAX_TIMESTAMP_DIGITS):
        raise RejectedError(401, f"malformed {SIGNATURE_HEADER} header")
    timestamp = int(raw_t)
    signatures = parts.get("v1", [])
    if not signatures:
        raise RejectedError(401, f"{SIGNATURE_HEADER} has no v1 signature")
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise RejectedError(401, f"signature timestamp is more than {tolerance_s}s away from now")
    expected = sign(secret, timestamp, body).partition("v1=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise RejectedError(401, "signature does not match")
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CoreTimeEntryData(_Strict):
    time_entry: TimeEntry


class CoreTimeEntryWebhook(_Strict):
    id: Annotated[
        str,
        Field(
            min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", description="Delivery id"
        ),
    ]
    type: Literal["time_entry.created", "time_entry.updated", "time_entry.deleted"]
    workspace_id: str
    occurred_at: UtcDatetime
    data: CoreTimeEntryData


TICKET_TYPES = frozenset({"ticket.created", "ticket.updated", "ticket.deleted"})
"""Accepted and not published: mapping reads tickets from Core's API when it needs them."""


class _Kind(_Strict):
    type: str


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_MAYBE_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\x00|\xed[\xa0-\xbf]")
"""The only ways a body's parsed text can hold a NUL or a lone surrogate: an escape of one
(``\\u0000``, ``\\ud800``-``\\udfff``), a raw NUL (or a UTF-16/32 body), or a surrogate's
UTF-8-like bytes (``json.loads`` decodes bytes with ``surrogatepass``). A body without any
of them is not parsed a third time to look for them (~3% of ingest's CPU per webhook)."""


def _unstorable(value: object, where: str = "body") -> str | None:
    """Where ``value`` holds text no store can hold (NUL, a lone surrogate), if anywhere."""
    if isinstance(value, str):
        return where if _UNSTORABLE.search(value) else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = _unstorable(key, f"{where} key") or _unstorable(item, f"{where}.{key}")
        if found:
            return found
    return None


def parse_webhook(
    body: bytes, workspace_id: str
) -> CoreTimeEntryWebhook | CommercialWebhook | None:
    """The time-entry, contract or milestone webhook in ``body``; ``None`` for a ticket webhook
    (acknowledged only).

    Text with NUL or lone surrogates is refused (422): PostgreSQL cannot store it, here (the
    replay window) or downstream, and no genuine Core delivery carries it.
    """
    found = None
    if _MAYBE_UNSTORABLE.search(body):
        try:
            found = _unstorable(json.loads(body))
        except (ValueError, RecursionError):
            found = None  # not JSON: the validation below says so
    if found:
        raise RejectedError(422, f"{found}: NUL or lone surrogate in text")
    webhook: CoreTimeEntryWebhook | CommercialWebhook
    try:
        # Nearly every delivery is a valid time-entry webhook: parsed once. Anything else (a
        # ticket, a contract, an invalid body) is read by its type as before, with its errors.
        webhook = CoreTimeEntryWebhook.model_validate_json(body)
    except ValidationError:
        pass
    else:
        return _for_workspace(webhook, workspace_id)
    try:
        kind = _Kind.model_validate_json(body).type
        if kind in TICKET_TYPES:
            return None
        webhook = (
            parse_commercial(kind, body)
            if kind in COMMERCIAL_TYPES
            else CoreTimeEntryWebhook.model_validate_json(body)
        )
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise RejectedError(400, "body is not valid JSON") from None
        raise RejectedError(422, validation_summary(exc)) from None
    return _for_workspace(webhook, workspace_id)


def _for_workspace(
    webhook: CoreTimeEntryWebhook | CommercialWebhook, workspace_id: str
) -> CoreTimeEntryWebhook | CommercialWebhook:
    if webhook.workspace_id != workspace_id:
        raise RejectedError(
            422, f"body is for workspace {webhook.workspace_id!r}, URL for {workspace_id!r}"
        )
    return webhook


def to_event(webhook: CoreTimeEntryWebhook) -> TimeEntryLogged:
    return entry_to_event(
        webhook.workspace_id,
        webhook.data.time_entry,
        deleted=webhook.type == "time_entry.deleted",
        observed_via="webhook",
    )
