"""The conformance suite (``timebridge_providers.kit.conformance``) for Xero Projects against its
sandbox, in-process, every request and answer validated against Xero's OpenAPI description
(``xero-projects.yaml``); plus what Xero adds: the seeds' lower-case paths, the minute limit's
``429`` with ``X-Rate-Limit-Problem``, the ``Idempotency-Key`` replay, ``modelState`` errors, an
entry on a non-chargeable task read as not billable.

The :class:`XeroProjectsControl` is a Xero user working through the Projects API with their own
access token. Xero publishes a Python SDK (xero-python) with a Projects client, but it is not a
dependency of this repository (see the report); our client and the control speak the spec.
"""

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, Rig, Scenario, Work
from timebridge_providers.kit.conformance.running import Polled, answering_client, run
from timebridge_providers.kit.ports.entries import EntryLockedError, Slot, Write

from timebridge_common.events import TimeEntryFields
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.harvest_openapi import SpecCheckingTransport
from timebridge_sandboxes.testing import TimeoutTransport, provider_specs
from timebridge_sandboxes.xero_projects import (
    XeroProjectsState,
    create_xero_projects_sandbox,
    demo_xero_projects,
)
from timebridge_sandboxes.xero_projects.spec import SPEC_NAME, UNDOCUMENTED, xero_projects_openapi

TIMEOUT_S = 1.0
BASE = "http://xero-projects.test"
API = f"{BASE}/projects.xro/2.0"


@dataclass
class XeroProjectsControl(Polled):
    state: XeroProjectsState
    http: httpx.AsyncClient
    token: str

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Xero-Tenant-Id": self.state.tenant_id}

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.http.request(method, API + path, json=body, headers=self._headers())
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def _project_of(self, entry_id: str) -> str:
        return self.state.entries[entry_id].project_id

    def count(self) -> int:
        return len(self.state.entries)

    async def add(self, fields: TimeEntryFields) -> str:
        assert fields.started_at is not None
        body = {
            "userId": fields.user.external_id,
            "taskId": fields.task_external_id,
            "dateUtc": fields.started_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "duration": fields.duration_seconds // 60,
            "description": fields.notes,
        }
        made = await self._call("POST", f"/Projects/{fields.project_external_id}/Time", body)
        return f"{made['projectId']}:{made['timeEntryId']}"

    async def edit(self, external_id: str, notes: str) -> None:
        project, entry_id = external_id.split(":")
        now = await self._call("GET", f"/Projects/{project}/Time/{entry_id}")
        body = {k: now[k] for k in ("userId", "taskId", "dateUtc", "duration")}
        await self._call(
            "PUT", f"/Projects/{project}/Time/{entry_id}", {**body, "description": notes}
        )

    async def remove(self, external_id: str) -> None:
        project, entry_id = external_id.split(":")
        await self._call("DELETE", f"/Projects/{project}/Time/{entry_id}")

    async def lock(self, external_id: str) -> None:
        entry_id = external_id.rsplit(":", maxsplit=1)[-1]
        answer = await self.http.post(f"{BASE}/_sandbox/time/{entry_id}/invoice")
        assert answer.is_success, answer.text

    def limit_pages(self, size: int) -> bool:
        self.state.max_page_size = size
        return True

    no_webhooks = "Xero sends no webhooks for projects"

    @property
    def account(self) -> str:
        return self.state.tenant_id


@dataclass
class Built:
    rig: Rig
    state: XeroProjectsState
    http: httpx.AsyncClient
    checker: SpecCheckingTransport
    tokens: dict[str, str]

    def spec_clean(self) -> None:
        """Every exchange matched the spec, except answers whose status it does not document."""
        assert self.checker.checked > 0
        for status in UNDOCUMENTED:
            self.checker.take(f"answer {status} to ")
        assert self.checker.problems == [], "\n".join(self.checker.problems)


async def xero_projects_rig(minute: RateLimit | None = None) -> Built:
    state, tokens = demo_xero_projects("conformance-ann-signature", "conformance-max-signature")
    checker = SpecCheckingTransport(
        TimeoutTransport(create_xero_projects_sandbox(state, minute=minute), TIMEOUT_S),
        xero_projects_openapi(provider_specs(), BASE),
    )
    answers: list[int] = []

    http = answering_client(checker, answers)
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    project = next(iter(state.projects.values()))
    task = next(t for t in state.tasks.values() if t.name == "Fix the login page")
    control = XeroProjectsControl(state, http, tokens[ann.email])
    rig = Rig(
        provider=registry().get("xero_projects"),
        base_url=API,
        sandbox_url=BASE,
        credential=tokens[ann.email],
        http=http,
        control=control,
        work=Work(ann.user_id, ann.email, project.project_id, task.task_id, state.timezone),
        extra={"tenant": state.tenant_id, "timezone": state.timezone},
        answers=answers,
    )
    return Built(rig, state, http, checker, tokens)


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    if not (provider_specs() / SPEC_NAME).exists():
        pytest.skip(f"the provider specs are not at {provider_specs()}")
    made = await xero_projects_rig()
    yield made
    await made.http.aclose()


NOT_OFFERED = {"webhook_signatures"}
"""Xero sends no webhooks for projects: it is polled."""


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_xero_projects_conformance(built: Built, scenario: Scenario) -> None:
    if reason := await run(scenario, built.rig, NOT_OFFERED):
        pytest.skip(reason)
    built.spec_clean()


def _headers(built: Built, email: str = "ann@example.com") -> dict[str, str]:
    return {
        "Authorization": f"Bearer {built.tokens[email]}",
        "Xero-Tenant-Id": built.state.tenant_id,
    }


async def test_the_seeds_lower_case_paths_are_the_same_routes(built: Built) -> None:
    project = built.rig.work.project_id
    body = {
        "userId": built.rig.work.user_id,
        "taskId": built.rig.work.task_id,
        "dateUtc": "2026-11-10T09:00:00",
        "duration": 30,
    }
    # an http client outside the spec check: the spec spells the paths /Projects/{id}/Time
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(create_xero_projects_sandbox(built.state))
    ) as plain:
        made = await plain.post(
            f"{API}/projects/{project}/time", json=body, headers=_headers(built)
        )
        assert made.status_code == 200, made.text
        assert made.json()["dateUtc"] == "2026-11-10T09:00:00Z", "a moment without offset is UTC"
        listed = await plain.get(
            f"{API}/projects/{project.upper()}/time",
            params={
                "dateAfterUtc": "2026-11-10T00:00:00Z",
                "dateBeforeUtc": "2026-11-11T00:00:00Z",
            },
            headers=_headers(built),
        )
    assert [e["timeEntryId"] for e in listed.json()["items"]] == [made.json()["timeEntryId"]]


async def test_errors_in_xeros_shapes(built: Built) -> None:
    http, project = built.http, built.rig.work.project_id
    bad = await http.post(
        f"{API}/Projects/{project}/Time",
        json={"userId": built.rig.work.user_id, "taskId": built.rig.work.task_id, "duration": 0},
        headers=_headers(built),
    )
    assert bad.status_code == 400
    assert set(bad.json()["modelState"]) == {"duration"}
    nul = await http.post(
        f"{API}/Projects/{project}/Time", content=b"\x00", headers=_headers(built)
    )
    assert nul.status_code == 400
    assert "message" in nul.json()
    unknown = await http.get(f"{API}/ProjectsUsers", headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401
    assert unknown.json()["Title"] == "Unauthorized"
    other = await http.get(
        f"{API}/ProjectsUsers", headers={**_headers(built), "Xero-Tenant-Id": "someone-else"}
    )
    assert other.status_code == 403
    assert built.state.entries == {}, "nothing stored"
    deliberate = built.checker.take("request ")
    assert len(deliberate) == 3, "the spec check saw the bad bodies and the missing tenant"
    built.spec_clean()


async def test_the_minute_limit_answers_429_naming_the_problem() -> None:
    made = await xero_projects_rig(minute=RateLimit(2, 60.0))
    try:
        http, headers = made.http, _headers(made)
        for _ in range(2):
            assert (await http.get(f"{API}/ProjectsUsers", headers=headers)).status_code == 200
        refused = await http.get(f"{API}/ProjectsUsers", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["X-Rate-Limit-Problem"] == "minute"
        assert int(refused.headers["Retry-After"]) >= 1
    finally:
        await made.http.aclose()


async def test_a_repeated_idempotency_key_gets_the_first_answer(built: Built) -> None:
    project = built.rig.work.project_id
    body = {
        "userId": built.rig.work.user_id,
        "taskId": built.rig.work.task_id,
        "dateUtc": "2026-11-10T09:00:00Z",
        "duration": 30,
    }
    headers = {**_headers(built), "Idempotency-Key": "same-key"}
    first = await built.http.post(f"{API}/Projects/{project}/Time", json=body, headers=headers)
    again = await built.http.post(f"{API}/Projects/{project}/Time", json=body, headers=headers)
    assert first.json() == again.json()
    assert len(built.state.entries) == 1
    built.spec_clean()


async def test_time_on_a_non_chargeable_task_is_read_as_not_billable(built: Built) -> None:
    rig = built.rig
    meetings = next(t for t in built.state.tasks.values() if t.name == "Meetings")
    fields = rig.fields(dt.date(2026, 11, 11), dt.time(9), 1800, "stand-up")
    fields = fields.model_copy(update={"task_external_id": meetings.task_id})
    external_id = await rig.control.add(fields)
    assert rig.provider.entries is not None
    read = await rig.provider.entries(rig.session()).read(Slot("xero_projects", "k", external_id))
    assert read is not None
    assert read.fields.billable is False
    assert read.billable_by == "task"
    built.spec_clean()


async def test_an_invoiced_entry_cannot_be_deleted(built: Built) -> None:
    rig = built.rig
    external_id = await rig.control.add(rig.fields(dt.date(2026, 11, 12), dt.time(9), 600, "x"))
    await rig.control.lock(external_id)
    assert rig.provider.entries is not None
    store = rig.provider.entries(rig.session())
    slot = Slot("xero_projects", "k", external_id)
    current = await store.read(slot)
    with pytest.raises(EntryLockedError):
        await store.write(slot, Write("delete", None, current, "k:delete"))
    assert len(built.state.entries) == 1
