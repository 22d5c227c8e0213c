"""A stream of signed Core webhooks, sent as Core would: retried until answered 202.

Every entry gets several versions, sent in order and each only after the one before was
accepted, so what the platform ends up holding per entry must be the last version answered 202.
A delivery that is not answered 202 (503 while the broker is down, 5xx while the database is,
a refused connection while ingest restarts) is signed again and resent with the same delivery
id, like a real sender's retries; what was answered and how often is counted for the report.
"""

import asyncio
import datetime as dt
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from timebridge_ingest.domain.core_webhook import sign

BASE = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
DAYS = 4
"""Entries spread over this many days: Everhour holds one record per person, task and day, so
each day's record is the sum of that day's entries."""


@dataclass(frozen=True)
class Who:
    """The Core user, project and ticket every entry is logged by and on."""

    user: str = "u_1"
    project: str = "p_1"
    ticket: str = "T-1"


@dataclass(frozen=True)
class Version:
    entry: str
    version: int
    delivery: str
    duration_seconds: int
    updated_at: dt.datetime
    date: dt.date

    @property
    def notes(self) -> str:
        return f"{self.entry} v{self.version}"


def versions_of(n: int, count: int) -> list[Version]:
    entry = f"te-{n:04d}"
    return [
        Version(
            entry,
            v,
            f"dlv-{n:04d}-{v}",
            duration_seconds=600 + 60 * n + v,
            updated_at=BASE + dt.timedelta(minutes=n, seconds=v),
            date=BASE.date() + dt.timedelta(days=n % DAYS),
        )
        for v in range(1, count + 1)
    ]


def body_of(workspace: str, version: Version, who: Who) -> bytes:
    return json.dumps(
        {
            "id": version.delivery,
            "type": "time_entry.created" if version.version == 1 else "time_entry.updated",
            "workspace_id": workspace,
            "occurred_at": version.updated_at.isoformat(),
            "data": {
                "time_entry": {
                    "id": version.entry,
                    "user": {"id": who.user, "email": "ann@acme.test", "name": "Ann"},
                    "project_id": who.project,
                    "ticket_id": who.ticket,
                    "date": version.date.isoformat(),
                    "duration_seconds": version.duration_seconds,
                    "notes": version.notes,
                    "billable": True,
                    "timezone": "Europe/Paris",
                    "updated_at": version.updated_at.isoformat(),
                    "version": version.version,
                }
            },
        }
    ).encode()


@dataclass
class LoadStats:
    attempts: int = 0
    accepted: int = 0
    retried: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    event_ids: dict[str, str] = field(default_factory=dict)
    """delivery id -> the event id of its (last) 202"""
    accepted_versions: dict[str, Version] = field(default_factory=dict)
    """entry id -> the last version answered 202"""
    gave_up: list[str] = field(default_factory=list)
    without_retry_after: int = 0
    """503 answers that did not say when to retry"""
    copies_in_kafka: int = 0
    """records of accepted events in the topic (a retried delivery may be published again)"""


@dataclass
class CoreSender:
    """Posts every version of ``entries`` entries to ingest, paced over ``spread_s`` seconds."""

    ingest_url: str
    workspace: str
    secret: str
    entries: int
    versions: int
    spread_s: float
    deadline_s: float
    who: Who = field(default_factory=Who)
    stats: LoadStats = field(default_factory=LoadStats)

    async def run(self) -> LoadStats:
        deadline = time.monotonic() + self.deadline_s
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=15, limits=limits) as http:
            await asyncio.gather(*(self._entry(http, n, deadline) for n in range(self.entries)))
        return self.stats

    async def _entry(self, http: httpx.AsyncClient, n: int, deadline: float) -> None:
        await asyncio.sleep(self.spread_s * n / self.entries)
        for version in versions_of(n, self.versions):
            if not await self._deliver(http, version, deadline):
                self.stats.gave_up.append(version.delivery)
                return  # a later version must not overtake one never accepted
            await asyncio.sleep(random.uniform(0.2, 1.0))

    async def _deliver(self, http: httpx.AsyncClient, version: Version, deadline: float) -> bool:
        body = body_of(self.workspace, version, self.who)
        delay = 0.5
        while time.monotonic() < deadline:
            self.stats.attempts += 1
            try:
                response = await http.post(
                    f"{self.ingest_url}/v1/webhooks/core/{self.workspace}",
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "Core-Signature": sign(self.secret, int(time.time()), body),
                    },
                )
                status = str(response.status_code)
            except httpx.TransportError as exc:
                status, response = type(exc).__name__, None
            self.stats.statuses[status] += 1
            if response is not None and response.status_code == 503:
                self.stats.without_retry_after += "retry-after" not in response.headers
            if response is not None and response.status_code == 202:
                self.stats.accepted += 1
                self.stats.event_ids[version.delivery] = response.json()["event_id"]
                self.stats.accepted_versions[version.entry] = version
                return True
            self.stats.retried += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)
        return False
