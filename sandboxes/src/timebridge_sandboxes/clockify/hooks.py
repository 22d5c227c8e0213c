"""Clockify's webhooks in the sandbox: ``/workspaces/{ws}/webhooks`` (create, list, read, update,
delete) and the deliveries: the entry as JSON, ``Clockify-Signature: <authToken>`` and
``Clockify-Webhook-Event-Type``, posted through the app's ``webhook_transport`` (or the network).
"""

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from timebridge_sandboxes.clockify.routes import Caller, _json, _workspace, clockify_state
from timebridge_sandboxes.clockify.state import ClockifyState, Entry
from timebridge_sandboxes.faults import ApiError

hooks = APIRouter(prefix="/api/v1")
EVENTS = frozenset(
    {
        "NEW_TIME_ENTRY",
        "TIME_ENTRY_UPDATED",
        "TIMER_STOPPED",
        "TIME_ENTRY_DELETED",
        "NEW_TIMER_STARTED",
    }
)


@dataclass
class Hook:
    id: str
    name: str
    url: str
    event: str
    token: str
    user_id: str
    enabled: bool = True


def _hooks(request: Request) -> dict[str, Hook]:
    found: dict[str, Hook] = request.app.state.hooks
    return found


def _json_of(state: ClockifyState, hook: Hook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "name": hook.name,
        "url": hook.url,
        "webhookEvent": hook.event,
        "triggerSourceType": "WORKSPACE_ID",
        "triggerSource": [state.workspace_id],
        "workspaceId": state.workspace_id,
        "userId": hook.user_id,
        "authToken": hook.token,
        "enabled": hook.enabled,
        "deliveryEnabled": hook.enabled,
        "planEnabled": True,
    }


def _check(state: ClockifyState, body: dict[str, Any]) -> tuple[str, str, str]:
    url, event = body.get("url"), body.get("webhookEvent")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "url must be a valid URL")
    if event not in EVENTS:
        raise ApiError(400, f"webhookEvent {event!r} is not a time entry event")
    if body.get("triggerSourceType") != "WORKSPACE_ID" or body.get("triggerSource") != [
        state.workspace_id
    ]:
        raise ApiError(400, "triggerSource must name this workspace (WORKSPACE_ID)")
    return url, str(event), str(body.get("name") or "")


@hooks.post("/workspaces/{workspace_id}/webhooks", status_code=201)
async def create(request: Request, caller: Caller, workspace_id: str) -> Any:
    state = _workspace(request, workspace_id)
    if not caller.admin:
        raise ApiError(403, "Only workspace owners and admins can create webhooks")
    url, event, name = _check(state, await _json(request))
    hook = Hook(state.next_id(), name, url, event, secrets.token_urlsafe(24), caller.id)
    _hooks(request)[hook.id] = hook
    return _json_of(state, hook)


@hooks.get("/workspaces/{workspace_id}/webhooks")
async def listing(request: Request, _: Caller, workspace_id: str) -> Any:
    state = _workspace(request, workspace_id)
    found = [_json_of(state, h) for h in _hooks(request).values()]
    return {"webhooks": found, "workspaceWebhookCount": len(found)}


def _hook(request: Request, hook_id: str) -> Hook:
    hook = _hooks(request).get(hook_id)
    if hook is None:
        raise ApiError(404, "Webhook doesn't exist")
    return hook


@hooks.get("/workspaces/{workspace_id}/webhooks/{hook_id}")
async def read(request: Request, _: Caller, workspace_id: str, hook_id: str) -> Any:
    return _json_of(_workspace(request, workspace_id), _hook(request, hook_id))


@hooks.put("/workspaces/{workspace_id}/webhooks/{hook_id}")
async def update(request: Request, _: Caller, workspace_id: str, hook_id: str) -> Any:
    state = _workspace(request, workspace_id)
    hook = _hook(request, hook_id)
    hook.url, hook.event, hook.name = _check(state, await _json(request))
    return _json_of(state, hook)


@hooks.delete("/workspaces/{workspace_id}/webhooks/{hook_id}")
async def delete(request: Request, _: Caller, workspace_id: str, hook_id: str) -> Response:
    _workspace(request, workspace_id)
    _hook(request, hook_id)
    del _hooks(request)[hook_id]
    return Response(status_code=200)


async def announce(request: Request, entry: Entry, event: str) -> None:
    """Deliver ``entry`` to every enabled webhook of ``event`` (a failed delivery is dropped)."""
    state = clockify_state(request)
    targets = [h for h in _hooks(request).values() if h.enabled and h.event == event]
    transport: httpx.AsyncBaseTransport | None = request.app.state.webhook_transport
    if not targets or (transport is None and not request.app.state.deliver_over_network):
        return
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        for hook in targets:
            headers = {"Clockify-Signature": hook.token, "Clockify-Webhook-Event-Type": event}
            try:
                await client.post(hook.url, json=state.entry_json(entry), headers=headers)
            except httpx.HTTPError:
                continue
