"""QuickBooks Time API v1 as its Postman collection documents the requests: bearer tokens;
``GET /current_user``, ``GET|PUT /users``, ``GET|POST /jobcodes``, ``GET|POST|PUT|DELETE
/timesheets``, ``GET /timesheets_deleted``, ``POST /reports/project``; lists paged with
``page``/``limit`` and ``more``; writes per item (``_status_code``/``_status_message``)."""

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.quickbooks_time.state import (
    QuickBooksTimeState,
    Timesheet,
    User,
    stamp,
)

api = APIRouter(prefix="/api/v1")
admin = APIRouter(prefix="/_sandbox")
MAX_LIMIT = 200
T = TypeVar("T")


def qbt_state(request: Request) -> QuickBooksTimeState:
    state: QuickBooksTimeState = request.app.state.qbt
    return state


def caller(request: Request) -> User:
    """``Authorization: Bearer <access token>``, then the per-token limit."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    user = qbt_state(request).user_by_token(token)
    if user is None:
        raise ApiError(401, "Unauthorized")
    request.app.state.limit.admit(user.token)
    return user


Caller = Annotated[User, Depends(caller)]


def _ints(value: str | None, name: str) -> set[int]:
    if not value:
        return set()
    try:
        return {int(v) for v in value.split(",") if v.strip()}
    except ValueError:
        raise ApiError(400, f"{name} must be a comma-separated list of ids") from None


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} must be a date (YYYY-MM-DD)") from None


def _moment(value: str, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise ApiError(400, f"{name} must carry an offset")
    return moment


def _page(request: Request, key: str, items: list[T], render: Callable[[T], Any]) -> Any:
    query = request.query_params
    try:
        page = int(query.get("page", "1"))
        limit = int(query.get("limit", str(MAX_LIMIT)))
    except ValueError:
        raise ApiError(400, "page and limit must be numbers") from None
    if page < 1 or not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be 1 to {MAX_LIMIT} and page at least 1")
    size = min(limit, qbt_state(request).page_cap or limit)
    shown = items[(page - 1) * size : page * size]
    rendered = {str(getattr(item, "id", n)): render(item) for n, item in enumerate(shown)}
    supplemental = (
        qbt_state(request).supplemental(list(rendered.values()))
        if key.startswith("timesheets") and query.get("supplemental_data", "yes") == "yes"
        else {}
    )
    return {
        "results": {key: rendered},
        "more": page * size < len(items),
        "supplemental_data": supplemental,
    }


def _modified(items: Iterable[T], request: Request) -> list[T]:
    query = request.query_params
    found = list(items)
    if "modified_since" in query:
        since = _moment(query["modified_since"], "modified_since")
        found = [i for i in found if getattr(i, "last_modified") >= since]  # noqa: B009
    if "modified_before" in query:
        before = _moment(query["modified_before"], "modified_before")
        found = [i for i in found if getattr(i, "last_modified") < before]  # noqa: B009
    return found


@api.get("/current_user")
async def current_user(request: Request, user: Caller) -> Any:
    return _page(request, "users", [user], User.json)


@api.get("/users")
async def list_users(request: Request, _user: Caller) -> Any:
    query = request.query_params
    found = sorted(qbt_state(request).users.values(), key=lambda u: u.id)
    if ids := _ints(query.get("ids"), "ids"):
        found = [u for u in found if u.id in ids]
    active = query.get("active", "true")
    if active != "both":
        found = [u for u in found if u.active == (active == "true")]
    return _page(request, "users", _modified(found, request), User.json)


async def _data(request: Request) -> list[dict[str, Any]]:
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "Bad Request: the body is not JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ApiError(400, 'Bad Request: the body must be {"data": [...]}')
    return data


def _result(status: int, message: str, item: dict[str, Any], extra: str = "") -> dict[str, Any]:
    answer = {"_status_code": status, "_status_message": message, **item}
    if extra:
        answer["_status_extra"] = extra
    return answer


def _results(key: str, answers: list[dict[str, Any]]) -> Any:
    return {
        "results": {key: {str(n): a for n, a in enumerate(answers, start=1)}},
        "supplemental_data": {},
    }


class ItemError(Exception):
    def __init__(self, status: int, message: str, extra: str) -> None:
        super().__init__(extra)
        self.status, self.message, self.extra = status, message, extra


def _refused(extra: str) -> ItemError:
    return ItemError(417, "Expectation Failed", extra)


@api.put("/users")
async def edit_users(request: Request, _user: Caller) -> Any:
    """Approve or submit a user's time up to a date (``approved_to``/``submitted_to``)."""
    state = qbt_state(request)
    answers = []
    for item in await _data(request):
        item_id = item.get("id")
        user = state.users.get(item_id) if isinstance(item_id, int) else None
        if user is None:
            answers.append(_result(404, "Not Found", {}, "no user with this id"))
            continue
        for name in ("approved_to", "submitted_to"):
            if isinstance(item.get(name), str):
                setattr(user, name, _date(item[name], name))
        user.last_modified = state.tick()
        answers.append(_result(200, "OK", user.json()))
    return _results("users", answers)


@api.get("/jobcodes")
async def list_jobcodes(request: Request, _user: Caller) -> Any:
    query = request.query_params
    state = qbt_state(request)
    found = sorted(state.jobcodes.values(), key=lambda j: j.id)
    if ids := _ints(query.get("ids"), "ids"):
        found = [j for j in found if j.id in ids]
    if "parent_ids" in query:
        parents = _ints(query["parent_ids"], "parent_ids")
        found = [j for j in found if j.parent_id in parents]
    active = query.get("active", "true")
    if active != "both":
        found = [j for j in found if j.active == (active == "true")]
    return _page(request, "jobcodes", _modified(found, request), state.jobcode_json)


@api.post("/jobcodes")
async def add_jobcodes(request: Request, _user: Caller) -> Any:
    state = qbt_state(request)
    answers = []
    for item in await _data(request):
        name, parent = item.get("name"), item.get("parent_id", 0)
        if not isinstance(name, str) or not name or not isinstance(parent, int):
            answers.append(_result(417, "Expectation Failed", {}, "name is required"))
        elif parent and parent not in state.jobcodes:
            answers.append(_result(417, "Expectation Failed", {}, "parent_id is not a jobcode"))
        else:
            jobcode = state.add_jobcode(state.next_id(), name, parent)
            answers.append(_result(200, "Created", state.jobcode_json(jobcode)))
    return _results("jobcodes", answers)


def _timesheets(request: Request, items: Iterable[Timesheet]) -> list[Timesheet]:
    query = request.query_params
    if not {"ids", "start_date", "modified_before", "modified_since"} & set(query.keys()):
        raise ApiError(417, "Expectation Failed: one of ids, start_date, modified_before or "
                            "modified_since is required")  # fmt: skip
    found = sorted(items, key=lambda t: t.id)
    if ids := _ints(query.get("ids"), "ids"):
        found = [t for t in found if t.id in ids]
    if "start_date" in query:
        low = _date(query["start_date"], "start_date")
        found = [t for t in found if t.date >= low]
    if "end_date" in query:
        high = _date(query["end_date"], "end_date")
        found = [t for t in found if t.date <= high]
    for name, attr in (("user_ids", "user_id"), ("jobcode_ids", "jobcode_id")):
        if wanted := _ints(query.get(name), name):
            found = [t for t in found if getattr(t, attr) in wanted]
    if query.get("on_the_clock") in {"true", "false"}:
        running = query["on_the_clock"] == "true"
        found = [t for t in found if t.on_the_clock == running]
    return _modified(found, request)


@api.get("/timesheets")
async def list_timesheets(request: Request, _user: Caller) -> Any:
    found = _timesheets(request, qbt_state(request).timesheets.values())
    return _page(request, "timesheets", found, Timesheet.json)


@api.get("/timesheets_deleted")
async def list_deleted(request: Request, _user: Caller) -> Any:
    found = _timesheets(request, qbt_state(request).deleted.values())
    return _page(request, "timesheets_deleted", found, Timesheet.json)


def _apply(state: QuickBooksTimeState, item: dict[str, Any], sheet: Timesheet | None) -> Timesheet:
    """Validate one item of a POST (``sheet`` None) or PUT into a timesheet."""
    user_id = item.get("user_id", sheet.user_id if sheet else None)
    if not isinstance(user_id, int) or user_id not in state.users:
        raise _refused("user_id: no such user")
    jobcode = item.get("jobcode_id", sheet.jobcode_id if sheet else None)
    if isinstance(jobcode, str) and jobcode.isdigit():
        jobcode = int(jobcode)
    if not isinstance(jobcode, int) or jobcode not in state.jobcodes:
        raise _refused("jobcode_id: no such jobcode")
    kind = item.get("type", sheet.type if sheet else None)
    notes = item.get("notes", sheet.notes if sheet else "")
    if kind not in {"regular", "manual"} or not isinstance(notes, str):
        raise _refused("type must be regular or manual; notes a string")
    values: dict[str, Any] = {
        "user_id": user_id,
        "jobcode_id": jobcode,
        "type": kind,
        "notes": notes,
    }
    try:
        if kind == "regular":
            start = _moment(str(item.get("start") or (sheet.start if sheet else "")), "start")
            end_text = item.get("end", sheet.end.isoformat() if sheet and sheet.end else "")
            end = _moment(end_text, "end") if end_text else None
            if end is not None and end < start:
                raise _refused("end is before start")
            values |= {"start": start, "end": end, "date": start.date(), "seconds": 0}
        else:
            seconds = item.get("duration", sheet.seconds if sheet else None)
            if not isinstance(seconds, int) or seconds < 0:
                raise _refused("duration must be whole seconds")
            day = _date(str(item.get("date") or (sheet.date if sheet else "")), "date")
            values |= {"start": None, "end": None, "date": day, "seconds": seconds}
    except ApiError as exc:
        raise _refused(exc.message) from None
    if sheet is None:
        return Timesheet(state.next_id(), last_modified=state.tick(), **values)
    for name, value in values.items():
        setattr(sheet, name, value)
    sheet.last_modified = state.tick()
    return sheet


def _each(
    state: QuickBooksTimeState,
    items: list[dict[str, Any]],
    act: Callable[[dict[str, Any]], Timesheet],
    ok: str,
) -> Any:
    answers = []
    for item in items:
        try:
            answers.append(_result(200, ok, act(item).json()))
        except ItemError as refused:
            answers.append(_result(refused.status, refused.message, {}, refused.extra))
    done = [a for a in answers if a["_status_code"] == 200]
    return {**_results("timesheets", answers), "supplemental_data": state.supplemental(done)}


@api.post("/timesheets")
async def add_timesheets(request: Request, _user: Caller) -> Any:
    state = qbt_state(request)

    def add(item: dict[str, Any]) -> Timesheet:
        sheet = _apply(state, item, None)
        if reason := state.lock_reason(sheet):
            raise _refused(reason)
        state.timesheets[sheet.id] = sheet
        return sheet

    return _each(state, await _data(request), add, "Created")


@api.put("/timesheets")
async def edit_timesheets(request: Request, _user: Caller) -> Any:
    state = qbt_state(request)

    def edit(item: dict[str, Any]) -> Timesheet:
        item_id = item.get("id")
        sheet = state.timesheets.get(item_id) if isinstance(item_id, int) else None
        if sheet is None:
            raise ItemError(404, "Not Found", "no timesheet with this id")
        if reason := state.lock_reason(sheet):
            raise _refused(reason)
        return _apply(state, item, sheet)

    return _each(state, await _data(request), edit, "OK")


@api.delete("/timesheets")
async def delete_timesheets(request: Request, _user: Caller) -> Any:
    state = qbt_state(request)
    ids = _ints(request.query_params.get("ids"), "ids")
    if not ids:
        raise ApiError(417, "Expectation Failed: ids is required")
    answers = []
    for timesheet_id in sorted(ids):
        sheet = state.timesheets.get(timesheet_id)
        if sheet is None:
            answers.append(_result(404, "Not Found", {"id": timesheet_id}))
        elif reason := state.lock_reason(sheet):
            answers.append(_result(417, "Expectation Failed", {"id": timesheet_id}, reason))
        else:
            del state.timesheets[timesheet_id]
            sheet.last_modified = state.tick()
            state.deleted[timesheet_id] = sheet
            answers.append(_result(200, "OK", {"id": timesheet_id}))
    return _results("timesheets", answers)


@api.post("/reports/project")
async def project_report(request: Request, _user: Caller) -> Any:
    try:
        body = json.loads(await request.body() or b"null")
        data = body["data"]
        start = _date(data["start_date"], "start_date")
        end = _date(data["end_date"], "end_date")
    except (ValueError, UnicodeDecodeError, RecursionError, KeyError, TypeError):
        raise ApiError(
            400, 'Bad Request: {"data": {"start_date", "end_date"}} is required'
        ) from None
    users: dict[str, float] = {}
    jobcodes: dict[str, float] = {}
    for sheet in qbt_state(request).timesheets.values():
        if start <= sheet.date <= end:
            users[str(sheet.user_id)] = users.get(str(sheet.user_id), 0.0) + sheet.duration()
            key = str(sheet.jobcode_id)
            jobcodes[key] = jobcodes.get(key, 0.0) + sheet.duration()
    report = {
        "start_date": f"{start.isoformat()}T00:00:00+00:00",
        "end_date": f"{end.isoformat()}T23:59:59+00:00",
        "totals": {"users": users, "groups": {}, "jobcodes": jobcodes, "customfields": {}},
    }
    return {"results": {"project_report": report}, "supplemental_data": {}}


@admin.post("/timesheets/{timesheet_id}/lock", status_code=204)
async def lock(request: Request, timesheet_id: int) -> Response:
    """Lock a timesheet (exported to payroll or invoiced in QuickBooks)."""
    state = qbt_state(request)
    sheet = state.timesheets.get(timesheet_id)
    if sheet is None:
        raise ApiError(404, "Not Found")
    sheet.locked = 1
    sheet.last_modified = state.tick()
    return Response(status_code=204)


@admin.post("/page-cap")
async def page_cap(request: Request, size: int) -> dict[str, int]:
    qbt_state(request).page_cap = size
    return {"size": size}


__all__ = ["admin", "api", "stamp"]
