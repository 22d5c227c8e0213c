"""An in-memory Core: the REST API and the signed webhooks of docs/contracts/core.md.

Written from the contract, not from Timebridge's client (nor its webhook code: the signature is
computed here again), so a test of the client against this sandbox can catch the client's
mistakes. Where the contract left a choice open, the choice made here is written into the
contract. Two things the contract does not know:

- Seeding and "what a user does in Core's UI" (create, edit, delete and lock entries, create and
  edit tickets) go through the admin API under ``/_sandbox``, unauthenticated and not rate
  limited; UI changes send webhooks exactly as REST changes do.
- Webhook retries are bounded (:class:`Webhooks`, default 5 attempts), where Core retries for
  24 h, and a subject's deliveries go out one after the other, which the contract allows.
"""

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install

RATE_LIMIT = (10, 1.0)
"""Requests per second Core allows one token."""
SIGNATURE_HEADER = "Core-Signature"
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "idempotency_key_reused",
    412: "version_mismatch",
    422: "invalid",
    423: "locked",
    429: "rate_limited",
}
CREATE_REQUIRED = ("user_id", "date", "duration_seconds")
NOT_NULL = frozenset(
    {"user_id", "date", "duration_seconds", "notes", "billable", "timezone"}
    | {"title", "description", "status"}
)
"""Fields of entries and tickets that a request may leave out but not set to null."""

_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)

T = TypeVar("T")
Json = dict[str, Any]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _creation(record_id: str) -> str:
    """A sort key for creation order: ids are a prefix and a growing number, so shorter first."""
    return f"{len(record_id):03d}{record_id}"


def _error_body(status: int, message: str) -> Json:
    return {"error": {"code": ERROR_CODES.get(status, "unavailable"), "message": message}}


@dataclass
class Subscription:
    """A workspace's webhook target; while rotating, ``previous_secrets`` still sign too."""

    url: str
    secret: str
    previous_secrets: list[str] = field(default_factory=list)

    def signature(self, timestamp: int, body: bytes) -> str:
        signed = f"{timestamp}.".encode() + body
        macs = [
            hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            for secret in (self.secret, *self.previous_secrets)
        ]
        return ",".join([f"t={timestamp}", *(f"v1={mac}" for mac in macs)])


@dataclass
class _User:
    id: str
    workspace_id: str
    name: str
    email: str | None
    role: Literal["admin", "member"]
    active: bool = True
    service: bool = False
    """A service token's account: admin rights, not a person, so not listed in ``/users``."""


@dataclass
class _Project:
    id: str
    workspace_id: str
    name: str
    archived: bool


@dataclass
class _Ticket:
    id: str
    workspace_id: str
    title: str
    updated_at: dt.datetime
    project_id: str | None = None
    description: str = ""
    status: str = "open"
    url: str | None = None


@dataclass
class _Entry:
    id: str
    workspace_id: str
    user_id: str
    date: dt.date
    duration_seconds: int
    updated_at: dt.datetime
    project_id: str | None = None
    ticket_id: str | None = None
    started_at: dt.datetime | None = None
    notes: str = ""
    billable: bool = True
    timezone: str = "UTC"
    external_ref: dict[str, str] | None = None
    version: int = 1
    locked: bool = False
    deleted_at: dt.datetime | None = None


@dataclass
class Delivery:
    """One webhook and the answers to its attempts (a status, or the error of a failed call)."""

    id: str
    subject: str
    url: str
    payload: Json
    answers: list[int | str] = field(default_factory=list)
    outcome: Literal["pending", "delivered", "failed"] = "pending"


@dataclass
class CoreState:
    """The sandbox's data. Ids are sequential and ``updated_at`` strictly increases, even on a
    clock that stands still, so every change is ordered and a seed always yields the same ids."""

    now: Callable[[], dt.datetime] = _utcnow
    users: dict[str, _User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    """Bearer token -> user id."""
    projects: dict[str, _Project] = field(default_factory=dict)
    tickets: dict[str, _Ticket] = field(default_factory=dict)
    entries: dict[str, _Entry] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[Json, Json]] = field(default_factory=dict)
    """(workspace, key) -> (the request's fields, the first answer)."""
    webhooks: dict[str, Subscription] = field(default_factory=dict)
    """Workspace -> where its webhooks go."""
    deliveries: list[Delivery] = field(default_factory=list)
    page_cap: int | None = None
    """A test's smaller largest page of time entries, so a few entries span pages."""
    _sequences: dict[str, int] = field(default_factory=dict)
    _last_stamp: dt.datetime = _NEVER

    def next_id(self, prefix: str) -> str:
        self._sequences[prefix] = self._sequences.get(prefix, 0) + 1
        return f"{prefix}{self._sequences[prefix]}"

    def stamp(self) -> dt.datetime:
        """The ``updated_at`` of a change: now, but always later than the previous change."""
        self._last_stamp = max(self.now(), self._last_stamp + dt.timedelta(microseconds=1))
        return self._last_stamp

    def reset(self) -> None:
        for collection in (self.users, self.tokens, self.projects, self.tickets, self.entries):
            collection.clear()
        self.idempotency.clear()
        self.webhooks.clear()
        self.deliveries.clear()
        self._sequences.clear()

    def add_user(
        self,
        workspace_id: str,
        name: str,
        *,
        email: str | None = None,
        role: Literal["admin", "member"] = "member",
        token: str | None = None,
        active: bool = True,
    ) -> str:
        user = _User(self.next_id("u_"), workspace_id, name, email, role, active)
        self.users[user.id] = user
        if token is not None:
            self.tokens[token] = user.id
        return user.id

    def add_service_token(self, workspace_id: str, token: str) -> str:
        """A token for an integration, acting as its own service account (an admin)."""
        account = _User(
            self.next_id("u_"), workspace_id, "Service token", None, "admin", service=True
        )
        self.users[account.id] = account
        self.tokens[token] = account.id
        return account.id

    def add_project(self, workspace_id: str, name: str, *, archived: bool = False) -> str:
        project = _Project(self.next_id("p_"), workspace_id, name, archived)
        self.projects[project.id] = project
        return project.id

    def add_ticket(self, workspace_id: str, title: str, **fields: Any) -> str:
        ticket = _Ticket(self.next_id("T-"), workspace_id, title, self.stamp(), **fields)
        self.tickets[ticket.id] = ticket
        return ticket.id

    def add_entry(
        self, workspace_id: str, user_id: str, date: dt.date, duration_seconds: int, **fields: Any
    ) -> str:
        entry = _Entry(
            self.next_id("te_"),
            workspace_id,
            user_id,
            date,
            duration_seconds,
            self.stamp(),
            **fields,
        )
        self.entries[entry.id] = entry
        return entry.id


@dataclass
class Webhooks:
    """How webhooks are posted: bounded retries with exponential backoff, in order per subject.

    A delivery of an entry (or ticket) starts once the previous one of that subject has been
    answered ``2xx`` or given up, so the subject's changes arrive in order. Tests pass an ASGI
    ``transport`` and a fake ``sleep``, then await :meth:`drain`.
    """

    transport: httpx.AsyncBaseTransport | None = None
    attempts: int = 5
    backoff_s: float = 1.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _tails: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def send(
        self, delivery: Delivery, subscription: Subscription, clock: Callable[[], dt.datetime]
    ) -> None:
        previous = self._tails.get(delivery.subject)
        self._tails[delivery.subject] = asyncio.create_task(
            self._send(previous, delivery, subscription, clock)
        )

    async def drain(self) -> None:
        """Wait until every delivery queued so far was answered ``2xx`` or given up."""
        while self._tails:
            await asyncio.gather(*self._tails.values())

    async def _send(
        self,
        previous: asyncio.Task[None] | None,
        delivery: Delivery,
        subscription: Subscription,
        clock: Callable[[], dt.datetime],
    ) -> None:
        if previous is not None:
            await previous
        body = json.dumps(delivery.payload).encode()
        async with httpx.AsyncClient(transport=self.transport, timeout=10) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await self.sleep(self.backoff_s * 2 ** (attempt - 1))
                signature = subscription.signature(int(clock().timestamp()), body)
                headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
                try:
                    answer = await client.post(subscription.url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    delivery.answers.append(type(exc).__name__)
                    continue
                delivery.answers.append(answer.status_code)
                if answer.is_success:
                    delivery.outcome = "delivered"
                    break
            else:
                delivery.outcome = "failed"
        if self._tails.get(delivery.subject) is asyncio.current_task():
            del self._tails[delivery.subject]


def _check_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Ref(_Closed):
    system: str = Field(min_length=1)
    id: str = Field(min_length=1)


class _EntryIn(_Closed):
    """The writable fields; which ones a request gave is ``model_fields_set``."""

    user_id: str | None = None
    project_id: str | None = None
    ticket_id: str | None = None
    date: dt.date | None = None
    started_at: AwareDatetime | None = None
    duration_seconds: int | None = Field(default=None, ge=0)
    notes: str | None = None
    billable: bool | None = None
    timezone: Annotated[str, AfterValidator(_check_zone)] | None = None
    external_ref: _Ref | None = None


class _TicketIn(_Closed):
    project_id: str | None = None
    title: str | None = Field(default=None, min_length=1)
    description: str | None = None
    status: str | None = None
    url: str | None = None


class _SeedUser(_Closed):
    name: str
    email: str | None = None
    role: Literal["admin", "member"] = "member"
    active: bool = True
    token: str | None = None


class _SeedProject(_Closed):
    name: str
    archived: bool = False
    tickets: list[str] = []


class _Seed(_Closed):
    workspace_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    users: list[_SeedUser] = []
    service_tokens: list[str] = []
    projects: list[_SeedProject] = []


class _SubscriptionIn(_Closed):
    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=1)
    previous_secrets: list[str] = []


class _Sandbox:
    """Core's rules behind the routes: lookups, permissions, changes, serialisation, webhooks."""

    def __init__(
        self, state: CoreState, faults: Faults, limit: RateLimit, webhooks: Webhooks
    ) -> None:
        self.state = state
        self.faults = faults
        self.limit = limit
        self.webhooks = webhooks

    def entry(self, entry_id: str, within: str | None = None) -> _Entry:
        """A live entry; ``within`` a workspace for API callers (the admin API sees all)."""
        entry = self.state.entries.get(entry_id)
        if entry is not None and entry.deleted_at is None and within in (None, entry.workspace_id):
            return entry
        raise ApiError(404, "Time entry not found")

    def ticket(self, ticket_id: str, within: str | None = None) -> _Ticket:
        ticket = self.state.tickets.get(ticket_id)
        if ticket is not None and within in (None, ticket.workspace_id):
            return ticket
        raise ApiError(404, "Ticket not found")

    def check_references(self, workspace_id: str, fields: Json) -> None:
        """Every id in ``fields`` names something of the workspace; required values are set."""
        for name in NOT_NULL & fields.keys():
            if fields[name] is None:
                raise ApiError(422, f"{name} cannot be null")
        references: dict[str, Mapping[str, _User | _Project | _Ticket]] = {
            "user_id": self.state.users,
            "project_id": self.state.projects,
            "ticket_id": self.state.tickets,
        }
        for name, records in references.items():
            value = fields.get(name)
            if value is None:
                continue
            record = records.get(value)
            if record is None or record.workspace_id != workspace_id:
                raise ApiError(422, f"{name} {value!r} is not in this workspace")
            if isinstance(record, _User) and record.service:
                raise ApiError(422, "a service token's account cannot log time")

    @staticmethod
    def check_writer(caller: _User | None, *user_ids: str | None) -> None:
        """A member may write only their own entries; admins and service tokens any."""
        if caller is not None and caller.role == "member" and set(user_ids) - {None, caller.id}:
            raise ApiError(403, "Members can only change their own time entries")

    def create_entry(self, workspace_id: str, body: _EntryIn, caller: _User | None) -> _Entry:
        fields = body.model_dump(exclude_unset=True)
        missing = [name for name in CREATE_REQUIRED if name not in fields]
        if missing:
            raise ApiError(422, f"missing {', '.join(missing)}")
        self.check_references(workspace_id, fields)
        self.check_writer(caller, fields["user_id"])
        entry = self.state.entries[self.state.add_entry(workspace_id, **fields)]
        self.entry_changed(entry, "time_entry.created")
        return entry

    def update_entry(
        self, entry: _Entry, body: _EntryIn, caller: _User | None, if_match: int | None = None
    ) -> _Entry:
        fields = body.model_dump(exclude_unset=True)
        self.check_writer(caller, entry.user_id, fields.get("user_id"))
        self.check_unlocked(entry)
        if if_match is not None and if_match != entry.version:
            raise ApiError(412, f"Time entry is at version {entry.version}, not {if_match}")
        self.check_references(entry.workspace_id, fields)
        if any(getattr(entry, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(entry, name, value)
            self.edited(entry, "time_entry.updated")
        return entry

    def delete_entry(self, entry: _Entry, caller: _User | None) -> None:
        self.check_writer(caller, entry.user_id)
        self.check_unlocked(entry)
        entry.deleted_at = self.edited(entry, "time_entry.deleted")

    def lock_entry(self, entry: _Entry) -> _Entry:
        if not entry.locked:
            entry.locked = True
            self.edited(entry, "time_entry.updated")
        return entry

    @staticmethod
    def check_unlocked(entry: _Entry) -> None:
        if entry.locked:
            raise ApiError(423, "Time entry is locked (invoiced or approved)")

    def edited(self, entry: _Entry, event: str) -> dt.datetime:
        """An edit: a new version, a later ``updated_at``, a webhook; returns the moment."""
        entry.version += 1
        entry.updated_at = self.state.stamp()
        self.entry_changed(entry, event)
        return entry.updated_at

    def entry_changed(self, entry: _Entry, event: str) -> None:
        data = {"time_entry": self.entry_json(entry, rest=False)}
        self.emit(entry.workspace_id, event, f"time_entry:{entry.id}", data, entry.updated_at)

    def create_ticket(self, workspace_id: str, body: _TicketIn) -> _Ticket:
        fields = body.model_dump(exclude_unset=True)
        if "title" not in fields:
            raise ApiError(422, "missing title")
        self.check_references(workspace_id, fields)
        ticket = self.state.tickets[self.state.add_ticket(workspace_id, **fields)]
        self.ticket_changed(ticket, "ticket.created")
        return ticket

    def update_ticket(self, ticket: _Ticket, body: _TicketIn) -> _Ticket:
        fields = body.model_dump(exclude_unset=True)
        self.check_references(ticket.workspace_id, fields)
        for name, value in fields.items():
            setattr(ticket, name, value)
        ticket.updated_at = self.state.stamp()
        self.ticket_changed(ticket, "ticket.updated")
        return ticket

    def ticket_changed(self, ticket: _Ticket, event: str) -> None:
        data = {"ticket": self.ticket_json(ticket)}
        self.emit(ticket.workspace_id, event, f"ticket:{ticket.id}", data, ticket.updated_at)

    def emit(
        self, workspace_id: str, event: str, subject: str, data: Json, at: dt.datetime
    ) -> None:
        subscription = self.state.webhooks.get(workspace_id)
        if subscription is None:
            return
        delivery_id = self.state.next_id("dlv_")
        payload = {
            "id": delivery_id,
            "type": event,
            "workspace_id": workspace_id,
            "occurred_at": _rfc3339(at),
            "data": data,
        }
        delivery = Delivery(delivery_id, subject, subscription.url, payload)
        self.state.deliveries.append(delivery)
        self.webhooks.send(delivery, subscription, self.state.now)

    @staticmethod
    def user_json(user: _User) -> Json:
        return {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "active": user.active,
            "role": user.role,
        }

    def entry_json(self, entry: _Entry, *, rest: bool = True) -> Json:
        user = self.state.users[entry.user_id]
        body = {
            "id": entry.id,
            "user": {"id": user.id, "email": user.email, "name": user.name},
            "project_id": entry.project_id,
            "ticket_id": entry.ticket_id,
            "date": entry.date.isoformat(),
            "started_at": _rfc3339(entry.started_at) if entry.started_at else None,
            "duration_seconds": entry.duration_seconds,
            "notes": entry.notes,
            "billable": entry.billable,
            "timezone": entry.timezone,
            "updated_at": _rfc3339(entry.updated_at),
            "version": entry.version,
            "locked": entry.locked,
            "external_ref": entry.external_ref,
        }
        if rest:
            body["deleted_at"] = _rfc3339(entry.deleted_at) if entry.deleted_at else None
        return body

    @staticmethod
    def ticket_json(ticket: _Ticket) -> Json:
        return {
            "id": ticket.id,
            "project_id": ticket.project_id,
            "title": ticket.title,
            "description": ticket.description,
            "status": ticket.status,
            "url": ticket.url,
            "updated_at": _rfc3339(ticket.updated_at),
        }


def _by_change(record: _Entry | _Ticket) -> tuple[str, ...]:
    return record.updated_at.isoformat(timespec="microseconds"), _creation(record.id)


def _page(
    items: Iterable[T],
    key: Callable[[T], tuple[str, ...]],
    render: Callable[[T], Json],
    limit: int,
    cursor: str | None,
) -> Json:
    """One page in ``key`` order after the cursor: the last key seen, so a record changed while
    a client pages moves behind it and is seen again instead of shifting others out of sight."""
    ordered = sorted(items, key=key)
    if cursor is not None:
        try:
            after = json.loads(base64.urlsafe_b64decode(cursor))
        except (binascii.Error, ValueError):
            after = None
        if not (isinstance(after, list) and all(isinstance(part, str) for part in after)):
            raise ApiError(400, "Invalid cursor")
        ordered = [item for item in ordered if list(key(item)) > after]
    page = ordered[:limit]
    last = json.dumps(key(page[-1])).encode() if len(ordered) > limit else None
    return {
        "data": [render(item) for item in page],
        "next_cursor": base64.urlsafe_b64encode(last).decode() if last else None,
    }


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _caller(sandbox: Sandbox, authorization: Annotated[str | None, Header()] = None) -> _User:
    scheme, _, token = (authorization or "").partition(" ")
    user_id = sandbox.state.tokens.get(token) if scheme.lower() == "bearer" else None
    if user_id is None:
        raise ApiError(401, "Missing or unknown bearer token")
    sandbox.limit.admit(token)
    return sandbox.state.users[user_id]


Caller = Annotated[_User, Depends(_caller)]
Limit = Annotated[int, Query(ge=1, le=200)]

api = APIRouter()
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@api.get("/me")
async def me(caller: Caller) -> Json:
    return {"workspace_id": caller.workspace_id, "user": _Sandbox.user_json(caller)}


@api.get("/users")
async def users(
    sandbox: Sandbox, caller: Caller, limit: Limit = 50, cursor: str | None = None
) -> Json:
    found = (
        u
        for u in sandbox.state.users.values()
        if u.workspace_id == caller.workspace_id and not u.service
    )
    return _page(found, lambda u: (_creation(u.id),), _Sandbox.user_json, limit, cursor)


@api.get("/projects")
async def projects(
    sandbox: Sandbox, caller: Caller, limit: Limit = 50, cursor: str | None = None
) -> Json:
    found = (p for p in sandbox.state.projects.values() if p.workspace_id == caller.workspace_id)
    return _page(
        found,
        lambda p: (_creation(p.id),),
        lambda p: {"id": p.id, "name": p.name, "archived": p.archived},
        limit,
        cursor,
    )


@api.get("/tickets")
async def tickets(
    sandbox: Sandbox,
    caller: Caller,
    *,
    project_id: str | None = None,
    updated_since: AwareDatetime | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Json:
    found = (
        t
        for t in sandbox.state.tickets.values()
        if t.workspace_id == caller.workspace_id
        and project_id in (None, t.project_id)
        and (updated_since is None or t.updated_at >= updated_since)
    )
    return _page(found, _by_change, _Sandbox.ticket_json, limit, cursor)


@api.get("/tickets/{ticket_id}")
async def ticket(sandbox: Sandbox, caller: Caller, ticket_id: str) -> Json:
    return sandbox.ticket_json(sandbox.ticket(ticket_id, caller.workspace_id))


@api.get("/time-entries")
async def time_entries(
    sandbox: Sandbox,
    caller: Caller,
    *,
    updated_since: AwareDatetime | None = None,
    include_deleted: bool = False,
    external_system: str | None = None,
    external_id: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Json:
    if (external_system is None) != (external_id is None):
        raise ApiError(400, "external_system and external_id go together")
    ref = None if external_id is None else {"system": external_system, "id": external_id}
    found = (
        e
        for e in sandbox.state.entries.values()
        if e.workspace_id == caller.workspace_id
        and (include_deleted or e.deleted_at is None)
        and (updated_since is None or e.updated_at >= updated_since)
        and (ref is None or e.external_ref == ref)
    )
    limit = min(limit, sandbox.state.page_cap or limit)
    return _page(found, _by_change, sandbox.entry_json, limit, cursor)


@api.get("/time-entries/{entry_id}")
async def time_entry(sandbox: Sandbox, caller: Caller, entry_id: str) -> Json:
    return sandbox.entry_json(sandbox.entry(entry_id, caller.workspace_id))


@api.post("/time-entries", status_code=201)
async def create_time_entry(
    sandbox: Sandbox,
    caller: Caller,
    body: _EntryIn,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Json:
    key = (caller.workspace_id, idempotency_key or "")
    fields = body.model_dump(mode="json", exclude_unset=True)
    if idempotency_key and key in sandbox.state.idempotency:
        first_fields, first_answer = sandbox.state.idempotency[key]
        if first_fields != fields:
            raise ApiError(409, "Idempotency-Key was already used with another body")
        response.status_code = 200
        return first_answer
    answer = sandbox.entry_json(sandbox.create_entry(caller.workspace_id, body, caller))
    if idempotency_key:
        sandbox.state.idempotency[key] = (fields, answer)
    return answer


@api.patch("/time-entries/{entry_id}")
async def update_time_entry(
    sandbox: Sandbox,
    caller: Caller,
    entry_id: str,
    body: _EntryIn,
    if_match: Annotated[str | None, Header()] = None,
) -> Json:
    entry = sandbox.entry(entry_id, caller.workspace_id)
    try:
        version = None if if_match is None else int(if_match.strip('"'))
    except ValueError:
        raise ApiError(400, "If-Match must be the entry's version number") from None
    return sandbox.entry_json(sandbox.update_entry(entry, body, caller, version))


@api.delete("/time-entries/{entry_id}", status_code=204)
async def delete_time_entry(sandbox: Sandbox, caller: Caller, entry_id: str) -> Response:
    sandbox.delete_entry(sandbox.entry(entry_id, caller.workspace_id), caller)
    return Response(status_code=204)


@admin.post("/seed")
async def seed(sandbox: Sandbox, body: _Seed) -> Json:
    state = sandbox.state
    workspace = body.workspace_id
    users = [
        state.add_user(
            workspace, u.name, email=u.email, role=u.role, token=u.token, active=u.active
        )
        for u in body.users
    ]
    service = [state.add_service_token(workspace, token) for token in body.service_tokens]
    projects: list[Json] = []
    for p in body.projects:
        project_id = state.add_project(workspace, p.name, archived=p.archived)
        ticket_ids = [state.add_ticket(workspace, t, project_id=project_id) for t in p.tickets]
        projects.append({"id": project_id, "tickets": ticket_ids})
    return {
        "workspace_id": workspace,
        "users": users,
        "service_users": service,
        "projects": projects,
    }


@admin.put("/workspaces/{workspace_id}/webhook")
async def subscribe(sandbox: Sandbox, workspace_id: str, body: _SubscriptionIn) -> Json:
    sandbox.state.webhooks[workspace_id] = Subscription(
        body.url, body.secret, body.previous_secrets
    )
    return {"url": body.url}


@admin.delete("/workspaces/{workspace_id}/webhook", status_code=204)
async def unsubscribe(sandbox: Sandbox, workspace_id: str) -> Response:
    if sandbox.state.webhooks.pop(workspace_id, None) is None:
        raise ApiError(404, "No webhook subscription")
    return Response(status_code=204)


@admin.post("/workspaces/{workspace_id}/time-entries", status_code=201)
async def ui_create_entry(sandbox: Sandbox, workspace_id: str, body: _EntryIn) -> Json:
    return sandbox.entry_json(sandbox.create_entry(workspace_id, body, None))


@admin.patch("/time-entries/{entry_id}")
async def ui_update_entry(sandbox: Sandbox, entry_id: str, body: _EntryIn) -> Json:
    return sandbox.entry_json(sandbox.update_entry(sandbox.entry(entry_id), body, None))


@admin.delete("/time-entries/{entry_id}", status_code=204)
async def ui_delete_entry(sandbox: Sandbox, entry_id: str) -> Response:
    sandbox.delete_entry(sandbox.entry(entry_id), None)
    return Response(status_code=204)


@admin.post("/time-entries/{entry_id}/lock")
async def ui_lock_entry(sandbox: Sandbox, entry_id: str) -> Json:
    return sandbox.entry_json(sandbox.lock_entry(sandbox.entry(entry_id)))


@admin.post("/workspaces/{workspace_id}/tickets", status_code=201)
async def ui_create_ticket(sandbox: Sandbox, workspace_id: str, body: _TicketIn) -> Json:
    return sandbox.ticket_json(sandbox.create_ticket(workspace_id, body))


@admin.patch("/tickets/{ticket_id}")
async def ui_update_ticket(sandbox: Sandbox, ticket_id: str, body: _TicketIn) -> Json:
    return sandbox.ticket_json(sandbox.update_ticket(sandbox.ticket(ticket_id), body))


@admin.get("/deliveries")
async def deliveries(sandbox: Sandbox) -> list[Json]:
    return [
        {
            "id": d.id,
            "subject": d.subject,
            "url": d.url,
            "payload": d.payload,
            "answers": d.answers,
            "outcome": d.outcome,
        }
        for d in sandbox.state.deliveries
    ]


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """A body whose fields are wrong is ``422``; anything else malformed (JSON, query) ``400``."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    fields = all(e["loc"][0] == "body" and e["type"] != "json_invalid" for e in errors)
    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return error_response(_error_body, ApiError(422 if fields else 400, message))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(_error_body, ApiError(exc.status_code, str(exc.detail)))


def create_core_sandbox(
    state: CoreState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    webhooks: Webhooks | None = None,
) -> FastAPI:
    """The sandbox app; ``webhooks`` sets how (and through which transport) webhooks are sent."""
    sandbox = _Sandbox(
        state if state is not None else CoreState(),
        faults if faults is not None else Faults(),
        rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT),
        webhooks if webhooks is not None else Webhooks(),
    )
    app = FastAPI(title="Core sandbox")
    app.state.sandbox = sandbox
    install(app, sandbox.faults, sandbox.limit, sandbox.state.reset, _error_body)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.include_router(api)
    app.include_router(admin)
    return app
