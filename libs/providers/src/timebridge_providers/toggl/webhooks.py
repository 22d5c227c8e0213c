"""Toggl Webhooks API v1: signed deliveries carrying the changed entry.

V (engineering.toggl.com/docs/webhooks_start): a subscription has a ``secret``; each delivery
carries ``X-Webhook-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the secret>``. A
new subscription is validated with a ``"payload": "ping"`` event holding ``validation_code``
(and ``validation_code_url``): the receiver answers ``{"validation_code": <code>}`` in a 200 (or
calls the URL). Events carry ``event_id``, ``subscription_id``, ``timestamp`` (when sent),
``metadata`` (``action`` created/updated/deleted, ``model``, ``workspace_id``, ``time_entry_id``)
and ``payload`` (the entry as API v9 renders it). A Toggl signs only the body, so a delivery's age
is its signed ``timestamp`` field; Toggl keeps ``event_id`` across its retries (the replay key).

Ingest subscribes per connection (:class:`TogglHooks`, ``POST /subscriptions/{workspace_id}``
with ``url_callback``, ``event_filters`` for time entries and the ``secret`` ingest made and keeps
sealed), to a URL naming the connection; the ping arrives while the subscription is made, and is
answered with its code (:attr:`Delivery.reply`).

Time zones: :meth:`TogglWebhooks.verify` has no per-connection context, so the date is the start's
UTC date (``timezone`` "UTC"); a poll of the same entry reads it in the user's zone. The
observation id (entry, ``at``, deleted) is the same either way.
"""

import datetime as dt
import hashlib
import hmac
import json
from typing import Any, Literal

from pydantic import ValidationError

from timebridge_providers.kit.ports.observe import Change, Delivery, HookState, RefusedError
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.translate import entry_fields
from timebridge_providers.toggl.wire import TimeEntry

SIGNATURE_HEADER = "X-Webhook-Signature-256"
_MAX_HEADER = 512
_MAX_BODY = 1_000_000


def sign(secret: str, body: bytes) -> str:
    """The ``X-Webhook-Signature-256`` value for ``body`` (what Toggl, and our sandbox, send)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _check_signature(secret: str, header: str | None, body: bytes) -> None:
    if not header:
        raise RefusedError(401, f"missing {SIGNATURE_HEADER} header")
    if not header.isascii() or not header.isprintable() or len(header) > _MAX_HEADER:
        raise RefusedError(401, f"malformed {SIGNATURE_HEADER} header: not printable ASCII")
    scheme, _, value = header.strip().partition("=")
    if scheme != "sha256" or not value:
        raise RefusedError(401, f"{SIGNATURE_HEADER} is not sha256=<hex>")
    if not hmac.compare_digest(sign(secret, body).partition("=")[2], value.lower()):
        raise RefusedError(401, "signature does not match")


def _json(body: bytes) -> dict[str, Any]:
    if len(body) > _MAX_BODY:
        raise RefusedError(413, "body too large")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise RefusedError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RefusedError(422, "body is not a JSON object")
    return data


def _moment(value: object, what: str) -> dt.datetime:
    if not isinstance(value, str):
        raise RefusedError(422, f"{what} is missing")
    try:
        # Toggl writes nanoseconds (2022-06-25T03:58:10.207820267Z): keep microseconds.
        head, dot, tail = value.rstrip("Z").partition(".")
        text = head + (dot + tail[:6] if dot else "") + "+00:00"
        moment = dt.datetime.fromisoformat(text if value.endswith("Z") else value)
    except ValueError:
        raise RefusedError(422, f"{what} is not a date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def validation_code(body: bytes) -> str | None:
    """The code a subscription's validation ping asks to be echoed (``{"validation_code":
    <code>}`` in the 200 answer); ``None`` for any other delivery. Call after :meth:`verify`."""
    data = _json(body)
    code = data.get("validation_code")
    return code if data.get("payload") == "ping" and isinstance(code, str) else None


class TogglWebhooks:
    """Toggl's signed deliveries (``X-Webhook-Signature-256``)."""

    scheme: Literal["signed"] = "signed"
    signature_header = SIGNATURE_HEADER

    def verify(
        self,
        secret: str,
        signature: str | None,
        body: bytes,
        *,
        account: str,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Delivery:
        _check_signature(secret, signature, body)
        data = _json(body)
        signed_at = _moment(data.get("timestamp") or data.get("created_at"), "timestamp")
        if abs((now - signed_at).total_seconds()) > tolerance_s:
            raise RefusedError(401, f"delivery timestamp is more than {tolerance_s}s from now")
        delivery_id = f"{data.get('subscription_id')}:{data.get('event_id')}"
        if len(delivery_id) > 64 or not delivery_id.isascii():
            raise RefusedError(422, "subscription_id and event_id are not short ids")
        payload = data.get("payload")
        if payload == "ping":
            code = data.get("validation_code")
            reply = {"validation_code": code} if isinstance(code, str) and code else None
            return Delivery(delivery_id, signed_at, change=None, reply=reply)
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        assert isinstance(metadata, dict)
        if metadata.get("model") != "time_entry" or not isinstance(payload, dict):
            return Delivery(delivery_id=delivery_id, signed_at=signed_at, change=None)
        try:
            entry = TimeEntry.model_validate(payload)
        except ValidationError as exc:
            raise RefusedError(422, f"not a time entry: {exc.error_count()} problems") from None
        if account and str(entry.workspace_id) != account:
            raise RefusedError(422, f"delivery is for workspace {entry.workspace_id}")
        deleted = metadata.get("action") == "deleted" or entry.server_deleted_at is not None
        if entry.running and not deleted:
            # A running timer is not synced until it stops (its "updated" delivery then).
            return Delivery(delivery_id=delivery_id, signed_at=signed_at, change=None)
        if entry.running:
            entry = entry.model_copy(update={"duration": 0})
        change = Change(
            external_id=str(entry.id),
            fields=entry_fields(entry, zone="UTC"),
            updated_at=entry.at or signed_at,
            deleted=deleted,
        )
        return Delivery(delivery_id=delivery_id, signed_at=signed_at, change=change)


EVENT_FILTERS = ({"entity": "time_entry", "action": "*"},)
DESCRIPTION = "Timebridge"


class TogglHooks:
    """One connection's subscription (Webhooks API v1), signed with the secret ingest proposes.

    Toggl validates a subscription by its ping (answered while it is made) and sends nothing to an
    unvalidated or disabled one (:meth:`ensure_active` enables and validates it again); a
    subscription Toggl no longer lists is gone (registered again)."""

    def __init__(self, client: TogglClient) -> None:
        self._client = client

    async def _workspace(self) -> int:
        if self._client.workspace_id:
            return self._client.workspace_id
        return (await self._client.me()).default_workspace_id or 0

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        body: dict[str, Any] = {
            "url_callback": target_url,
            "event_filters": [dict(f) for f in EVENT_FILTERS],
            "enabled": True,
            "description": DESCRIPTION,
        }
        if secret is not None:
            body["secret"] = secret
        made = await self._client.subscribe(await self._workspace(), body)
        return _state(made)

    async def delete(self, hook_id: str) -> None:
        await self._client.unsubscribe(await self._workspace(), int(hook_id))

    async def ensure_active(self, hook_id: str) -> HookState | None:
        """A subscription Toggl disabled (deliveries kept failing) is enabled again, and one no
        longer validated is pinged: the ping carries its validation code, which ingest's
        receiver answers, so Toggl validates it again (same id; the poll covers the gap)."""
        workspace = await self._workspace()
        found = await self._listed(workspace, hook_id)
        if found is None:
            return None
        if not found.get("enabled"):
            found = await self._client.enable_subscription(workspace, int(hook_id))
        if found.get("validated_at") is None:
            await self._client.ping_subscription(workspace, int(hook_id))
            found = await self._listed(workspace, hook_id)
        return None if found is None else _state(found)

    async def _listed(self, workspace: int, hook_id: str) -> dict[str, Any] | None:
        listed = await self._client.subscriptions(workspace)
        return next((s for s in listed if str(s.get("subscription_id")) == hook_id), None)


def _state(subscription: dict[str, Any]) -> HookState:
    secret, url = subscription.get("secret"), subscription.get("url_callback")
    return HookState(
        str(subscription.get("subscription_id")),
        bool(subscription.get("enabled")) and subscription.get("validated_at") is not None,
        secret if isinstance(secret, str) and secret else None,
        url if isinstance(url, str) and url else None,
    )
