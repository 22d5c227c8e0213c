"""The ClickUp sandbox's user, workspace, Spaces, Lists, tasks and webhooks, and its admin API."""

from typing import Any

from fastapi import APIRouter, Request

from timebridge_sandboxes.clickup.http import (
    Caller,
    ClickUpError,
    clickup_state,
    read_json,
    team,
)
from timebridge_sandboxes.clickup.state import ClickUpState, List, now_ms

api = APIRouter(prefix="/api/v2")
admin = APIRouter(prefix="/_sandbox")

FEATURE = {"enabled": True}


@api.get("/user")
async def me(user: Caller) -> dict[str, Any]:
    return {"user": user.render()}


@api.get("/team")
async def teams(request: Request, user: Caller) -> dict[str, Any]:
    del user
    return {"teams": [clickup_state(request).team()]}


@api.get("/team/{team_id}/space")
async def spaces(request: Request, team_id: str, user: Caller) -> dict[str, Any]:
    del user
    state = team(request, team_id)
    features = {
        "due_dates": {
            "enabled": True,
            "start_date": False,
            "remap_due_dates": True,
            "remap_closed_due_date": False,
        },
        "time_tracking": FEATURE,
        "tags": FEATURE,
        "time_estimates": FEATURE,
        "checklists": FEATURE,
    }
    return {
        "spaces": [
            {
                "id": str(space.id),
                "name": space.name,
                "private": False,
                "statuses": [],
                "multiple_assignees": True,
                "features": features,
                "archived": False,
            }
            for space in state.spaces.values()
        ]
    }


def _list(state: ClickUpState, list_id: str) -> List:
    found = state.lists.get(int(list_id)) if list_id.isdigit() else None
    if found is None:
        raise ClickUpError(404, "List not found", "ITEM_013")
    return found


@api.get("/space/{space_id}/list")
async def folderless_lists(request: Request, space_id: str, user: Caller) -> dict[str, Any]:
    del user
    state = clickup_state(request)
    if not space_id.isdigit() or int(space_id) not in state.spaces:
        raise ClickUpError(404, "Space not found", "ITEM_011")
    lists = [state.render_list(li) for li in state.lists.values() if li.space == int(space_id)]
    return {"lists": lists}


@api.get("/space/{space_id}/folder")
async def folders(request: Request, space_id: str, user: Caller) -> dict[str, Any]:
    del user
    if not space_id.isdigit() or int(space_id) not in clickup_state(request).spaces:
        raise ClickUpError(404, "Space not found", "ITEM_011")
    return {"folders": []}  # the sandbox's Lists are folderless


@api.get("/list/{list_id}")
async def get_list(request: Request, list_id: str, user: Caller) -> dict[str, Any]:
    del user
    state = clickup_state(request)
    return state.render_list(_list(state, list_id))


@api.get("/list/{list_id}/task")
async def list_tasks(request: Request, list_id: str, user: Caller) -> dict[str, Any]:
    del user
    state = clickup_state(request)
    found = _list(state, list_id)
    page = request.query_params.get("page", "0")
    if not page.isdigit():
        raise ClickUpError(400, "Page must be a number", "INPUT_003")
    tasks = [t for t in state.tasks.values() if t.list == found.id]
    size = state.task_page
    chunk = tasks[int(page) * size : (int(page) + 1) * size]
    last = (int(page) + 1) * size >= len(tasks)
    return {"tasks": [state.render_task(t) for t in chunk], "last_page": last}


@api.post("/list/{list_id}/task")
async def create_task(request: Request, list_id: str, user: Caller) -> dict[str, Any]:
    del user
    state = clickup_state(request)
    found = _list(state, list_id)
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ClickUpError(400, "Task name invalid", "INPUT_005")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ClickUpError(400, "Description must be a string", "INPUT_003")
    return state.render_task(state.add_task(found, name, description))


@api.get("/task/{task_id}")
async def get_task(request: Request, task_id: str, user: Caller) -> dict[str, Any]:
    del user
    state = clickup_state(request)
    task = state.tasks.get(task_id)
    if task is None:
        raise ClickUpError(404, "Task not found", "ITEM_015")
    return state.render_task(task)


@api.get("/team/{team_id}/webhook")
async def webhooks(request: Request, team_id: str, user: Caller) -> dict[str, Any]:
    state = team(request, team_id)
    mine = [state.render_hook(h) for h in state.hooks.values() if h.user == user.id]
    return {"webhooks": mine}


@api.post("/team/{team_id}/webhook")
async def create_webhook(request: Request, team_id: str, user: Caller) -> dict[str, Any]:
    state = team(request, team_id)
    body = await read_json(request)
    endpoint, events = body.get("endpoint"), body.get("events")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise ClickUpError(400, "Webhook endpoint invalid", "WH_003")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise ClickUpError(400, "Webhook events invalid", "WH_004")
    hook = state.new_hook(user.id, endpoint, events)
    return {"id": hook.id, "webhook": state.render_hook(hook)}


@api.put("/webhook/{webhook_id}")
async def update_webhook(request: Request, webhook_id: str, user: Caller) -> dict[str, Any]:
    state = clickup_state(request)
    hook = state.hooks.get(webhook_id)
    if hook is None or hook.user != user.id:
        raise ClickUpError(404, "Webhook not found", "WH_005")
    body = await read_json(request)
    if isinstance(body.get("endpoint"), str):
        hook.endpoint = body["endpoint"]
    if isinstance(body.get("events"), str):
        hook.events = [e.strip() for e in body["events"].split(",") if e.strip()]
    if body.get("status") in {"active", "inactive"}:
        hook.status = body["status"]
        hook.fail_count = 0
    return {"id": hook.id, "webhook": state.render_hook(hook)}


@api.delete("/webhook/{webhook_id}")
async def delete_webhook(request: Request, webhook_id: str, user: Caller) -> dict[str, Any]:
    state = clickup_state(request)
    hook = state.hooks.get(webhook_id)
    if hook is None or hook.user != user.id:
        raise ClickUpError(404, "Webhook not found", "WH_005")
    del state.hooks[webhook_id]
    return {}


@admin.post("/time_entries/{timer_id}/lock")
async def lock(request: Request, timer_id: str) -> dict[str, Any]:
    """A manager approves the timesheet holding the entry: it cannot change any more."""
    entry = clickup_state(request).entries.get(timer_id)
    if entry is None:
        raise ClickUpError(404, "Time entry not found", "TIMEENTRY_005")
    entry.locked = True
    entry.at = now_ms()
    return {"locked": timer_id}


@admin.post("/webhooks/{webhook_id}/suspend")
async def suspend(request: Request, webhook_id: str) -> dict[str, Any]:
    """ClickUp suspends a webhook after repeated failed deliveries."""
    hook = clickup_state(request).hooks.get(webhook_id)
    if hook is None:
        raise ClickUpError(404, "Webhook not found", "WH_005")
    hook.status, hook.fail_count = "suspended", 100
    return {"suspended": webhook_id}


@admin.get("/outbox")
async def outbox(request: Request) -> list[dict[str, Any]]:
    return [
        {"url": d.url, "headers": d.headers, "body": d.body.decode()}
        for d in clickup_state(request).outbox
    ]
