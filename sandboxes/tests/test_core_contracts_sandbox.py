"""The Core sandbox's contracts and milestones, as docs/contracts/core.md describes them.

A draft is announced (``contract.changed``), signed once (``contract.signed``), its terms then
frozen (``423``) while its status and end may still change; a milestone is reached once
(``project.milestone_reached``). Every delivery is signed; contracts are read by admins only.
"""

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from timebridge_providers.core.webhooks import verify_signature

from timebridge_sandboxes.core import CoreState, Webhooks, create_core_sandbox

WS, SECRET, ADMIN, MEMBER = "acme", "whsec-9f1", "ct-admin-1", "ct-member-1"


class Receiver:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        now = dt.datetime.now(dt.UTC)
        verify_signature(
            SECRET, request.headers.get("core-signature"), body, now=now, tolerance_s=5
        )
        self.payloads.append(json.loads(body))
        return Response(status_code=202)


@pytest.fixture
async def core() -> tuple[httpx.AsyncClient, Receiver, Webhooks, str]:
    receiver = Receiver()
    webhooks = Webhooks(httpx.ASGITransport(receiver.app), attempts=1)
    state = CoreState()
    state.add_user(WS, "Ann", role="admin", token=ADMIN)
    state.add_user(WS, "Max", token=MEMBER)
    project = state.add_project(WS, "Website")
    app = create_core_sandbox(state, webhooks=webhooks)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://core.test")
    subscribed = await http.put(
        f"/_sandbox/workspaces/{WS}/webhook",
        json={"url": "http://ingest.test/hook", "secret": SECRET},
    )
    assert subscribed.status_code == 200
    return http, receiver, webhooks, project


async def test_a_contract_is_drafted_signed_once_and_frozen(core: Any) -> None:
    http, receiver, webhooks, project = core
    draft = {
        "title": "Website 2027",
        "client": {"id": "cu_1", "name": "Globex"},
        "currency": "EUR",
        "starts_on": "2027-01-01",
        "project_ids": [project],
    }
    made = (await http.post(f"/_sandbox/workspaces/{WS}/contracts", json=draft)).json()
    assert (made["status"], made["signed_at"], made["version"]) == ("draft", None, 1)
    signed = (await http.post(f"/_sandbox/contracts/{made['id']}/sign")).json()
    assert signed["status"] == "signed"
    assert signed["signed_at"] is not None
    again = await http.post(f"/_sandbox/contracts/{made['id']}/sign")
    assert again.status_code == 422
    frozen = await http.patch(f"/_sandbox/contracts/{made['id']}", json={"currency": "USD"})
    assert (frozen.status_code, frozen.json()["error"]["code"]) == (423, "locked")
    active = await http.patch(
        f"/_sandbox/contracts/{made['id']}", json={"status": "active", "ends_on": "2027-12-31"}
    )
    assert (active.json()["status"], active.json()["version"]) == ("active", 3)
    bad = await http.post(
        f"/_sandbox/workspaces/{WS}/contracts", json=draft | {"project_ids": ["p_x"]}
    )
    assert bad.status_code == 422
    await webhooks.drain()

    assert [p["type"] for p in receiver.payloads] == [
        "contract.changed",
        "contract.signed",
        "contract.changed",
    ]
    assert [p["data"]["contract"]["version"] for p in receiver.payloads] == [1, 2, 3]
    assert receiver.payloads[1]["data"]["contract"] == signed
    assert {p["workspace_id"] for p in receiver.payloads} == {WS}

    # REST: admins read contracts (changed since a time, one by id); members may not
    admin = {"authorization": f"Bearer {ADMIN}"}
    listed = (await http.get("/contracts", headers=admin)).json()
    assert [c["id"] for c in listed["data"]] == [made["id"]]
    since = {"updated_since": active.json()["updated_at"]}
    assert len((await http.get("/contracts", headers=admin, params=since)).json()["data"]) == 1
    assert (await http.get(f"/contracts/{made['id']}", headers=admin)).json() == active.json()
    member = {"authorization": f"Bearer {MEMBER}"}
    assert (await http.get("/contracts", headers=member)).status_code == 403


async def test_a_milestone_is_reached_once(core: Any) -> None:
    http, receiver, webhooks, project = core
    made = await http.post(
        f"/_sandbox/projects/{project}/milestones", json={"name": "Beta", "due_on": "2027-03-01"}
    )
    assert made.status_code == 201
    milestone = made.json()
    assert milestone["reached_at"] is None
    reached = (await http.post(f"/_sandbox/milestones/{milestone['id']}/reach")).json()
    assert reached["reached_at"] is not None
    assert (await http.post(f"/_sandbox/milestones/{milestone['id']}/reach")).status_code == 422
    await webhooks.drain()
    assert [(p["type"], p["data"]["milestone"]) for p in receiver.payloads] == [
        ("project.milestone_reached", reached)
    ]
    listed = await http.get(
        f"/projects/{project}/milestones", headers={"authorization": f"Bearer {MEMBER}"}
    )
    assert listed.json()["data"] == [reached]
