"""ClickUp webhooks: ``taskTimeTrackedUpdated`` deliveries, taken as hints to re-read an entry.

V (ClickUp docs, "Webhooks"): a webhook is registered per workspace (``POST
/team/{team_id}/webhook``) and answered with its ``secret``; each delivery carries ``X-Signature``,
the hex HMAC-SHA256 of the raw body with that secret. A time-tracking delivery names the task
(``task_id``), the interval (``data.interval_id``) and, in ``history_items[0]``, the user and the
interval ``before``/``after`` (start/end/time in ms) - never the notes or the billable flag, so
it cannot be published as the entry: the entry is re-read through the API (the kit's ``hint``
scheme), which also makes a forged or replayed delivery harmless. ClickUp sends no handshake.

Ingest keeps the secret answered at creation (sealed, per connection) and checks each delivery
with it (:meth:`ClickUpWebhooks.authenticate`) before storing the hint: a missing or wrong
signature is refused (401), as is a delivery whose signed ``history_items[0].date`` (ms, when the
change was made) is further from now than the tolerance; ``history_items[0].id`` is the replay key.
"""

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal

from timebridge_providers.kit.ports.observe import Hint, RefusedError, Signed

SIGNATURE_HEADER = "X-Signature"
_MAX_BODY = 1_000_000


def sign(secret: str, body: bytes) -> str:
    """The ``X-Signature`` ClickUp sends for ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, header: str | None, body: bytes) -> None:
    """Refuse (401) a delivery whose ``X-Signature`` is not ``body``'s with ``secret``."""
    if not header or not header.isascii() or len(header) > 128:
        raise RefusedError(401, f"missing or malformed {SIGNATURE_HEADER} header")
    if not hmac.compare_digest(sign(secret, body), header.strip().lower()):
        raise RefusedError(401, "signature does not match")


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short_id(text: str) -> bool:
    """A replay key the window can hold: 1 to 64 ASCII letters and digits."""
    return 0 < len(text) <= 64 and text.isascii() and text.isalnum()


def _json(body: bytes) -> dict[str, Any]:
    if len(body) > _MAX_BODY:
        raise RefusedError(413, "body too large")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise RefusedError(400, "body is not valid JSON") from None
    return _object(data)


def _first_item(data: dict[str, Any]) -> dict[str, Any]:
    items = data.get("history_items")
    return _object(items[0]) if isinstance(items, list) and items else {}


class ClickUpWebhooks:
    """The intake of ClickUp's deliveries (``hint`` scheme)."""

    scheme: Literal["hint"] = "hint"

    def handshake(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        """ClickUp validates no endpoint: nothing to answer."""
        del headers
        return None

    def authenticate(
        self,
        secret: str | None,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Signed | None:
        """``X-Signature`` with the hook's secret, then the change's signed time and id."""
        if not secret:
            raise RefusedError(401, "no secret is kept for this webhook")
        header = next(
            (v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None
        )
        verify_signature(secret, header, body)
        item = _first_item(_json(body))
        try:
            made = dt.datetime.fromtimestamp(int(str(item.get("date"))) / 1000, dt.UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise RefusedError(422, "the delivery's history item has no date") from None
        if abs((now - made).total_seconds()) > tolerance_s:
            raise RefusedError(401, f"delivery is more than {tolerance_s}s from now")
        item_id = item.get("id")
        if not isinstance(item_id, str | int) or not _short_id(str(item_id)):
            raise RefusedError(422, "the delivery's history item has no id")
        return Signed(delivery_id=str(item_id), signed_at=made)

    def hint(self, body: bytes) -> Hint:
        data = _json(body)
        interval = _object(data.get("data")).get("interval_id")
        item = _first_item(data)
        period = _object(item.get("after")) or _object(item.get("before"))
        interval = interval or period.get("id")
        user = _object(item.get("user")).get("id")
        start = period.get("start")
        if data.get("event") != "taskTimeTrackedUpdated" or not interval or user is None:
            raise RefusedError(422, "not a time-tracking delivery naming an interval")
        try:
            date = dt.datetime.fromtimestamp(int(str(start)) / 1000, dt.UTC).date()
        except (TypeError, ValueError, OverflowError, OSError):
            raise RefusedError(422, "the interval has no start") from None
        task = data.get("task_id")
        return Hint(
            external_id=str(interval),
            date=date,
            user_id=str(user),
            task_id=None if task is None else str(task),
        )
