"""The BambooHR API routes the sandbox plays, under ``/api/v1`` as on ``{company}.bamboohr.com``."""

import base64
import binascii
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from timebridge_sandboxes.bamboohr.state import BambooHrState, Employee, spread
from timebridge_sandboxes.bamboohr.state import Request as TimeOff
from timebridge_sandboxes.faults import ApiError

api = APIRouter(prefix="/api/v1")

STATUSES = ("approved", "denied", "superceded", "requested", "canceled")
_CREATE_STATUSES = {"approved": "approved", "denied": "denied", "declined": "denied"}
_NEW_STATUSES = {"approved", "denied", "declined", "canceled", "cancelled"}


def error_body(status: int, message: str) -> dict[str, Any]:  # noqa: ARG001 - the ErrorBody shape
    """BambooHR's errors carry no JSON: the faults' answers are an empty object."""
    return {}


def _state(request: Request) -> BambooHrState:
    state: BambooHrState = request.app.state.bamboohr
    return state


def caller(request: Request) -> Employee:
    """Basic auth: the API key as user name, any password (``x`` by convention)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        raise ApiError(401, "Missing API key")
    try:
        user, _, _ = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "Malformed authorization header") from None
    employee = _state(request).by_key(user)
    if employee is None:
        raise ApiError(401, "Invalid API key")
    if "json" not in request.headers.get("accept", ""):
        # BambooHR answers XML by default; the sandbox plays JSON only and says so.
        raise ApiError(406, "The sandbox answers JSON only: send Accept: application/json")
    return employee


def _date(value: str | None, name: str, *, required: bool) -> dt.date | None:
    if value is None or value == "":
        if required:
            raise ApiError(400, f"Missing required parameter {name} (YYYY-MM-DD)")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"Invalid {name}: expected YYYY-MM-DD") from None


def _required(value: str | None, name: str) -> dt.date:
    found = _date(value, name, required=True)
    assert found is not None  # required: a missing one raised
    return found


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def render(state: BambooHrState, r: TimeOff) -> dict[str, Any]:
    employee = state.employees[r.employee_id]
    kind = state.types[r.type_id]
    return {
        "id": r.id,
        "employeeId": r.employee_id,
        "name": f"{employee.first_name} {employee.last_name}",
        "start": r.start.isoformat(),
        "end": r.end.isoformat(),
        "created": r.created.isoformat(),
        "status": {
            "lastChanged": r.last_changed.isoformat(),
            "lastChangedByUserId": r.last_changed_by,
            "status": r.status,
        },
        "type": {"id": kind.id, "name": kind.name, "icon": "palm-trees"},
        "amount": {"unit": kind.unit, "amount": _number(r.amount)},
        "actions": {"view": True, "edit": True, "cancel": True, "approve": True},
        "dates": {d.isoformat(): _number(a) for d, a in sorted(r.dates.items())},
        "notes": r.notes,
    }


@api.get("/employees/directory")
async def directory(request: Request) -> Any:
    caller(request)
    state = _state(request)
    if not state.directory_shared:
        raise ApiError(403, "The directory is not shared")
    if not state.employees:
        raise ApiError(404, "The directory is empty")
    fields = [
        {"id": "displayName", "type": "text", "name": "Display name"},
        {"id": "firstName", "type": "text", "name": "First name"},
        {"id": "lastName", "type": "text", "name": "Last name"},
        {"id": "workEmail", "type": "email", "name": "Work Email"},
    ]
    employees = [
        {
            "id": str(e.id),
            "displayName": f"{e.first_name} {e.last_name}",
            "firstName": e.first_name,
            "lastName": e.last_name,
            "workEmail": e.work_email,
        }
        for e in state.employees.values()
    ]
    return {"fields": fields, "employees": employees}


@api.get("/employees/{employee_id}")
async def employee(request: Request, employee_id: str, fields: str = "firstName,lastName") -> Any:
    me = caller(request)
    state = _state(request)
    if not employee_id.isdigit():
        raise ApiError(404, "Employee not found")
    found = me if employee_id == "0" else state.employees.get(int(employee_id))
    if found is None or found.id == 0:  # a user who is no employee has no employee 0
        raise ApiError(404, "Employee not found")
    values = {"firstName": found.first_name, "lastName": found.last_name}
    values["workEmail"] = found.work_email
    wanted = [f for f in fields.split(",") if f]
    return {"id": str(found.id), **{f: values[f] for f in wanted if f in values}}


def time_off_reader(request: Request) -> Employee:
    me = caller(request)
    if me.api_key in _state(request).without_time_off:
        raise ApiError(403, "You do not have access to time off")
    return me


@api.get("/time_off/requests")
async def time_off_requests(request: Request) -> Any:
    time_off_reader(request)
    state = _state(request)
    q = request.query_params
    start, end = _required(q.get("start"), "start"), _required(q.get("end"), "end")
    statuses = {s.strip() for s in q.get("status", "").split(",") if s.strip()}
    unknown = statuses - set(STATUSES)
    if unknown:
        raise ApiError(400, f"Invalid status {', '.join(sorted(unknown))}")
    found = [
        r
        for r in state.requests.values()
        if r.end >= start and r.start <= end
        and (not statuses or r.status in statuses)
        and (not q.get("employeeId") or str(r.employee_id) == q["employeeId"])
        and (not q.get("id") or str(r.id) == q["id"])
    ]  # fmt: skip
    return [render(state, r) for r in sorted(found, key=lambda r: (r.start, r.id))]


@api.get("/time_off/whos_out")
async def whos_out(request: Request) -> Any:
    time_off_reader(request)
    state = _state(request)
    q = request.query_params
    start = _date(q.get("start"), "start", required=False) or state.today()
    end = _date(q.get("end"), "end", required=False) or start + dt.timedelta(days=14)
    out = [
        {
            "id": r.id,
            "type": "timeOff",
            "employeeId": r.employee_id,
            "name": render(state, r)["name"],
            "start": r.start.isoformat(),
            "end": r.end.isoformat(),
        }
        for r in sorted(state.requests.values(), key=lambda r: (r.start, r.id))
        if r.status == "approved" and r.end >= start and r.start <= end
    ]
    return out


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "The body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object")
    return body


@api.put("/employees/{employee_id}/time_off/request", status_code=201)
async def create_request(request: Request, employee_id: str) -> Any:
    me = caller(request)
    state = _state(request)
    if not employee_id.isdigit() or int(employee_id) not in state.employees:
        raise ApiError(404, "Employee not found")
    body = await _body(request)
    status = _CREATE_STATUSES.get(str(body.get("status")), "requested")
    if body.get("status") not in (*_CREATE_STATUSES, "requested"):
        raise ApiError(400, "Invalid status")
    start, end = _required(body.get("start"), "start"), _required(body.get("end"), "end")
    if end < start:
        raise ApiError(400, "The end date is before the start date")
    kind = state.types.get(body.get("timeOffTypeId") or -1)
    if kind is None:
        raise ApiError(400, "Unknown timeOffTypeId")
    try:
        if body.get("dates"):
            dates = {
                dt.date.fromisoformat(d["ymd"]): Decimal(str(d["amount"])) for d in body["dates"]
            }
        else:
            given = body.get("amount")
            dates = spread(kind.unit, start, end, None if given is None else Decimal(str(given)))
    except (KeyError, TypeError, ValueError, InvalidOperation):
        raise ApiError(400, "Invalid dates: [{ymd, amount}]") from None
    previous = body.get("previousRequest")
    if previous is not None and previous in state.requests:
        state.set_status(previous, "canceled", me.id)
    made = state.add_request(
        int(employee_id), start, end, kind.id, status=status, dates=dates, by=me.id
    )
    location = f"/api/v1/time_off/requests/{made.id}"
    return JSONResponse(render(state, made), status_code=201, headers={"Location": location})


@api.put("/time_off/requests/{request_id}/status")
async def change_status(request: Request, request_id: str) -> Response:
    me = caller(request)
    state = _state(request)
    if not request_id.isdigit() or int(request_id) not in state.requests:
        raise ApiError(404, "Time off request not found")
    body = await _body(request)
    status = body.get("status")
    if status not in _NEW_STATUSES:
        raise ApiError(400, "Invalid status")
    new = {"declined": "denied", "cancelled": "canceled"}.get(status, status)
    state.set_status(int(request_id), new, me.id)
    return JSONResponse({}, status_code=200)
