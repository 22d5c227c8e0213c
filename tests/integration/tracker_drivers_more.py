"""Drivers of the OAuth trackers and Tempo (see :mod:`.tracker_drivers`): QuickBooks Time,
Jira Tempo, Wrike, Zoho Projects, Xero Projects; and the list of all nine polled drivers."""

import datetime as dt
import zoneinfo
from typing import Any

from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.quickbooks_time import (
    create_quickbooks_time_sandbox,
    demo_quickbooks_time,
)
from timebridge_sandboxes.tempo import create_tempo_sandbox, demo_tempo, jira_token
from timebridge_sandboxes.wrike import create_wrike_sandbox, demo_wrike
from timebridge_sandboxes.xero_projects import create_xero_projects_sandbox, demo_xero_projects
from timebridge_sandboxes.zoho import create_zoho_sandbox, demo_zoho

from .tracker_drivers import (
    EMAIL,
    MEMBER,
    ClickUpDriver,
    ClockifyDriver,
    HubstaffDriver,
    Poll,
    Polled,
    TogglDriver,
    _at,
    _hhmm,
)
from .trackers import Held


class QuickBooksTimeDriver(Polled):
    name, title, key = "quickbooks_time", "QuickBooks Time", "qbt-ann-access"
    zone: str | None = "America/New_York"

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state = demo_quickbooks_time(self.key, MEMBER)
        self.app = create_quickbooks_time_sandbox(self.state, limit=RateLimit(10**6, 1))
        self.fields = {"timezone": "America/New_York"}
        self.ann, self.project, self.task = "1242515", "17288283", "17288284"

    async def _write(self, method: str, item: dict[str, Any]) -> str:
        answer = await self._call(method, "/api/v1/timesheets", json={"data": [item]})
        result = answer["results"]["timesheets"]["1"]
        assert result["_status_code"] == 200, result
        return self._stamp(str(result["id"]))

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        start = _at(day).astimezone(zoneinfo.ZoneInfo(self.zone or "UTC"))
        end = start + dt.timedelta(seconds=seconds)
        item = {"user_id": int(self.ann), "jobcode_id": int(self.task), "type": "regular"}
        item |= {"start": start.isoformat(), "end": end.isoformat(), "notes": notes}
        return await self._write("POST", item)

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        sheet = self.state.timesheets[int(record_id)]
        assert sheet.start is not None
        start = sheet.start.astimezone(zoneinfo.ZoneInfo(self.zone or "UTC"))
        end = start + dt.timedelta(seconds=seconds)
        item = {"id": int(record_id), "start": start.isoformat(), "end": end.isoformat()}
        await self._write("PUT", {**item, "notes": notes})

    async def delete(self, record_id: str) -> None:
        answer = await self._call("DELETE", "/api/v1/timesheets", params={"ids": record_id})
        assert answer["results"]["timesheets"]["1"]["_status_code"] == 200, answer

    def held(self) -> list[Held]:
        return [
            Held(str(t.id), str(t.user_id), str(t.jobcode_id), t.date, t.duration(), t.notes)
            for t in self.state.timesheets.values()
            if not t.on_the_clock
        ]

    async def lock(self, record_id: str) -> None:
        """The manager approves Ann's time up to the timesheet's date."""
        sheet = self.state.timesheets[int(record_id)]
        item = {"id": sheet.user_id, "approved_to": sheet.date.isoformat()}
        answer = await self._call("PUT", "/api/v1/users", json={"data": [item]})
        assert answer["results"]["users"]["1"]["_status_code"] == 200, answer


class TempoDriver(Polled):
    """Tempo keeps worklogs; users, the project and its issues (the tasks) come from Jira, so
    the key is ``<Tempo token>|<Jira API token>`` and Jira's site and email are fields."""

    name, title = "tempo", "Jira Tempo"
    token = "tempo-ann-token"

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state = demo_tempo(self.token, MEMBER)
        self.app = create_tempo_sandbox(self.state, limit=RateLimit(10**6, 1))
        ann = next(u for u in self.state.users.values() if u.email == EMAIL)
        self.key = f"{self.token}|{jira_token(self.token)}"
        self.fields = {"account_id": ann.account_id, "timezone": ann.timezone}
        self.fields |= {"jira_site": "https://acme.atlassian.net", "jira_email": EMAIL}
        self.zone = ann.timezone
        self.ann, self.project, self.task = ann.account_id, "10000", "10001"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _body(self, worklog: dict[str, Any], seconds: int, notes: str) -> dict[str, Any]:
        return {
            **worklog,
            "timeSpentSeconds": seconds,
            "billableSeconds": seconds,
            "description": notes,
        }

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        local = _at(day).astimezone(zoneinfo.ZoneInfo(self.zone or "UTC"))
        worklog = {"issueId": int(self.task), "authorAccountId": self.ann}
        worklog |= {"startDate": local.date().isoformat(), "startTime": local.strftime("%H:%M:%S")}
        made = await self._call("POST", "/4/worklogs", json=self._body(worklog, seconds, notes))
        return self._stamp(str(made["tempoWorklogId"]))

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        w = self.state.worklogs[int(record_id)]
        worklog = {"issueId": w.issue_id, "authorAccountId": w.author}
        worklog |= {"startDate": w.start_date.isoformat(), "startTime": w.start_time.isoformat()}
        await self._call(
            "PUT", f"/4/worklogs/{record_id}", json=self._body(worklog, seconds, notes)
        )
        self._stamp(record_id)

    async def delete(self, record_id: str) -> None:
        await self._call("DELETE", f"/4/worklogs/{record_id}")

    def held(self) -> list[Held]:
        return [
            Held(str(w.id), w.author, str(w.issue_id), w.start_date, w.seconds, w.description)
            for w in self.state.worklogs.values()
        ]

    async def lock(self, record_id: str) -> None:
        await self._admin(f"/worklogs/{record_id}/approve")


class WrikeDriver(Polled):
    name, title, key = "wrike", "Wrike", "wrike-ann-access"

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state = demo_wrike(self.key, MEMBER)
        self.app = create_wrike_sandbox(self.state)
        self.ann = next(c.id for c in self.state.contacts.values() if c.email == EMAIL)
        self.project = next(iter(self.state.folders))
        self.task = next(iter(self.state.tasks))

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        form = {"hours": str(seconds / 3600), "trackedDate": day.isoformat(), "comment": notes}
        made = await self._call(
            "POST", f"/api/v4/tasks/{self.task}/timelogs", data={**form, "billingType": "Billable"}
        )
        return self._stamp(str(made["data"][0]["id"]))

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        form = {"hours": str(seconds / 3600), "comment": notes}
        await self._call("PUT", f"/api/v4/timelogs/{record_id}", data=form)
        self._stamp(record_id)

    async def delete(self, record_id: str) -> None:
        await self._call("DELETE", f"/api/v4/timelogs/{record_id}")

    def held(self) -> list[Held]:
        return [
            Held(t.id, t.user_id, t.task_id, t.tracked, round(t.hours * 3600), t.comment)
            for t in self.state.timelogs.values()
        ]

    async def lock(self, record_id: str) -> None:
        await self._admin(f"/timelogs/{record_id}/approve")


class ZohoDriver(Polled):
    name, title, key = "zoho", "Zoho Projects", "zoho-ann-access"
    zone: str | None = "Asia/Kolkata"

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state = demo_zoho(self.key, MEMBER)
        self.app = create_zoho_sandbox(self.state, limit=RateLimit(10**6, 1))
        self.fields = {"portal_id": str(self.state.portal_id), "timezone": "Asia/Kolkata"}
        self.ann = str(next(u.id for u in self.state.users.values() if u.email == EMAIL))
        self.project = str(next(iter(self.state.projects)))
        self.task = str(next(iter(self.state.tasks)))
        self.base = f"/restapi/portal/{self.state.portal_id}/projects/{self.project}/tasks"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.key}"}

    def _log(self, record_id: str) -> str:
        project, task, log = record_id.split(":")
        return f"/restapi/portal/{self.state.portal_id}/projects/{project}/tasks/{task}/logs/{log}/"

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        form = {"date": day.strftime("%m-%d-%Y"), "bill_status": "Billable", "owner": self.ann}
        form |= {"hours": _hhmm(seconds), "notes": notes}
        made = await self._call("POST", f"{self.base}/{self.task}/logs/", data=form)
        log = made["timelogs"]["tasklogs"][0]["id"]
        return self._stamp(f"{self.project}:{self.task}:{log}")

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        log = self.state.logs[int(record_id.split(":")[2])]
        form = {"date": log.day.strftime("%m-%d-%Y"), "bill_status": log.bill_status}
        await self._call(
            "POST", self._log(record_id), data={**form, "hours": _hhmm(seconds), "notes": notes}
        )
        self._stamp(record_id)

    async def delete(self, record_id: str) -> None:
        await self._call("DELETE", self._log(record_id))

    def held(self) -> list[Held]:
        return [
            Held(
                f"{g.project_id}:{g.task_id}:{g.id}",
                str(g.owner_id),
                str(g.task_id),
                g.day,
                g.minutes * 60,
                g.notes,
            )
            for g in self.state.logs.values()
        ]

    async def lock(self, record_id: str) -> None:
        await self._call(
            "POST", self._log(record_id) + "approval", data={"approval_status": "Approved"}
        )


class XeroProjectsDriver(Polled):
    name, title = "xero_projects", "Xero Projects"
    zone: str | None = "Europe/London"

    def __init__(self, poll: Poll) -> None:
        super().__init__(poll)
        self.state, tokens = demo_xero_projects("e2e-ann-signature", "e2e-max-signature")
        self.key = tokens[EMAIL]
        self.app = create_xero_projects_sandbox(self.state, minute=RateLimit(10**6, 60))
        self.fields = {"tenant": self.state.tenant_id, "timezone": self.state.timezone}
        self.ann = next(u.user_id for u in self.state.users.values() if u.email == EMAIL)
        project = next(iter(self.state.projects.values()))
        self.project = project.project_id
        self.task = next(
            t.task_id for t in self.state.tasks.values() if t.name == "Fix the login page"
        )
        self.path = f"/projects.xro/2.0/Projects/{self.project}/Time"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Xero-Tenant-Id": self.state.tenant_id}

    def _body(self, at: dt.datetime, seconds: int, notes: str) -> dict[str, Any]:
        when = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return {"userId": self.ann, "taskId": self.task, "dateUtc": when} | {
            "duration": seconds // 60,
            "description": notes,
        }

    async def log(self, day: dt.date, seconds: int, notes: str) -> str:
        made = await self._call("POST", self.path, json=self._body(_at(day), seconds, notes))
        return self._stamp(f"{made['projectId']}:{made['timeEntryId']}")

    async def edit(self, record_id: str, seconds: int, notes: str) -> None:
        entry = record_id.split(":")[1]
        at = self.state.entries[entry].date_utc
        await self._call("PUT", f"{self.path}/{entry}", json=self._body(at, seconds, notes))
        self._stamp(record_id)

    async def delete(self, record_id: str) -> None:
        await self._call("DELETE", f"{self.path}/{record_id.split(':')[1]}")

    def held(self) -> list[Held]:
        zone = zoneinfo.ZoneInfo(self.state.timezone)
        return [
            Held(
                f"{e.project_id}:{e.time_entry_id}",
                e.user_id,
                e.task_id,
                e.date_utc.astimezone(zone).date(),
                e.duration * 60,
                e.description or "",
            )
            for e in self.state.entries.values()
        ]

    async def lock(self, record_id: str) -> None:
        await self._admin(f"/time/{record_id.split(':')[1]}/invoice")


POLLED = (
    TogglDriver,
    ClockifyDriver,
    ClickUpDriver,
    HubstaffDriver,
    QuickBooksTimeDriver,
    TempoDriver,
    WrikeDriver,
    ZohoDriver,
    XeroProjectsDriver,
)
