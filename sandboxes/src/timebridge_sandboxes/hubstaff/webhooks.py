"""Hubstaff's webhooks, played as the spec's "Webhooks" section describes them.

``POST /v2/organizations/{id}/webhooks`` (``events``, ``target_url``) creates a hook (``201``,
``{"webhook": {"id", "target_url", "events", "status"}}``: the answer's shape is assumed, the spec
shows none) and sends the URL an empty POST with an ``X-Hook-Secret`` header (the hook's secret,
chosen here), to be echoed in a ``200``. ``POST /v2/webhooks/{id}/activate`` with that
``X-Hook-Secret`` activates a verified hook (``status`` ``active``); another secret, or a hook
whose URL never echoed, is ``400``. ``GET``/``DELETE /v2/webhooks/{id}``. Active hooks get the
events they asked for (``*``: all), ``{"id", "event", "created_at", "payload"}`` signed
``X-Hook-Signature`` (hex HMAC-SHA256 of the raw body with the secret). Without a transport to
the receiver (a test that does not listen) nothing is sent.

Which writes send what: time tracked by the desktop app ends with ``timer.stop`` (admin ``POST
/_sandbox/users/{id}/track``: the time is added to the day's activity, then the event is sent;
its payload as the spec's ``timer.start`` example, plus ``tracking_stopped_at``). Manual time
(``POST /v2/users/{id}/time_entries``) and a manager's deletion raise no documented event: none
is sent (the poll of ``activities/daily/updates`` sees them).

Admin: ``POST /_sandbox/webhooks/{id}/deactivate`` (as after failed deliveries).
"""

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.hubstaff.routes import Caller, _int, _json, _moment, state_of
from timebridge_sandboxes.hubstaff.state import Daily

hooks_api = APIRouter(prefix="/v2")
hooks_admin = APIRouter(prefix="/_sandbox")


@dataclass
class Hook:
    id: int
    url: str
    events: list[str]
    secret: str
    verified: bool = False
    status: str = "pending"

    def render(self) -> dict[str, Any]:
        return {"id": self.id, "target_url": self.url, "events": self.events,
                "status": self.status}  # fmt: skip


@dataclass
class HubstaffHooks:
    hooks: dict[int, Hook] = field(default_factory=dict)
    sent: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


def hooks_of(request: Request) -> HubstaffHooks:
    found: HubstaffHooks = request.app.state.hubstaff_hooks
    return found


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _client(request: Request) -> httpx.AsyncClient | None:
    transport: httpx.AsyncBaseTransport | None = request.app.state.webhook_transport
    if transport is None and not request.app.state.deliver_over_network:
        return None
    return httpx.AsyncClient(transport=transport, timeout=5.0)


async def emit(request: Request, event: str, payload: dict[str, Any]) -> None:
    """Send ``event`` to every active hook that asked for it, signed with its secret."""
    wanted = [
        h for h in hooks_of(request).hooks.values()
        if h.status == "active" and ("*" in h.events or event in h.events)
    ]  # fmt: skip
    client = _client(request)
    for hook in wanted:
        created = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()
        data = {"id": str(uuid.uuid4()), "event": event, "created_at": created, "payload": payload}
        raw = json.dumps(data).encode()
        headers = {"Content-Type": "application/json", "X-Hook-Signature": sign(hook.secret, raw)}
        hooks_of(request).sent.append((hook.url, headers, raw))
        if client is None:
            continue
        try:
            await client.post(hook.url, content=raw, headers=headers)
        except httpx.HTTPError:
            continue
    if client is not None:
        await client.aclose()


async def _verify(request: Request, hook: Hook) -> None:
    """The verification request: an empty POST whose ``X-Hook-Secret`` must be echoed."""
    client = _client(request)
    if client is None:
        return
    async with client:
        try:
            answered = await client.post(
                hook.url, content=b"", headers={"X-Hook-Secret": hook.secret}
            )
        except httpx.HTTPError:
            return
    echoed = answered.headers.get("X-Hook-Secret", "")
    hook.verified = answered.status_code == 200 and hmac.compare_digest(echoed, hook.secret)


@hooks_api.post("/organizations/{organization_id}/webhooks", status_code=201)
async def create_webhook(request: Request, organization_id: str, _user: Caller) -> Any:
    state = state_of(request)
    if organization_id != str(state.organization_id):
        raise ApiError(404, "Could not find record")
    body = await _json(request)
    events, url = body.get("events"), body.get("target_url")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise ApiError(400, "events is invalid")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "target_url is invalid")
    hook = Hook(state.next_id(), url, list(events), secrets.token_hex(20))
    hooks_of(request).hooks[hook.id] = hook
    await _verify(request, hook)
    return {"webhook": hook.render()}


def _hook(request: Request, webhook_id: str) -> Hook:
    hook = hooks_of(request).hooks.get(_int(webhook_id, "webhook_id"))
    if hook is None:
        raise ApiError(404, "Could not find record")
    return hook


@hooks_api.post("/webhooks/{webhook_id}/activate", status_code=201)
async def activate(request: Request, webhook_id: str, _user: Caller) -> Any:
    hook = _hook(request, webhook_id)
    given = request.headers.get("X-Hook-Secret", "")
    if not hook.verified or not hmac.compare_digest(given, hook.secret):
        raise ApiError(400, "X-Hook-Secret does not match the verified endpoint's")
    hook.status = "active"
    return {"webhook": hook.render()}


@hooks_api.get("/webhooks/{webhook_id}")
async def get_webhook(request: Request, webhook_id: str, _user: Caller) -> Any:
    return {"webhook": _hook(request, webhook_id).render()}


@hooks_api.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(request: Request, webhook_id: str, _user: Caller) -> Response:
    hook = _hook(request, webhook_id)
    del hooks_of(request).hooks[hook.id]
    return Response(status_code=204)


@hooks_admin.post("/webhooks/{webhook_id}/deactivate", status_code=204)
async def deactivate(request: Request, webhook_id: str) -> Response:
    _hook(request, webhook_id).status = "inactive"
    return Response(status_code=204)


@hooks_admin.post("/users/{user_id}/track")
async def track(request: Request, user_id: str) -> dict[str, Any]:
    """The desktop app tracked ``tracked`` seconds from ``start_time`` on ``project_id`` (and
    ``task_id``): added to the day's activity, then ``timer.stop`` is sent."""
    state = state_of(request)
    user = state.users.get(_int(user_id, "user_id"))
    body = await _json(request)
    project, task, tracked = body.get("project_id"), body.get("task_id"), body.get("tracked")
    if user is None or project not in state.projects or not isinstance(tracked, int):
        raise ApiError(400, "user, project_id and tracked are required")
    start = _moment(body.get("start_time"), "start_time").astimezone(dt.UTC)
    date = start.astimezone(zoneinfo.ZoneInfo(state.time_zone)).date()
    billable = bool(state.projects[project].billable)
    daily: Daily = state.log(user.id, project, task, date, tracked, billable=billable)
    daily.manual -= tracked  # tracked by the app, not manual time
    stopped = start + dt.timedelta(seconds=tracked)
    payload = {
        "organization_id": state.organization_id, "project_id": project,
        "project_name": state.projects[project].name, "task_id": task,
        "task_summary": state.tasks[task].summary if task in state.tasks else None,
        "user_id": user.id, "user_name": user.name,
        "tracking_started_at": start.isoformat().replace("+00:00", "Z"),
        "tracking_stopped_at": stopped.isoformat().replace("+00:00", "Z"),
    }  # fmt: skip
    await emit(request, "timer.stop", payload)
    return daily.render()
