"""Drivers for the polled trackers of the end-to-end scenarios (see :mod:`.trackers`).

Each seeds its sandbox with the demo data (Ann, the project "Website" and its task "Fix the login
page"), acts as Ann through the tracker's own API in its own units (Toggl seconds, Clockify
ISO-8601 start/end, ClickUp milliseconds, Hubstaff manual seconds, QuickBooks Time start/end with
an offset, Tempo ``timeSpentSeconds``, Wrike decimal hours, Zoho "HH:MM", Xero Projects minutes),
reads back what the sandbox holds as :class:`~.trackers.Held` (in seconds), and locks a record as
the tracker does (approval, lock date, invoicing). Ingest observes all of them by polling the
connection (webhooks, where a tracker has them, are tested on their own).
"""

import base64
import datetime as dt
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from timebridge_common.testing import wait_for
from timebridge_sandboxes.clickup import create_clickup_sandbox, demo_clickup
from timebridge_sandboxes.clockify import create_clockify_sandbox, demo_clockify
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.hubstaff import create_hubstaff_sandbox, demo_hubstaff
from timebridge_sandboxes.toggl import create_toggl_sandbox, demo_toggl

from .trackers import Held

EMAIL = "ann@example.com"
"""The demo sandboxes' Ann; her Core user has the same email, so users match by email."""
MEMBER = "max-token"
START = dt.time(10)
"""Ann logs from 10:00 UTC: the same date in every zone the sandboxes use."""
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
Poll = Callable[[], Awaitable[None]]


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, START, tzinfo=dt.UTC)


def _hhmm(seconds: int) -> str:
    minutes = seconds // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class Polled:
    """What the nine drivers share: ingest polls the connection; each change Ann makes is
    stamped, so ``settle`` waits past its second (trackers stamp changes to the second)."""

    name = ""
    title = ""
    key = ""
    email = EMAIL
    writable = True
    keeps_notes = True
    zone: str | None = "Europe/Berlin"
    app: Any
    fields: dict[str, str]
    project = ""
    task = ""
    ann = ""

    def __init__(self, poll: Poll) -> None:
        self.poll = poll
        self.fields = {}
        self._changed: dict[str, float] = {}

    def _client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://sandbox", headers=headers
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self._client(**self._auth()) as tracker:
            answer = await tracker.request(method, path, **kwargs)
            assert answer.is_success, f"{method} {path}: {answer.status_code} {answer.text}"
            return answer.json() if answer.content else None

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def _stamp(self, record_id: str) -> str:
        self._changed[record_id] = time.time()
        return record_id

    async def settle(self, record_id: str) -> None:
        last = self._changed.get(record_id, time.time())

        async def past() -> bool:
            return time.time() >= int(last) + 1

        await wait_for(past)

    async def observed(self) -> None:
        await self.poll()

    async def _admin(self, path: str) -> None:
        await self._call("POST", f"/_sandbox{path}")


class TogglDriver(Polled):
    name, title, key = "toggl", "Toggl Track", "toggl-ann-token"

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state = demo_toggl(self.key, MEMBER)
        self.app = create_toggl_sandbox(self.state, bucket=RateLimit(10**6, 1))
        self.ann = str(next(u.id for u in self.state.users.values() if u.email == EMAIL))
        self.project = str(next(iter(self.state.projects)))
        self.task = str(next(iter(self.state.tasks)))
        self.path = f"/api/v9/workspaces/{self.state.workspace_id}/time_entries"

    def _auth(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.key}:api_token".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        body = {"created_with": "e2e", "start": _at(day).isoformat(), "duration": seconds}
        body |= {"description": notes, "project_id": int(self.project), "billable": True}
        made = await self._call("POST", self.path, json={**body, "task_id": int(self.task)})
        return self._stamp(str(made["id"]))

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        body = {"duration": seconds, "description": notes}
        await self._call("PUT", f"{self.path}/{record_id}", json=body)
        self._stamp(record_id)

    async def delete(self, record_id: str) -> None:
        await self._call("DELETE", f"{self.path}/{record_id}")

    def held(self) -> list[Held]:
        return [
            Held(
                str(e.id),
                str(e.user_id),
                str(e.task_id),
                e.start.astimezone(self.state.users[e.user_id].zone).date(),
                e.duration,
                e.description,
            )
            for e in self.state.entries.values()
            if e.server_deleted_at is None
        ]

    async def lock(self, record_id: str) -> None:
        await self._admin(f"/time_entries/{record_id}/lock")


class ClockifyDriver(Polled):
    name, title, key = "clockify", "Clockify", "clockify-ann-key"

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state = demo_clockify(self.key, MEMBER)
        self.app = create_clockify_sandbox(self.state, rate_limit=RateLimit(10**6, 1))
        self.fields = {"workspace_id": self.state.workspace_id}
        self.ann = next(u.id for u in self.state.users.values() if u.email == EMAIL)
        self.project = next(iter(self.state.projects))
        self.task = next(iter(self.state.tasks))
        self.path = f"/api/v1/workspaces/{self.state.workspace_id}/time-entries"

    def _auth(self) -> dict[str, str]:
        return {"X-Api-Key": self.key}

    def _body(self, start: dt.datetime, seconds: int, notes: str) -> dict[str, Any]:
        end = start + dt.timedelta(seconds=seconds)
        return {
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": notes,
            "projectId": self.project,
            "taskId": self.task,
            "billable": True,
        }

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        made = await self._call("POST", self.path, json=self._body(_at(day), seconds, notes))
        return self._stamp(str(made["id"]))

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        start = self.state.entries[record_id].start
        await self._call("PUT", f"{self.path}/{record_id}", json=self._body(start, seconds, notes))
        self._stamp(record_id)

    async def delete(self, record_id: str) -> None:
        await self._call("DELETE", f"{self.path}/{record_id}")

    def held(self) -> list[Held]:
        return [
            Held(
                e.id,
                e.user_id,
                e.task_id or "",
                self.state.work_date(e),
                int((e.end - e.start).total_seconds()),
                e.description,
            )
            for e in self.state.entries.values()
            if e.end is not None
        ]

    async def lock(self, record_id: str) -> None:
        await self._admin(f"/time-entries/{record_id}/lock")


class ClickUpDriver(Polled):
    name, title, key = "clickup", "ClickUp", "pk_ann_e2e"

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state = demo_clickup(self.key, MEMBER)
        self.app = create_clickup_sandbox(self.state, limit=RateLimit(10**6, 1))
        self.fields = {"team_id": str(self.state.team_id)}
        self.ann = str(next(u.id for u in self.state.users.values() if u.email == EMAIL))
        self.project = str(next(iter(self.state.lists)))
        self.task = next(iter(self.state.tasks))
        self.path = f"/api/v2/team/{self.state.team_id}/time_entries"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": self.key}

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        body: dict[str, Any] = {"start": int(_at(day).timestamp() * 1000)}
        body |= {"duration": seconds * 1000}
        body |= {"description": notes, "billable": True, "tid": self.task}
        made = await self._call("POST", self.path, json=body)
        return self._stamp(str(made["data"]["id"]))

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        body = {"duration": seconds * 1000, "description": notes, "tags": []}
        await self._call("PUT", f"{self.path}/{record_id}", json=body)
        self._stamp(record_id)

    async def delete(self, record_id: str) -> None:
        await self._call("DELETE", f"{self.path}/{record_id}")

    def held(self) -> list[Held]:
        return [
            Held(
                e.id,
                str(e.user),
                e.task,
                dt.datetime.fromtimestamp(e.start / 1000, BERLIN).date(),
                e.duration // 1000,
                e.description,
            )
            for e in self.state.entries.values()
            if e.duration >= 0
        ]

    async def lock(self, record_id: str) -> None:
        await self._admin(f"/time_entries/{record_id}/lock")


class HubstaffDriver(Polled):
    """Hubstaff is read-only here: Ann adds manual time (into the day's activity of the task),
    adds more to change it, and an admin deletes the day's time."""

    name, title, key = "hubstaff", "Hubstaff", "hubstaff-ann-access"
    writable = False
    keeps_notes = False

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state = demo_hubstaff(self.key, MEMBER)
        self.app = create_hubstaff_sandbox(self.state, limit=RateLimit(10**6, 1))
        self.fields = {"organization_id": str(self.state.organization_id)}
        self.ann = str(next(u.id for u in self.state.users.values() if u.email == EMAIL))
        self.project = str(next(iter(self.state.projects)))
        self.task = str(next(iter(self.state.tasks)))

    async def _add(self, day: dt.date, seconds: int) -> str:
        body: dict[str, Any] = {"project_id": int(self.project), "task_id": int(self.task)}
        body |= {
            "billable": True,
            "start_time": _at(day).isoformat(),
            "tracked": seconds,
            "note": "e2e",
        }
        await self._call("POST", f"/v2/users/{self.ann}/time_entries", json=body)
        [daily] = [
            d for d in self.state.daily.values() if d.date == day and str(d.task) == self.task
        ]
        return self._stamp(str(daily.id))

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        return await self._add(day, seconds)

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        daily = self.state.daily[int(record_id)]
        assert seconds > daily.tracked, "Hubstaff's manual time only adds to the day"
        await self._add(daily.date, seconds - daily.tracked)

    async def delete(self, record_id: str) -> None:
        await self._admin(f"/daily_activities/{record_id}/delete_time")

    def held(self) -> list[Held]:
        return [
            Held(str(d.id), str(d.user), str(d.task), d.date, d.tracked, "")
            for d in self.state.daily.values()
            if d.tracked > 0
        ]

    async def lock(self, record_id: str) -> None:
        raise AssertionError("Hubstaff is read-only here: nothing of ours to lock")
