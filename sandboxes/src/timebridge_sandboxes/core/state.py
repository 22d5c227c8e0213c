"""The Core sandbox's data and how it sends webhooks."""

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx

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
class _Contract:
    id: str
    workspace_id: str
    title: str
    client: dict[str, str]
    currency: str
    starts_on: dt.date
    updated_at: dt.datetime
    ends_on: dt.date | None = None
    project_ids: list[str] = field(default_factory=list)
    status: Literal["draft", "signed", "active", "ended"] = "draft"
    signed_at: dt.datetime | None = None
    version: int = 1


@dataclass
class _Milestone:
    id: str
    workspace_id: str
    project_id: str
    name: str
    updated_at: dt.datetime
    due_on: dt.date | None = None
    reached_at: dt.datetime | None = None
    version: int = 1


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
    contracts: dict[str, _Contract] = field(default_factory=dict)
    milestones: dict[str, _Milestone] = field(default_factory=dict)
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
        self.contracts.clear()
        self.milestones.clear()
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
