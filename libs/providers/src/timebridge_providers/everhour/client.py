"""Everhour API client: typed models of Everhour's resources and the calls Timebridge makes.

What each fact rests on (V = verified in Everhour's own documentation, developers.everhour.com or
the Apiary text it replaced; S = seen in public integrations calling the real API; A = assumed):

- V Base URL ``https://api.everhour.com``, auth header ``X-Api-Key``, optional
  ``X-Accept-Version: 1.2`` (Apiary "Authentication", "Versioning").
- V Rate limit "around 20 requests per 10 seconds per API key", ``429`` with ``Retry-After`` in
  seconds (Apiary "Rate Limiting"). Hence the default budget :data:`RATE_LIMIT`.
- V Dates are ``YYYY-MM-DD`` (``from``/``to`` inclusive); datetimes ``YYYY-MM-DD HH:MM:SS``
  without zone, to be read as UTC; a user's ``timezone`` is a UTC offset in hours; every
  ``time`` is an integer of **seconds** (developers.everhour.com/dates-and-timezones).
- V Pagination is per endpoint: bare JSON arrays, ``page`` (1-based) and ``limit``, the last page
  is the one shorter than ``limit``. ``GET /projects`` (no max), ``GET /projects/{id}/tasks``
  (limit 1-250, page 1-100, ``query``, ``exclude-closed``), ``GET /tasks/{id}/time`` and
  ``GET /team/time`` (limit up to 50000, ``from``, ``to``); ``GET /team/users`` is not paginated
  (developers.everhour.com/pagination, /filtering).
- V Ids: users, sections, time records and webhooks are integers; projects and tasks are
  strings prefixed by the platform (``ev:`` for Everhour's own).
- V ``GET /users/me`` (the "test connection" call), ``GET /team/users``, ``GET /projects``,
  ``GET /projects/{id}/sections``, ``GET /projects/{id}/tasks``, ``GET /tasks/{id}``,
  ``POST /projects/{id}/tasks`` with ``name`` and a **required** ``section`` (plus optional
  ``description``, ``labels``, ``position``, ``dueOn``, ``status``) (Apiary ``TaskRequest``).
- V Time records: ``POST /tasks/{id}/time`` adds ``{time, date, user?, comment?}``;
  ``PUT /tasks/{id}/time`` updates and ``DELETE /tasks/{id}/time`` (body ``{date, user?}``)
  deletes the record of that task, user and date (Apiary "Add Time", "Update Time Record",
  "Delete Time Record"; S several integrations). A record has ``id``, ``time``, ``user``,
  ``date``, ``task``, ``comment``, ``history``, ``isLocked``, ``isInvoiced`` (Apiary
  ``TimeRecord``) and ``lockReasons`` (S a captured delivery). ``user`` defaults to the key owner.
- A A record is unique per task, user and date, and POST *adds* to an existing one (its history
  entries carry a ``previousTime`` and a ``time`` difference). So POST is not idempotent, and
  sync writes an absolute value with PUT once a record exists. ``/time/{id}`` routes appear only
  in third-party material and are not used.
- V Billable is not a property of a time record: a task has ``unbillable`` and a project a billing
  ``type`` (``non_billable``/``hourly``/``fixed_fee``). Timebridge cannot set it per record.
- V Invoiced time can no longer be changed by non-admins; admins can (support.everhour.com,
  "Can I edit time after it was invoiced?"). A A locked record's write is refused with a ``4xx``
  whose message mentions the lock or invoice; this client raises :class:`TimeRecordLockedError`.
- V Webhooks: ``GET/POST /hooks``, ``GET/PUT/DELETE /hooks/{id}``; body ``targetUrl``,
  ``events`` (``api:time:updated`` covers added, edited and removed time), optional ``project``;
  ``201`` on success, ``409`` if the URL is already registered. On create Everhour POSTs an empty
  body with ``X-Hook-Secret`` (and ``User-Agent: Everhour (everhour.com)``) to the target, which
  answers ``2xx`` echoing the header; ``X-Skip-Handshake`` skips it
  (developers.everhour.com/webhooks). Deliveries look like
  ``{"event", "payload": {"id", "data"}, "createdAt"}`` (S captured deliveries).
- V Deliveries are **not signed**: the secret is sent once, at the handshake, never again. A
  receiver therefore cannot authenticate a delivery; Timebridge registers an unguessable target
  URL per connection and treats a delivery only as a hint to re-read the record through the API.
"""

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any, TypeVar, Unpack

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import ProviderError, RequestBudget
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, JsonClient, Wire, numbered_pages

EVERHOUR_API_URL = "https://api.everhour.com"
API_VERSION = "1.2"
RATE_LIMIT = (20, 10.0)
"""Requests per seconds Everhour allows one API key."""
_WIRE = Wire("everhour", RATE_LIMIT, secret_headers=("X-Api-Key",))
HOOK_SECRET_HEADER = "X-Hook-Secret"  # noqa: S105 - a header name
TIME_UPDATED = "api:time:updated"


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


EverhourDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]
"""Everhour's ``YYYY-MM-DD HH:MM:SS`` (UTC without a zone), as an aware UTC datetime."""


class _Model(BaseModel):
    """Everhour's camelCase fields as snake_case attributes; unknown fields are ignored."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True
    )


class User(_Model):
    id: int
    name: str
    email: str | None = None
    role: str | None = None
    status: str | None = None
    headline: str | None = None
    timezone: float | None = None
    """UTC offset in hours, not an IANA name."""
    rate: int | None = None
    """The member's own hourly billing rate, in cents (A: a team user's ``rate``)."""
    cost: int | None = None
    """The member's hourly cost, in cents (S: ``users.cost`` in third-party connectors)."""


class ProjectBilling(_Model):
    type: str | None = None
    fee: int | None = None


class ProjectRate(_Model):
    """How a project's time is priced (S: ``rate``, ``rate_type``, ``user_rate_overrides`` and
    ``user_cost_overrides`` of a project in third-party connectors): amounts in cents per hour."""

    type: str | None = None
    rate: int | None = None
    user_rate_overrides: dict[int, int] = {}
    user_cost_overrides: dict[int, int] = {}


class Project(_Model):
    id: str
    name: str
    users: tuple[int, ...] = ()
    workspace_id: str | None = None
    workspace_name: str | None = None
    client: int | None = None
    type: str | None = None
    status: str | None = None
    billing: ProjectBilling | None = None
    rate: ProjectRate | None = None


class Section(_Model):
    id: int
    name: str
    position: int | None = None
    project: str | None = None
    status: str | None = None


class TaskTime(_Model):
    total: int = 0
    users: dict[int, int] = {}


class Task(_Model):
    id: str
    name: str
    projects: tuple[str, ...] = ()
    section: int | None = None
    status: str | None = None
    description: str | None = None
    labels: tuple[str, ...] = ()
    due_at: EverhourDatetime | None = None
    time: TaskTime | None = None
    unbillable: bool = False


class TimeHistory(_Model):
    id: int
    action: str
    time: int
    previous_time: int | None = None
    created_by: int | None = None
    created_at: EverhourDatetime | None = None


class TimeRecord(_Model):
    id: int
    time: int
    """Seconds."""
    user: int
    date: dt.date
    task: Task | None = None
    comment: str | None = None
    is_locked: bool = False
    is_invoiced: bool = False
    lock_reasons: tuple[Any, ...] = ()
    history: tuple[TimeHistory, ...] = ()

    @property
    def locked(self) -> bool:
        """Whether a change may be refused: locked, or invoiced (changeable by admins only)."""
        return self.is_locked or self.is_invoiced


class Webhook(_Model):
    id: int
    target_url: str
    events: tuple[str, ...]
    project: str | None = None
    is_active: bool = True
    created_at: EverhourDatetime | None = None
    last_used_at: EverhourDatetime | None = None


class DeliveryPayload(_Model):
    id: str | int | None = None
    data: dict[str, Any]


class WebhookDelivery(_Model):
    event: str
    payload: DeliveryPayload
    created_at: EverhourDatetime | None = None

    def time_record(self) -> TimeRecord:
        """The record an ``api:time:updated`` delivery is about (re-read it before acting)."""
        if self.event != TIME_UPDATED:
            raise InvalidMessageError(f"not a time delivery: {self.event}")
        try:
            return TimeRecord.model_validate(self.payload.data)
        except ValidationError as exc:
            raise InvalidMessageError(f"malformed time record: {exc}") from exc


class TimeRecordLockedError(ProviderError):
    """Everhour refused to change a locked or invoiced time record."""


_LOCKS = LockRefusals({400, 403, 409, 422, 423}, "lock|invoic", error=TimeRecordLockedError)


def handshake_reply(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The headers answering Everhour's registration handshake, or None for a delivery."""
    secret = next((v for k, v in headers.items() if k.lower() == HOOK_SECRET_HEADER.lower()), None)
    return None if secret is None else {HOOK_SECRET_HEADER: secret}


def parse_delivery(body: bytes) -> WebhookDelivery:
    try:
        return WebhookDelivery.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidMessageError(f"not an Everhour delivery: {exc}") from exc


T = TypeVar("T")

_USER = TypeAdapter(User)
_USERS = TypeAdapter(list[User])
_PROJECT = TypeAdapter(Project)
_PROJECTS = TypeAdapter(list[Project])
_SECTIONS = TypeAdapter(list[Section])
_TASK = TypeAdapter(Task)
_TASKS = TypeAdapter(list[Task])
_RECORD = TypeAdapter(TimeRecord)
_RECORDS = TypeAdapter(list[TimeRecord])
_HOOK = TypeAdapter(Webhook)
_HOOKS = TypeAdapter(list[Webhook])


class EverhourClient(JsonClient):
    """One Everhour connection (one API key); every method returns models or raises.

    Errors: :class:`~timebridge_common.outbound.http.AuthenticationError` (bad key),
    :class:`~timebridge_common.outbound.http.NotFoundError`, :class:`TimeRecordLockedError`,
    other :class:`~timebridge_common.outbound.http.ProviderError` refusals,
    :class:`~timebridge_common.outbound.http.OutcomeUnknownError` when a POST may or may not
    have been applied, and :class:`~timebridge_common.errors.TransientError` otherwise.
    """

    def __init__(self, base_url: str, api_key: str, **options: Unpack[ClientOptions]) -> None:
        headers = {"X-Api-Key": api_key, "X-Accept-Version": API_VERSION}
        self._http = _WIRE.http(base_url, headers, options)
        self.account = hashlib.sha256(f"{base_url.rstrip('/')}|{api_key}".encode()).hexdigest()
        """Which account and key this client calls (a hash: never the key itself)."""

    @property
    def budget(self) -> RequestBudget:
        """The key's request budget, shared by every client of the key."""
        return self._http.budget

    async def current_user(self) -> User:
        """The key's owner: the "test connection" call (a bad key raises AuthenticationError)."""
        return await self._get("/users/me", _USER)

    async def team_users(self) -> list[User]:
        return await self._get("/team/users", _USERS)

    def projects(self, *, query: str | None = None, page_size: int = 100) -> AsyncIterator[Project]:
        params = {} if query is None else {"query": query}
        return self._pages("/projects", _PROJECTS, params, page_size)

    async def project(self, project_id: str) -> Project:
        return await self._get(f"/projects/{project_id}", _PROJECT)

    async def sections(self, project_id: str) -> list[Section]:
        return await self._get(f"/projects/{project_id}/sections", _SECTIONS)

    def project_tasks(
        self,
        project_id: str,
        *,
        query: str | None = None,
        exclude_closed: bool = False,
        page_size: int = 250,
    ) -> AsyncIterator[Task]:
        params: dict[str, str | int] = {"exclude-closed": str(exclude_closed).lower()}
        if query is not None:
            params["query"] = query
        return self._pages(f"/projects/{project_id}/tasks", _TASKS, params, page_size)

    async def task(self, task_id: str) -> Task:
        return await self._get(f"/tasks/{task_id}", _TASK)

    async def create_task(
        self,
        project_id: str,
        *,
        name: str,
        section_id: int,
        description: str | None = None,
        labels: Sequence[str] = (),
    ) -> Task:
        """Create a task (POST: an unknown outcome is raised, never retried)."""
        body: dict[str, Any] = {"name": name, "section": section_id}
        if description is not None:
            body["description"] = description
        if labels:
            body["labels"] = list(labels)
        response = await self._http.request("POST", f"/projects/{project_id}/tasks", json=body)
        return self._http.parse(response, _TASK)

    def team_time(
        self, start: dt.date, end: dt.date, *, page_size: int = 1000
    ) -> AsyncIterator[TimeRecord]:
        """Every time record of the team dated ``start`` to ``end`` inclusive."""
        params = {"from": start.isoformat(), "to": end.isoformat()}
        return self._pages("/team/time", _RECORDS, params, page_size)

    def task_time(
        self, task_id: str, start: dt.date, end: dt.date, *, page_size: int = 1000
    ) -> AsyncIterator[TimeRecord]:
        params = {"from": start.isoformat(), "to": end.isoformat()}
        return self._pages(f"/tasks/{task_id}/time", _RECORDS, params, page_size)

    async def find_time(self, task_id: str, date: dt.date, user_id: int) -> TimeRecord | None:
        """The record of a task, user and date: the lookup after an unknown outcome."""
        async for record in self.task_time(task_id, date, date):
            if record.user == user_id and record.date == date:
                return record
        return None

    async def add_time(
        self,
        task_id: str,
        *,
        seconds: int,
        date: dt.date,
        user_id: int | None = None,
        comment: str | None = None,
    ) -> TimeRecord:
        """Add ``seconds`` to the task's record of that user and date (creating it).

        Not idempotent: after :class:`OutcomeUnknownError` call :meth:`find_time` first.
        """
        body = _time_body(date, user_id, seconds=seconds, comment=comment)
        return await self._write_time("POST", task_id, body)

    async def update_time(
        self,
        task_id: str,
        *,
        seconds: int,
        date: dt.date,
        user_id: int | None = None,
        comment: str | None = None,
    ) -> TimeRecord:
        """Set the record of that task, user and date to ``seconds`` (idempotent)."""
        body = _time_body(date, user_id, seconds=seconds, comment=comment)
        return await self._write_time("PUT", task_id, body)

    async def delete_time(self, task_id: str, *, date: dt.date, user_id: int | None = None) -> None:
        await self._write_time("DELETE", task_id, _time_body(date, user_id))

    async def hooks(self) -> list[Webhook]:
        return await self._get("/hooks", _HOOKS)

    async def create_hook(
        self,
        target_url: str,
        events: Sequence[str] = (TIME_UPDATED,),
        *,
        project_id: str | None = None,
        skip_handshake: bool = False,
    ) -> Webhook:
        """Register a webhook; Everhour calls ``target_url`` with the handshake before answering.

        A retry after an unknown outcome answers ``409`` if the first attempt got through.
        """
        body: dict[str, Any] = {"targetUrl": target_url, "events": list(events)}
        if project_id is not None:
            body["project"] = project_id
        headers = {"X-Skip-Handshake": "1"} if skip_handshake else None
        response = await self._http.request("POST", "/hooks", json=body, headers=headers)
        return self._http.parse(response, _HOOK)

    async def delete_hook(self, hook_id: int) -> None:
        await self._http.request("DELETE", f"/hooks/{hook_id}")

    async def _write_time(self, method: str, task_id: str, body: dict[str, Any]) -> TimeRecord:
        with _LOCKS.raised():
            response = await self._http.request(method, f"/tasks/{task_id}/time", json=body)
        return self._http.parse(response, _RECORD)

    def _pages(
        self,
        path: str,
        adapter: TypeAdapter[list[T]],
        params: Mapping[str, str | int],
        page_size: int,
    ) -> AsyncIterator[T]:
        async def page(number: int) -> list[T]:
            return await self._get(path, adapter, {**params, "page": number, "limit": page_size})

        return numbered_pages(page, page_size)


def _time_body(
    date: dt.date, user_id: int | None, *, seconds: int | None = None, comment: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"date": date.isoformat()}
    if seconds is not None:
        body["time"] = seconds
    if user_id is not None:
        body["user"] = user_id
    if comment is not None:
        body["comment"] = comment
    return body
