"""A small driver per tracker for the end-to-end scenarios: what a person does in the tracker.

Each driver seeds Ann, the project "Website" and its task "Fix the login page" in its sandbox,
logs, edits and deletes time as Ann through the tracker's own HTTP API, and reads what the
tracker holds, as :class:`Held` records the scenarios compare without naming the tracker.
``observed`` is how ingest comes to know of a change: Everhour pushes webhooks (nothing to do);
Harvest has none, so its connection is polled (as ingest's poller does at each tick).
"""

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from timebridge_common.testing import wait_for
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.harvest import HarvestState, create_harvest_sandbox

ANN_EMAIL = "ann@acme.test"
TASK_TITLE = "Fix the login page"


@dataclass(frozen=True, slots=True)
class Held:
    """One record as the tracker holds it, in the scenarios' terms."""

    id: str
    user: str
    task: str
    date: dt.date
    seconds: int
    notes: str


class Tracker(Protocol):
    name: str
    app: Any
    key: str
    email: str
    """Ann's email in the tracker (her Core user has the same, so they match by email)."""
    writable: bool
    """False where the provider syncs to Core only (Core's entries are not written there)."""
    keeps_notes: bool
    zone: str | None
    """The zone Ann's Core entries are logged in (her zone in the tracker; None: Core's default)."""
    fields: dict[str, str]
    """The connection fields an admin enters besides the key (Harvest's account id)."""
    project: str
    task: str
    ann: str

    async def log(self, day: dt.date, seconds: int, notes: str) -> str: ...

    async def edit(self, record_id: str, seconds: int, notes: str) -> None: ...

    async def delete(self, record_id: str) -> None: ...

    def held(self) -> list[Held]: ...

    async def lock(self, record_id: str) -> None:
        """As approving or invoicing the record does in the tracker."""

    async def settle(self, record_id: str) -> None:
        """Before a person edits a record: wait past the second of its last change, where the
        tracker stamps changes to the second (a same-second edit is the same version)."""

    async def observed(self) -> None: ...


def _client(app: Any, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox", headers=headers
    )


@dataclass
class EverhourDriver:
    """Everhour keeps one record per task, user and day; changes arrive as webhooks."""

    webhook_transport: httpx.AsyncBaseTransport
    name: str = "everhour"
    key: str = "everhour-ann-key"
    email: str = ANN_EMAIL
    writable: bool = True
    keeps_notes: bool = True
    zone: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    state: EverhourState = field(default_factory=EverhourState)
    app: Any = None
    project: str = ""
    task: str = ""
    ann: str = ""

    def __post_init__(self) -> None:
        self.ann = str(self.state.add_user("Ann", api_key=self.key, email=ANN_EMAIL.upper()))
        self.project = self.state.add_project("Website")
        self.task = self.state.add_task(self.project, TASK_TITLE)
        self.app = create_everhour_sandbox(
            self.state, rate_limit=RateLimit(10**6, 10), webhook_transport=self.webhook_transport
        )

    async def _time(self, method: str, task: str, **body: Any) -> Any:
        async with _client(self.app, **{"X-Api-Key": self.key}) as everhour:
            answer = await everhour.request(method, f"/tasks/{task}/time", json=body)
            assert answer.is_success, answer.text
            return answer.json()

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        added = await self._time(
            "POST", self.task, time=seconds, date=day.isoformat(), **{"comment": notes}
        )
        return str(added["id"])

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        record = self.state.records[int(record_id)]
        await self._time(
            "PUT", record.task, time=seconds, date=record.date.isoformat(), comment=notes
        )

    async def delete(self, record_id: str) -> None:
        record = self.state.records[int(record_id)]
        await self._time("DELETE", record.task, date=record.date.isoformat())

    def held(self) -> list[Held]:
        return [
            Held(str(r.id), str(r.user), r.task, r.date, r.time, r.comment or "")
            for r in self.state.records.values()
        ]

    async def settle(self, record_id: str) -> None:
        record = self.state.records[int(record_id)]
        last = max(
            dt.datetime.strptime(h["createdAt"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
            for h in record.history
        )
        await _until(lambda: dt.datetime.now(dt.UTC) >= last + dt.timedelta(seconds=1))

    async def lock(self, record_id: str) -> None:
        self.state.records[int(record_id)].is_locked = True

    async def observed(self) -> None:
        """Everhour's webhooks reach ingest by themselves."""


@dataclass
class HarvestDriver:
    """Harvest keeps one entry per entry, in decimal hours; it has no webhooks: ingest polls."""

    poll: Callable[[], Awaitable[None]]
    """Poll the connection once (ingest's poller on the integration)."""
    name: str = "harvest"
    key: str = "harvest-ann-token"
    email: str = ANN_EMAIL
    writable: bool = True
    keeps_notes: bool = True
    zone: str | None = None
    state: HarvestState = field(default_factory=HarvestState)
    fields: dict[str, str] = field(default_factory=dict)
    app: Any = None
    project: str = ""
    task: str = ""
    ann: str = ""

    def __post_init__(self) -> None:
        self.fields = {"account_id": self.state.account_id}
        self.ann = str(self.state.add_user("Ann", "Example", ANN_EMAIL, token=self.key))
        project = self.state.add_project(self.state.add_client("Acme"), "Website")
        task = self.state.add_task(TASK_TITLE)
        self.state.assign(project, task, billable=True)
        self.project, self.task = str(project), str(task)
        self.app = create_harvest_sandbox(self.state, rate_limit=RateLimit(10**6, 15))

    async def _call(self, method: str, path: str, **body: Any) -> Any:
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Harvest-Account-Id": self.state.account_id,
        }
        async with _client(self.app, **headers) as harvest:
            answer = await harvest.request(method, f"/v2{path}", json=body or None)
            assert answer.is_success, answer.text
            return answer.json()

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        created = await self._call(
            "POST",
            "/time_entries",
            project_id=int(self.project),
            task_id=int(self.task),
            spent_date=day.isoformat(),
            hours=seconds / 3600,
            notes=notes,
        )
        return str(created["id"])

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        await self._call("PATCH", f"/time_entries/{record_id}", hours=seconds / 3600, notes=notes)

    async def delete(self, record_id: str) -> None:
        await self._call("DELETE", f"/time_entries/{record_id}")

    def held(self) -> list[Held]:
        return [
            Held(
                str(e.id),
                str(e.user_id),
                str(e.task_id),
                e.spent_date,
                round(e.hours * 3600),
                e.notes or "",
            )
            for e in self.state.entries.values()
        ]

    async def settle(self, record_id: str) -> None:
        """Harvest stamps ``updated_at`` to the second; the poll tells a same-second edit apart
        by its content, but the observation's event id is derived from the stamp alone, so such
        an edit would be dropped downstream as a duplicate of the version before it."""
        last = self.state.entries[int(record_id)].updated
        await _until(lambda: dt.datetime.now(dt.UTC) >= last + dt.timedelta(seconds=1))

    async def lock(self, record_id: str) -> None:
        self.state.lock(int(record_id))

    async def observed(self) -> None:
        await self.poll()


async def _until(check: Callable[[], bool]) -> None:
    async def poll() -> bool:
        return check()

    await wait_for(poll)
