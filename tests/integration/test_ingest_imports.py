"""History imports on the real broker, PostgreSQL and the Everhour sandbox (ingest alone).

Ann's Everhour account holds time logged before the integration existed. An admin asks ingest
for a backfill of September through its API: the run covers the period window by window, the
progress read while it runs moves forward (days covered, entries found), and it ends with
exactly the records Everhour holds for the period, each published once as ``TimeEntryLogged`` of
the integration (read back from Kafka). A second request while one runs is refused (409); a
member of the workspace may not start one (403). ~10 s.
"""

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from timebridge_common.events import TimeEntryLogged
from timebridge_common.events.codec import decode
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import end_offsets, read_topic

from .conftest import KAFKA, unique
from .platform import CORE_URL, PlatformBuilder

pytestmark = pytest.mark.integration

ADMIN, MEMBER, SERVICE = "core-admin-imports", "core-member-imports", "core-service-imports"
PLATFORM_ADMIN = "platform-admin-imports"
EVERHOUR_KEY = "everhour-key-imports"
SEPTEMBER = [dt.date(2026, 9, d) for d in (1, 2, 9, 10, 17, 24, 30)]
OUTSIDE = [dt.date(2026, 8, 31), dt.date(2026, 10, 1)]


class Rig:
    def __init__(self, builder: PlatformBuilder, workspace: str, urls: dict[str, Any]) -> None:
        self.builder, self.workspace, self.apps = builder, workspace, urls

    def ingest(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.apps["ingest"]),
            base_url="http://ingest",
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )


@pytest.fixture(scope="module")
async def rig(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Rig]:
    builder = PlatformBuilder("imports", create_database, make_pool)
    workspace = unique("ws-imports")
    builder.core.add_user(workspace, "Ann", email="ann@acme.test", role="admin", token=ADMIN)
    builder.core.add_user(workspace, "Mo", email="mo@acme.test", role="member", token=MEMBER)
    builder.core.add_service_token(workspace, SERVICE)
    builder.everhour.add_user("Ann", api_key=EVERHOUR_KEY, email="ann@acme.test")
    project = builder.everhour.add_project("Website")
    task = builder.everhour.add_task(project, "Discovery workshop")
    await builder.add_ingest(admin_token=PLATFORM_ADMIN)
    async with builder.running(topics) as services:
        built = Rig(builder, workspace, {"ingest": services["ingest"].app})
        built.apps["importer"] = getattr(services["ingest"], "imports", None)
        built.apps["task"] = task
        async with built.ingest(PLATFORM_ADMIN) as ingest:
            put = await ingest.put(
                f"/v1/admin/workspaces/{workspace}",
                json={"core_base_url": CORE_URL, "core_api_token": SERVICE},
            )
            assert put.status_code == 200, put.text
        yield built


async def log_in_everhour(rig: Rig, day: dt.date) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=rig.builder.everhour_app), base_url="http://everhour"
    ) as everhour:
        answer = await everhour.post(
            f"/tasks/{rig.apps['task']}/time",
            headers={"X-Api-Key": EVERHOUR_KEY},
            json={"time": 1800, "date": day.isoformat(), "comment": f"Earlier work {day}"},
        )
    assert answer.status_code == 201, answer.text


async def test_a_backfill_covers_its_period_and_reports_real_progress(rig: Rig) -> None:
    started = time.monotonic()
    for day in SEPTEMBER + OUTSIDE:
        await log_in_everhour(rig, day)
    ws = rig.workspace
    async with rig.ingest(ADMIN) as ingest:
        connected = await ingest.post(
            f"/v1/workspaces/{ws}/integrations",
            json={
                "provider": "everhour",
                "api_key": EVERHOUR_KEY,
                "settings": {"direction": "tracker_to_core", "frequency": "daily"},
            },
        )
        assert connected.status_code == 201, connected.text
        integration = connected.json()["integration_id"]
        path = f"/v1/workspaces/{ws}/integrations/{integration}/imports"
        async with rig.ingest(MEMBER) as member:
            refused = await member.post(path, json={"from": "2026-09-01", "to": "2026-09-30"})
            assert refused.status_code == 403, refused.text
        start = await end_offsets(KAFKA, TimeEntryLogged.topic())
        rig.apps["importer"].pause_s = 0.3  # so the progress can be read between windows
        try:
            asked = await ingest.post(path, json={"from": "2026-09-01", "to": "2026-09-30"})
            assert asked.status_code == 202, asked.text
            run = asked.json()
            assert (run["state"], run["percent"], run["days_total"], run["windows_total"]) == (
                "queued",
                0,
                30,
                5,
            )
            again = await ingest.post(path, json={"from": "2026-08-01"})
            assert again.status_code == 409, again.text
            seen: list[tuple[int, int, int]] = []
            deadline = time.monotonic() + 60
            while True:
                got = await ingest.get(f"{path}/{run['import_id']}")
                assert got.status_code == 200, got.text
                now = got.json()
                progress = (now["percent"], now["days_done"], now["entries_observed"])
                if not seen or seen[-1] != progress:
                    seen.append(progress)
                if now["state"] == "done":
                    break
                assert now["state"] in ("queued", "running"), now
                assert time.monotonic() < deadline, f"not done: {now}"
                await asyncio.sleep(0.1)
        finally:
            rig.apps["importer"].pause_s = 0.0
        assert seen == sorted(seen), seen
        assert any(0 < p < 100 for p, _, _ in seen), seen
        assert seen[-1] == (100, 30, len(SEPTEMBER))
        assert now["windows_done"] == 5
        assert now["started_at"] is not None
        assert now["finished_at"] is not None
        listed = await ingest.get(path)
        assert [r["import_id"] for r in listed.json()] == [run["import_id"]]

    def mine(records: list[Any]) -> list[TimeEntryLogged]:
        events = [decode(decode_headers(r.headers), r.value, TimeEntryLogged)[1] for r in records]
        return [e for e in events if e.integration_id == integration]

    records = await read_topic(KAFKA, start, until=lambda rs: len(mine(rs)) >= len(SEPTEMBER))
    published = mine(records)
    assert sorted(e.entry.date for e in published) == SEPTEMBER
    assert {e.source for e in published} == {"everhour"}
    print(f"backfill integration test: {time.monotonic() - started:.1f} s")
