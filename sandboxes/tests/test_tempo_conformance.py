"""The conformance suite (``timebridge_providers.kit.conformance``) for Jira Tempo against its
sandbox, in-process; plus what Tempo adds: ``metadata.next`` pages followed, an approved
timesheet refused on delete too, billable seconds kept per worklog, the error body's message.

The :class:`TempoControl` is a Tempo user working through Tempo Cloud's API v4 with their own
token. No OpenAPI description of Tempo is in ``../shared/provider-specs`` (nothing to validate
against), and Tempo publishes no official Python SDK.
"""

import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, Rig, Scenario, Work
from timebridge_providers.kit.conformance.running import Polled, answering_client, run
from timebridge_providers.kit.ports.entries import EntryLockedError, Slot, Write
from timebridge_providers.tempo.client import TempoClient

from timebridge_common.events import TimeEntryFields
from timebridge_common.outbound.http import AuthenticationError
from timebridge_sandboxes.tempo import TempoState, create_tempo_sandbox, demo_tempo
from timebridge_sandboxes.tempo.state import User
from timebridge_sandboxes.testing import TimeoutTransport

TIMEOUT_S = 1.0
BASE = "http://tempo.test"


@dataclass
class TempoControl(Polled):
    state: TempoState
    http: httpx.AsyncClient
    token: str
    zone: str

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.http.request(
            method, f"{BASE}/4{path}", json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def count(self) -> int:
        return len(self.state.worklogs)

    async def add(self, fields: TimeEntryFields) -> str:
        assert fields.started_at is not None
        local = fields.started_at.astimezone(zoneinfo.ZoneInfo(self.zone))
        body = {
            "issueId": int(fields.task_external_id or 0),
            "authorAccountId": fields.user.external_id,
            "startDate": local.date().isoformat(),
            "startTime": local.strftime("%H:%M:%S"),
            "timeSpentSeconds": fields.duration_seconds,
            "billableSeconds": fields.duration_seconds if fields.billable else 0,
            "description": fields.notes,
        }
        return str((await self._call("POST", "/worklogs", body))["tempoWorklogId"])

    async def edit(self, external_id: str, notes: str) -> None:
        worklog = await self._call("GET", f"/worklogs/{external_id}")
        body = {
            "issueId": worklog["issue"]["id"],
            "authorAccountId": worklog["author"]["accountId"],
            "startDate": worklog["startDate"],
            "startTime": worklog["startTime"],
            "timeSpentSeconds": worklog["timeSpentSeconds"],
            "billableSeconds": worklog["billableSeconds"],
            "description": notes,
        }
        await self._call("PUT", f"/worklogs/{external_id}", body)

    async def remove(self, external_id: str) -> None:
        await self._call("DELETE", f"/worklogs/{external_id}")

    async def lock(self, external_id: str) -> None:
        answer = await self.http.post(f"{BASE}/_sandbox/worklogs/{external_id}/approve")
        assert answer.is_success, answer.text

    def limit_pages(self, size: int) -> bool:
        self.state.page_cap = size
        return True

    no_webhooks = "Tempo Cloud sends no worklog webhooks"


def jira_fields(user: User) -> dict[str, str]:
    """The connection fields: Tempo's account and zone, and the Jira site (the same sandbox)."""
    return {
        "account_id": user.account_id,
        "timezone": user.timezone,
        "jira_site": BASE,
        "jira_email": user.email,
    }


def tempo_token(rig: Rig) -> str:
    """The Tempo half of the connection's key (``<Tempo token>|<Jira API token>``)."""
    return rig.credential.partition("|")[0]


@dataclass
class Built:
    rig: Rig
    state: TempoState
    http: httpx.AsyncClient


async def tempo_rig() -> Built:
    state = demo_tempo("conformance-tempo-token", "conformance-tempo-member")
    app = create_tempo_sandbox(state)
    answers: list[int] = []

    http = answering_client(TimeoutTransport(app, TIMEOUT_S), answers)
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    control = TempoControl(state, http, ann.token, ann.timezone)
    rig = Rig(
        provider=registry().get("tempo"),
        base_url=f"{BASE}/4",
        sandbox_url=BASE,
        credential=f"{ann.token}|{ann.jira_token}",
        http=http,
        control=control,
        work=Work(ann.account_id, ann.email, "10000", "10001", ann.timezone),
        extra=jira_fields(ann),
        answers=answers,
    )
    return Built(rig, state, http)


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    made = await tempo_rig()
    yield made
    await made.http.aclose()


NOT_OFFERED = {
    "webhook_signatures": "Tempo Cloud sends no worklog webhooks: it is polled",
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_tempo_conformance(built: Built, scenario: Scenario) -> None:
    if reason := await run(scenario, built.rig, NOT_OFFERED):
        pytest.skip(reason)


def _fields(rig: Rig, billable: bool) -> TimeEntryFields:
    fields = rig.fields(dt.date(2026, 11, 10), dt.time(13), 2700, "billable?")
    return fields.model_copy(update={"billable": billable})


async def test_billable_seconds_are_kept_per_worklog(built: Built) -> None:
    rig = built.rig
    assert rig.provider.entries is not None
    store = rig.provider.entries(rig.session())
    for billable in (True, False):
        fields = _fields(rig, billable)
        slot = rig.slot(fields)
        target = await store.write(slot, Write("create", fields, None, slot.key))
        assert target is not None
        worklog = built.state.worklogs[int(target)]
        assert worklog.billable_seconds == (2700 if billable else 0)
        read = await store.read(Slot(slot.system, slot.key, target))
        assert read is not None
        assert read.fields.billable is billable


async def test_an_approved_worklog_is_not_deleted(built: Built) -> None:
    rig = built.rig
    assert rig.provider.entries is not None
    store = rig.provider.entries(rig.session())
    fields = _fields(rig, True)
    slot = rig.slot(fields)
    target = await store.write(slot, Write("create", fields, None, slot.key))
    assert target is not None
    await rig.control.lock(target)
    with pytest.raises(EntryLockedError) as refused:
        await store.write(Slot(slot.system, slot.key, target), Write("delete", None, None, "d"))
    assert "approved" in refused.value.body
    assert int(target) in built.state.worklogs


async def test_pages_follow_metadata_next(built: Built) -> None:
    rig = built.rig
    for n in range(5):
        await rig.control.add(rig.fields(dt.date(2026, 11, 2 + n), dt.time(9), 600, f"p{n}"))
    built.state.page_cap = 2
    client = TempoClient(f"{BASE}/4", tempo_token(rig), http=rig.http)
    seen = [
        w.tempoWorklogId async for w in client.dated(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    ]
    assert len(seen) == 5
    assert len(set(seen)) == 5
    assert rig.answers[-3:] == [200, 200, 200], "three pages of two"


async def test_a_wrong_token_is_an_authentication_error_in_tempos_shape(built: Built) -> None:
    client = TempoClient(f"{BASE}/4", "not-a-token", http=built.rig.http)
    with pytest.raises(AuthenticationError) as refused:
        await client.worklog(1)
    assert '"errors"' in refused.value.body
    assert "message" in refused.value.body


async def test_the_report_splits_billable_seconds(built: Built) -> None:
    rig = built.rig
    assert rig.provider.report is not None
    day = dt.date(2026, 9, 7)
    billable = rig.fields(day, dt.time(9), 1800, "billable")
    await rig.control.add(billable)
    await rig.control.add(billable.model_copy(update={"billable": False, "notes": "not"}))
    [row] = await rig.provider.report(rig.session()).summary(day, day)
    assert (row.user_external_id, row.project_external_id) == (rig.work.user_id, None)
    assert (row.seconds, row.billable_seconds) == (3600, 1800)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/4/worklogs", b"\xff\xfe"),
        ("POST", "/4/worklogs", b"[1]"),
        ("POST", "/4/worklogs", b'{"issueId": 10001, "timeSpentSeconds": 60, "startTime": 12}'),
        ("GET", "/4/worklogs?offset=x", None),
        ("GET", "/4/worklogs?updatedFrom=nope", None),
        ("GET", "/4/worklogs?from=2026-01-01", None),
    ],
)
async def test_bad_requests_are_400_in_tempos_shape(
    built: Built, method: str, path: str, body: bytes | None
) -> None:
    answer = await built.http.request(
        method,
        f"{BASE}{path}",
        content=body,
        headers={"Authorization": f"Bearer {tempo_token(built.rig)}"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["message"]
    assert built.state.worklogs == {}
