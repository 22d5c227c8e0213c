"""Wrike API v4, as documented (developers.wrike.com): bearer tokens, ``{"kind", "data"}``
answers, parameters in the query string or a form body, errors ``{"errorDescription", "error"}``."""

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.wrike.state import Contact, Timelog, WrikeState, now

api = APIRouter(prefix="/api/v4")
admin = APIRouter(prefix="/_sandbox")


def wrike_state(request: Request) -> WrikeState:
    state: WrikeState = request.app.state.wrike
    return state


def caller(request: Request) -> Contact:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    contact = wrike_state(request).by_token(token)
    if contact is None:
        raise ApiError(401, "Authorization is required")
    request.app.state.limit.admit(contact.token)
    return contact


Caller = Annotated[Contact, Depends(caller)]


def answer(kind: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "data": data}


async def params(request: Request) -> dict[str, str]:
    """The query string and, for a form body, its fields (Wrike takes either)."""
    found = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        found.update({k: v for k, v in form.items() if isinstance(v, str)})
    return found


def _range(value: str | None, name: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``{"start": ..., "end": ...}``, each a date or a UTC date-time (``yyyy-MM-ddTHH:mm:ssZ``)."""
    if value is None:
        return None, None
    try:
        data = json.loads(value)
        assert isinstance(data, dict)
        bounds = [data.get("start"), data.get("end")]
        moments = [
            None if b is None else dt.datetime.fromisoformat(str(b).replace("Z", "+00:00"))
            for b in bounds
        ]
    except (ValueError, AssertionError):
        raise ApiError(400, f"Parameter '{name}' value is invalid") from None
    low, high = (
        None if m is None else (m if m.tzinfo else m.replace(tzinfo=dt.UTC)) for m in moments
    )
    return low, high


def _filtered(logs: list[Timelog], query: dict[str, str], me: Contact) -> list[Timelog]:
    low, high = _range(query.get("updatedDate"), "updatedDate")
    if low:
        logs = [t for t in logs if t.updated >= low]
    if high:
        logs = [t for t in logs if t.updated <= high]
    first, last = _range(query.get("trackedDate"), "trackedDate")
    if first:
        logs = [t for t in logs if t.tracked >= first.date()]
    if last:
        logs = [t for t in logs if t.tracked <= last.date()]
    if query.get("me") == "true":
        logs = [t for t in logs if t.user_id == me.id]
    return sorted(logs, key=lambda t: t.id)


@api.get("/contacts")
async def contacts(request: Request, me: Caller) -> dict[str, Any]:
    state = wrike_state(request)
    found = [me] if request.query_params.get("me") == "true" else list(state.contacts.values())
    return answer("contacts", [state.contact_json(c, me) for c in found])


@api.get("/folders")
async def folders(request: Request, _me: Caller) -> dict[str, Any]:
    state = wrike_state(request)
    return answer("folders", [state.folder_json(f) for f in state.folders.values()])


@api.get("/folders/{folder_id}")
async def folder(request: Request, _me: Caller, folder_id: str) -> dict[str, Any]:
    state = wrike_state(request)
    if folder_id not in state.folders:
        raise ApiError(404, "Resource not found")
    return answer("folders", [state.folder_json(state.folders[folder_id])])


@api.get("/folders/{folder_id}/tasks")
async def folder_tasks(request: Request, _me: Caller, folder_id: str) -> dict[str, Any]:
    state = wrike_state(request)
    if folder_id not in state.folders:
        raise ApiError(404, "Resource not found")
    found = [t for t in state.tasks.values() if t.folder_id == folder_id]
    return answer("tasks", [state.task_json(t) for t in found])


@api.post("/folders/{folder_id}/tasks")
async def create_task(request: Request, _me: Caller, folder_id: str) -> dict[str, Any]:
    state = wrike_state(request)
    if folder_id not in state.folders:
        raise ApiError(404, "Resource not found")
    given = await params(request)
    if not given.get("title"):
        raise ApiError(400, "Parameter 'title' is required")
    task = state.add_task(folder_id, given["title"], given.get("description", ""))
    return answer("tasks", [state.task_json(task)])


@api.get("/tasks/{task_id}")
async def task(request: Request, _me: Caller, task_id: str) -> dict[str, Any]:
    state = wrike_state(request)
    if task_id not in state.tasks:
        raise ApiError(404, "Resource not found")
    return answer("tasks", [state.task_json(state.tasks[task_id])])


@api.get("/timelogs")
async def timelogs(request: Request, me: Caller) -> dict[str, Any]:
    state = wrike_state(request)
    found = _filtered(list(state.timelogs.values()), await params(request), me)
    return answer("timelogs", [state.timelog_json(t) for t in found])


@api.get("/tasks/{task_id}/timelogs")
async def task_timelogs(request: Request, me: Caller, task_id: str) -> dict[str, Any]:
    state = wrike_state(request)
    if task_id not in state.tasks:
        raise ApiError(404, "Resource not found")
    logs = [t for t in state.timelogs.values() if t.task_id == task_id]
    found = _filtered(logs, await params(request), me)
    return answer("timelogs", [state.timelog_json(t) for t in found])


async def _changed(request: Request, log: Timelog, kind: str, author: Contact) -> None:
    """Tell the webhooks (:mod:`.webhooks`, installed on the app) that a timelog changed."""
    notify = getattr(request.app.state, "timelog_changed", None)
    if notify is not None:
        await notify(request, log, kind, author.id)


def _hours(value: str | None) -> float:
    try:
        hours = float(value or "")
    except ValueError:
        raise ApiError(400, "Parameter 'hours' value is invalid") from None
    if not 0 < hours <= 24:
        raise ApiError(400, "Parameter 'hours' value is invalid")
    return hours


def _date(value: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        raise ApiError(400, "Parameter 'trackedDate' value is invalid") from None


def _billing(value: str | None, default: str) -> str:
    if value is None:
        return default
    if value not in {"Billable", "NonBillable"}:
        raise ApiError(400, "Parameter 'billingType' value is invalid")
    return value


@api.post("/tasks/{task_id}/timelogs")
async def log_time(request: Request, me: Caller, task_id: str) -> dict[str, Any]:
    state = wrike_state(request)
    if task_id not in state.tasks:
        raise ApiError(404, "Resource not found")
    given = await params(request)
    log = Timelog(
        state.next_id("IEAL"), task_id, me.id, _hours(given.get("hours")),
        _date(given.get("trackedDate")), given.get("comment", ""),
        _billing(given.get("billingType"), "Billable"),
    )  # fmt: skip
    state.timelogs[log.id] = log
    await _changed(request, log, "Added", me)
    return answer("timelogs", [state.timelog_json(log)])


def _own(state: WrikeState, timelog_id: str, me: Contact) -> Timelog:
    log = state.timelogs.get(timelog_id)
    if log is None:
        raise ApiError(404, "Resource not found")
    if log.user_id != me.id:
        raise ApiError(403, "Access forbidden")
    return log


@api.get("/timelogs/{timelog_id}")
async def get_timelog(request: Request, _me: Caller, timelog_id: str) -> dict[str, Any]:
    """Anyone who sees the task reads its timelogs (everyone here); only the author writes."""
    state = wrike_state(request)
    log = state.timelogs.get(timelog_id)
    if log is None:
        raise ApiError(404, "Resource not found")
    return answer("timelogs", [state.timelog_json(log)])


def _unlocked(log: Timelog) -> None:
    if log.approved:
        raise ApiError(403, "Timelog is approved and locked for changes")


@api.put("/timelogs/{timelog_id}")
async def update_timelog(request: Request, me: Caller, timelog_id: str) -> dict[str, Any]:
    state = wrike_state(request)
    log = _own(state, timelog_id, me)
    _unlocked(log)
    given = await params(request)
    if "hours" in given:
        log.hours = _hours(given["hours"])
    if "trackedDate" in given:
        log.tracked = _date(given["trackedDate"])
    if "comment" in given:
        log.comment = given["comment"]
    log.billing = _billing(given.get("billingType"), log.billing)
    log.updated = max(now(), log.updated)
    await _changed(request, log, "Updated", me)
    return answer("timelogs", [state.timelog_json(log)])


@api.delete("/timelogs/{timelog_id}")
async def delete_timelog(request: Request, me: Caller, timelog_id: str) -> dict[str, Any]:
    state = wrike_state(request)
    log = _own(state, timelog_id, me)
    _unlocked(log)
    del state.timelogs[timelog_id]
    await _changed(request, log, "Removed", me)
    return answer("timelogs", [])


@admin.post("/timelogs/{timelog_id}/approve", status_code=204)
async def approve(request: Request, timelog_id: str) -> Response:
    log = wrike_state(request).timelogs.get(timelog_id)
    if log is None:
        raise ApiError(404, "Resource not found")
    log.approved = True
    return Response(status_code=204)
