"""What a conformance scenario runs on: a provider, a session on its sandbox, and the sandbox's
controls (a person acting in the provider directly, the fault switches, captured webhooks)."""

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_providers.kit.ports.entries import Slot
from timebridge_providers.kit.registry import Provider
from timebridge_providers.kit.session import Access, Session


class NotOffered(Exception):
    """The provider does not offer what the scenario checks (the reason says what)."""


@dataclass
class FakeClock:
    """Time that moves only when someone sleeps on it: waits are counted, never spent."""

    start: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    elapsed: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.elapsed

    def utcnow(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.elapsed)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds


@dataclass(frozen=True)
class Work:
    """Who and what the sandbox's account holds for the scenarios: a user (with the IANA zone
    the provider's translation gives them), a project and a task of it."""

    user_id: str
    email: str | None
    project_id: str
    task_id: str
    zone: str


@dataclass(frozen=True)
class Captured:
    """A webhook delivery the sandbox sent."""

    headers: Mapping[str, str]
    body: bytes


class Control(Protocol):
    """The sandbox, driven as the provider's own users and operators would (not via our code)."""

    def count(self) -> int:
        """Time records the account holds."""
        ...

    async def add(self, fields: TimeEntryFields) -> str:
        """Log time in the provider directly; the id the provider's changes will name."""
        ...

    async def edit(self, external_id: str, notes: str) -> None:
        """Change a record's notes directly."""
        ...

    async def remove(self, external_id: str) -> None:
        """Delete a record directly."""
        ...

    async def lock(self, external_id: str) -> None:
        """Lock a record as the provider does (approved, invoiced, a closed period)."""
        ...

    def limit_pages(self, size: int) -> bool:
        """Answer lists ``size`` items a page; ``False`` where the client sets the page size."""
        ...

    async def deliveries(self) -> list[Captured]:
        """The webhook deliveries the sandbox sent so far (after they were all sent)."""
        ...

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:
        """The signature header value the provider would send for ``body`` at ``at``."""
        ...

    @property
    def webhook_secret(self) -> str: ...

    @property
    def account(self) -> str:
        """What a signed delivery must be about (the workspace)."""
        ...


@dataclass
class Rig:
    """One provider on its sandbox, as a scenario sees it."""

    provider: Provider
    base_url: str
    credential: str
    http: httpx.AsyncClient
    """Requests reach the sandbox in-process; an answer held longer than the transport's
    timeout is lost (the sandbox's lost-answer fault)."""
    control: Control
    work: Work
    sandbox_url: str = ""
    """Where the sandbox's admin API ``/_sandbox`` is (default: ``base_url``)."""
    source: str = "core"
    """The system the entries written here are copies of (slot keys name it)."""
    extra: Mapping[str, str] = field(default_factory=dict)
    clock: FakeClock = field(default_factory=FakeClock)
    answers: list[int] = field(default_factory=list)
    _serial: int = 0

    def session(self) -> Session:
        """A fresh session (its own budget) on fake time."""
        limit = self.provider.profile.rate_limit
        budget = RequestBudget(
            limit.requests, limit.window_s, clock=self.clock.clock, sleep=self.clock.sleep
        )
        retry = RetryPolicy(sleep=self.clock.sleep, now=self.clock.utcnow, rng=lambda: 0.5)
        access = Access(self.base_url, self.credential, dict(self.extra))
        return Session(self.provider.name, access, self.http, budget, retry)

    async def faults(self, **switches: Any) -> None:
        """Set the sandbox's fault switches (``POST /_sandbox/faults``, the same for all)."""
        root = (self.sandbox_url or self.base_url).rstrip("/")
        answer = await self.http.post(f"{root}/_sandbox/faults", json=switches)
        answer.raise_for_status()

    async def fault_switches(self) -> dict[str, Any]:
        """The fault switches as they are now (``GET /_sandbox/faults``)."""
        root = (self.sandbox_url or self.base_url).rstrip("/")
        answer = await self.http.get(f"{root}/_sandbox/faults")
        answer.raise_for_status()
        switches: dict[str, Any] = answer.json()
        return switches

    def fields(self, day: dt.date, at: dt.time, seconds: int, notes: str) -> TimeEntryFields:
        """An entry of the rig's user on its task, starting on ``day`` at ``at`` in the user's
        zone."""
        start = dt.datetime.combine(day, at, tzinfo=zoneinfo.ZoneInfo(self.work.zone))
        started = start.astimezone(dt.UTC)
        return TimeEntryFields(
            user=UserRef(external_id=self.work.user_id, email=self.work.email),
            project_external_id=self.work.project_id,
            task_external_id=self.work.task_id,
            date=start.date(),
            started_at=started,
            ended_at=started + dt.timedelta(seconds=seconds),
            timezone=self.work.zone,
            duration_seconds=seconds,
            notes=notes,
            billable=True,
        )

    def slot(self, fields: TimeEntryFields) -> Slot:
        """A new target slot for ``fields``, keyed as the provider's granularity wants."""
        self._serial += 1
        if self.provider.profile.granularity == "task_user_day":
            key = f"{fields.task_external_id}|{fields.user.external_id}|{fields.date.isoformat()}"
        else:
            key = f"{self.source}:conformance-{self._serial}-{id(self)}"
        return Slot(self.provider.name, key)
