"""Wrike's webhooks, played: hooks with a secret, the verification handshake, signed deliveries.

As :mod:`timebridge_providers.wrike.webhooks` cites: ``POST /webhooks`` (``hookUrl``, ``secret``,
``events`` such as ``[TimelogChanged]``) answers ``{"kind": "webhooks", "data": [hook]}`` once
the hook URL answered the verification request (``{"requestType": "WebHook secret
verification"}`` with a random ``X-Hook-Secret``) with ``X-Hook-Secret`` = hex HMAC-SHA256 of
that value keyed with the secret; a wrong answer is ``400`` and no hook. Each timelog added,
changed or deleted sends every active hook that wants ``TimelogChanged`` a one-event array
(``timeTrackerId``, ``type`` Added/Updated/Removed, ``hours``, ``taskId``, ``webhookId``,
``eventAuthorId``, ``eventType``, ``lastUpdatedDate``) signed ``X-Request-Hash`` (hex
HMAC-SHA256 of the raw body). ``GET``/``PUT`` (``status`` ``Active``/``Suspended``)/``DELETE
/webhooks/{id}``. Without a transport to the receiver (a test that does not listen) nothing is
sent and a hook is created without the handshake.

Admin: ``POST /_sandbox/webhooks/{id}/suspend`` (as Wrike does after failed deliveries).
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.wrike.routes import Caller, answer, params
from timebridge_sandboxes.wrike.state import Timelog, WrikeState, now, stamp

hooks_api = APIRouter(prefix="/api/v4")
hooks_admin = APIRouter(prefix="/_sandbox")
VERIFICATION = {"requestType": "WebHook secret verification"}


@dataclass
class Hook:
    id: str
    url: str
    secret: str | None
    events: list[str]
    status: str = "Active"


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WrikeHooks:
    hooks: dict[str, Hook] = field(default_factory=dict)
    outbox: list[Delivery] = field(default_factory=list)
    sent: int = 0

    def render(self, hook: Hook) -> dict[str, Any]:
        return {"id": hook.id, "accountId": "IEAAAAAA", "hookUrl": hook.url,
                "status": hook.status, "events": hook.events}  # fmt: skip

    def changed(self, log: Timelog, kind: str, author: str) -> None:
        """Queue ``TimelogChanged`` to every active hook that wants it, signed with its secret."""
        for hook in self.hooks.values():
            if hook.status != "Active" or (hook.events and "TimelogChanged" not in hook.events):
                continue
            event = {
                "timeTrackerId": log.id, "type": kind, "hours": str(log.hours),
                "taskId": log.task_id, "webhookId": hook.id, "eventAuthorId": author,
                "eventType": "TimelogChanged", "lastUpdatedDate": stamp(now()),
            }  # fmt: skip
            raw = json.dumps([event]).encode()
            headers = {"Content-Type": "application/json"}
            if hook.secret:
                headers["X-Request-Hash"] = sign(hook.secret, raw)
            self.outbox.append(Delivery(hook.url, headers, raw))


def sign(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def hooks_of(request: Request) -> WrikeHooks:
    found: WrikeHooks = request.app.state.wrike_hooks
    return found


def _client(request: Request) -> httpx.AsyncClient | None:
    transport: httpx.AsyncBaseTransport | None = request.app.state.webhook_transport
    if transport is None and not request.app.state.deliver_over_network:
        return None
    return httpx.AsyncClient(transport=transport, timeout=5.0)


async def deliver(request: Request) -> None:
    """Send what was queued since the last call (Wrike retries what fails; the outbox keeps it)."""
    hooks = hooks_of(request)
    pending, hooks.sent = hooks.outbox[hooks.sent :], len(hooks.outbox)
    client = _client(request)
    if client is None:
        return
    async with client:
        for delivery in pending:
            try:
                await client.post(delivery.url, content=delivery.body, headers=delivery.headers)
            except httpx.HTTPError:
                continue


async def timelog_changed(request: Request, log: Timelog, kind: str, author: str) -> None:
    hooks_of(request).changed(log, kind, author)
    await deliver(request)


async def _verified(request: Request, url: str, secret: str) -> bool:
    """Wrike's handshake: the URL must answer the HMAC of a random value with the secret."""
    client = _client(request)
    if client is None:
        return True
    value = secrets.token_hex(16)
    async with client:
        try:
            answered = await client.post(
                url, content=json.dumps(VERIFICATION).encode(),
                headers={"Content-Type": "application/json", "X-Hook-Secret": value},
            )  # fmt: skip
        except httpx.HTTPError:
            return False
    expected = sign(secret, value.encode())
    return answered.status_code == 200 and hmac.compare_digest(
        answered.headers.get("X-Hook-Secret", ""), expected
    )


def _events(value: str | None) -> list[str]:
    if not value:
        return []
    inner = value.strip()
    if not (inner.startswith("[") and inner.endswith("]")):
        raise ApiError(400, "Parameter 'events' value is invalid")
    return [e.strip() for e in inner[1:-1].split(",") if e.strip()]


@hooks_api.post("/webhooks")
async def create_webhook(request: Request, _me: Caller) -> dict[str, Any]:
    given = await params(request)
    url = given.get("hookUrl", "")
    if not url.startswith(("http://", "https://")):
        raise ApiError(400, "Parameter 'hookUrl' value is invalid")
    state: WrikeState = request.app.state.wrike
    secret = given.get("secret") or None
    hook = Hook(state.next_id("IEAW"), url, secret, _events(given.get("events")))
    if secret is not None and not await _verified(request, url, secret):
        raise ApiError(400, "Webhook secret verification failed")
    hooks_of(request).hooks[hook.id] = hook
    return answer("webhooks", [hooks_of(request).render(hook)])


def _hook(request: Request, hook_id: str) -> Hook:
    hook = hooks_of(request).hooks.get(hook_id)
    if hook is None:
        raise ApiError(404, "Resource not found")
    return hook


@hooks_api.get("/webhooks")
async def list_webhooks(request: Request, _me: Caller) -> dict[str, Any]:
    hooks = hooks_of(request)
    return answer("webhooks", [hooks.render(h) for h in hooks.hooks.values()])


@hooks_api.get("/webhooks/{hook_id}")
async def get_webhook(request: Request, _me: Caller, hook_id: str) -> dict[str, Any]:
    return answer("webhooks", [hooks_of(request).render(_hook(request, hook_id))])


@hooks_api.put("/webhooks/{hook_id}")
async def modify_webhook(request: Request, _me: Caller, hook_id: str) -> dict[str, Any]:
    hook = _hook(request, hook_id)
    status = (await params(request)).get("status")
    if status not in {"Active", "Suspended"}:
        raise ApiError(400, "Parameter 'status' value is invalid")
    hook.status = status
    return answer("webhooks", [hooks_of(request).render(hook)])


@hooks_api.delete("/webhooks/{hook_id}")
async def delete_webhook(request: Request, _me: Caller, hook_id: str) -> dict[str, Any]:
    _hook(request, hook_id)
    del hooks_of(request).hooks[hook_id]
    return answer("webhooks", [])


@hooks_admin.post("/webhooks/{hook_id}/suspend", status_code=204)
async def suspend(request: Request, hook_id: str) -> Response:
    _hook(request, hook_id).status = "Suspended"
    return Response(status_code=204)
