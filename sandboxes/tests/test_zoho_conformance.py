"""The conformance suite (``timebridge_providers.kit.conformance``) for Zoho Projects against its
sandbox, in-process; plus what Zoho adds: parameters as form fields or in the query, ``204`` for
an empty list, ``{"error": {"code", "message"}}`` bodies, the per-user limit's ``429``.

The :class:`ZohoControl` is a Zoho user working through the REST API with their own OAuth token
(form-encoded, as Zoho's examples send). No OpenAPI description of Zoho Projects is in
``shared/provider-specs`` (nothing to validate against), and Zoho publishes no Python SDK for
Projects on PyPI.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, Rig, Scenario, Work
from timebridge_providers.kit.conformance.running import Polled, answering_client, run

from timebridge_common.events import TimeEntryFields
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import TimeoutTransport
from timebridge_sandboxes.zoho import ZohoState, create_zoho_sandbox, demo_zoho

TIMEOUT_S = 1.0
BASE = "http://zoho.test"
API = f"{BASE}/restapi"
ZONE = "Asia/Kolkata"


@dataclass
class ZohoControl(Polled):
    state: ZohoState
    http: httpx.AsyncClient
    token: str

    def _path(self, external_id: str) -> str:
        project, task, log = external_id.split(":")
        return f"{API}/portal/{self.state.portal_id}/projects/{project}/tasks/{task}/logs/{log}/"

    async def _call(self, method: str, url: str, form: dict[str, str] | None = None) -> Any:
        headers = {"Authorization": f"Zoho-oauthtoken {self.token}"}
        answer = await self.http.request(method, url, data=form, headers=headers)
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def count(self) -> int:
        return len(self.state.logs)

    async def add(self, fields: TimeEntryFields) -> str:
        minutes = fields.duration_seconds // 60
        form = {
            "date": fields.date.strftime("%m-%d-%Y"),
            "bill_status": "Billable" if fields.billable else "Non Billable",
            "hours": f"{minutes // 60:02d}:{minutes % 60:02d}",
            "owner": fields.user.external_id,
            "notes": fields.notes,
        }
        project, task = fields.project_external_id, fields.task_external_id
        url = f"{API}/portal/{self.state.portal_id}/projects/{project}/tasks/{task}/logs/"
        made = await self._call("POST", url, form)
        return f"{project}:{task}:{made['timelogs']['tasklogs'][0]['id']}"

    async def edit(self, external_id: str, notes: str) -> None:
        log = self.state.logs[int(external_id.split(":")[2])]
        form = {
            "date": log.day.strftime("%m-%d-%Y"),
            "bill_status": log.bill_status,
            "hours": f"{log.minutes // 60:02d}:{log.minutes % 60:02d}",
            "notes": notes,
        }
        await self._call("POST", self._path(external_id), form)

    async def remove(self, external_id: str) -> None:
        await self._call("DELETE", self._path(external_id))

    async def lock(self, external_id: str) -> None:
        await self._call(
            "POST", self._path(external_id) + "approval", {"approval_status": "Approved"}
        )

    def limit_pages(self, size: int) -> bool:
        return False  # time logs are listed by day, week or month, not paged

    no_webhooks = "Zoho Projects is polled here"

    @property
    def account(self) -> str:
        return str(self.state.portal_id)


@dataclass
class Built:
    rig: Rig
    state: ZohoState
    http: httpx.AsyncClient


async def zoho_rig(limit: RateLimit | None = None) -> Built:
    state = demo_zoho("conformance-zoho-ann", "conformance-zoho-max")
    answers: list[int] = []

    http = answering_client(
        TimeoutTransport(create_zoho_sandbox(state, limit=limit), TIMEOUT_S), answers
    )
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    project = next(iter(state.projects.values()))
    task = next(iter(state.tasks.values()))
    rig = Rig(
        provider=registry().get("zoho"),
        base_url=API,
        sandbox_url=BASE,
        credential=ann.token,
        http=http,
        control=ZohoControl(state, http, ann.token),
        work=Work(str(ann.id), ann.email, str(project.id), str(task.id), ZONE),
        extra={"portal_id": str(state.portal_id), "timezone": ZONE},
        answers=answers,
    )
    return Built(rig, state, http)


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    made = await zoho_rig()
    yield made
    await made.http.aclose()


NOT_OFFERED = {"webhook_signatures"}
"""Zoho's webhooks are unsigned and made in its UI per portal: polled instead."""


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_zoho_conformance(built: Built, scenario: Scenario) -> None:
    if reason := await run(scenario, built.rig, NOT_OFFERED):
        pytest.skip(reason)


def _auth(built: Built) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {built.rig.credential}"}


async def test_parameters_in_the_query_or_the_form_and_204_for_nothing(built: Built) -> None:
    state, work = built.state, built.rig.work
    base = f"{API}/portal/{state.portal_id}/projects/{work.project_id}"
    params = {"date": "11-10-2026", "bill_status": "Billable", "hours": "00:30", "notes": "q"}
    by_query = await built.http.post(
        f"{base}/tasks/{work.task_id}/logs/", params=params, headers=_auth(built)
    )
    assert by_query.status_code == 201, by_query.text
    by_form = await built.http.post(
        f"{base}/tasks/{work.task_id}/logs/", data=params, headers=_auth(built)
    )
    assert by_form.status_code == 201, by_form.text
    listing = {"users_list": "all", "view_type": "week", "component_type": "task"}
    week = await built.http.get(
        f"{base}/logs/", params={**listing, "date": "11-12-2026"}, headers=_auth(built)
    )
    assert week.json()["timelogs"]["grandtotal"] == "01:00"
    empty = await built.http.get(
        f"{base}/logs/", params={**listing, "date": "01-12-2026"}, headers=_auth(built)
    )
    assert empty.status_code == 204


async def test_errors_in_zohos_shape(built: Built) -> None:
    state, work = built.state, built.rig.work
    url = f"{API}/portal/{state.portal_id}/projects/{work.project_id}/tasks/{work.task_id}/logs/"
    bad_hours = await built.http.post(
        url, data={"date": "11-10-2026", "bill_status": "Billable", "hours": "1.5"},
        headers=_auth(built),
    )  # fmt: skip
    assert bad_hours.status_code == 400
    assert bad_hours.json()["error"]["code"] == 6832
    missing = await built.http.post(url, data={"hours": "01:00"}, headers=_auth(built))
    assert missing.json()["error"]["code"] == 6831
    nul = await built.http.post(url, params={"notes": "\x00"}, headers=_auth(built))
    assert nul.status_code == 400
    unknown = await built.http.get(
        f"{API}/portals/", headers={"Authorization": "Zoho-oauthtoken x"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == 6401
    assert state.logs == {}, "nothing stored"


async def test_the_per_user_limit_answers_429() -> None:
    made = await zoho_rig(limit=RateLimit(2, 120.0))
    try:
        headers = {"Authorization": f"Zoho-oauthtoken {made.rig.credential}"}
        for _ in range(2):
            assert (await made.http.get(f"{API}/portals/", headers=headers)).status_code == 200
        refused = await made.http.get(f"{API}/portals/", headers=headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == 6403
    finally:
        await made.http.aclose()
