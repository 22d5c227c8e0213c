"""The Core and Everhour sandboxes on loopback and the admin's setup through the services' APIs.

The services run as processes, so the sandboxes are served over real HTTP (in the test's
process, whose state the test then reads): ingest reaches Everhour to test the key and register
its webhook, mapping reads users and tickets, the conflict-resolver writes the records, and
Everhour delivers its webhooks (the echoes of those writes) to ingest's real port.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import serve

ANN_CORE = "fault-suite-ann-core-token"
SERVICE = "fault-suite-core-service-token"
ANN_KEY = "fault-suite-everhour-key"
TITLE = "Fix the login page"


@dataclass
class Sandboxes:
    workspace: str
    core: CoreState
    everhour: EverhourState
    core_url: str
    everhour_url: str
    ann: str
    project: str
    ticket: str
    everhour_project: str
    task: str


@contextlib.asynccontextmanager
async def sandboxes(workspace: str) -> AsyncIterator[Sandboxes]:
    """Ann, a project and a ticket in Core; Ann (same email), the project and its task in
    Everhour; neither limits the rate (the services' own budgets are what is exercised)."""
    core, everhour = CoreState(), EverhourState()
    ann = core.add_user(workspace, "Ann", email="ann@acme.test", role="admin", token=ANN_CORE)
    core.add_service_token(workspace, SERVICE)
    project = core.add_project(workspace, "Website")
    ticket = core.add_ticket(workspace, TITLE, project_id=project)
    everhour.add_user("Ann", api_key=ANN_KEY, email="ann@acme.test")
    everhour_project = everhour.add_project("Website")
    task = everhour.add_task(everhour_project, TITLE)
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10**6, 1))
    everhour_app = create_everhour_sandbox(everhour, rate_limit=RateLimit(10**6, 10))
    async with serve(core_app) as core_url, serve(everhour_app) as everhour_url:
        yield Sandboxes(
            workspace,
            core,
            everhour,
            core_url,
            everhour_url,
            ann,
            project,
            ticket,
            everhour_project,
            task,
        )


async def connect(
    boxes: Sandboxes, ingest_url: str, mapping_url: str, admin_token: str, webhook_secret: str
) -> str:
    """What the admin does: Core's webhook secret and service token, Connect Everhour, map the
    project (users match by email). Returns the integration id."""
    ws = boxes.workspace
    admin = {"authorization": f"Bearer {admin_token}"}
    ann = {"authorization": f"Bearer {ANN_CORE}"}
    async with httpx.AsyncClient(timeout=30) as http:
        put = await http.put(
            f"{ingest_url}/v1/admin/workspaces/{ws}/webhook-secrets/core",
            json={"secret": webhook_secret},
            headers=admin,
        )
        assert put.status_code == 204, put.text
        put = await http.put(
            f"{ingest_url}/v1/admin/workspaces/{ws}",
            json={"core_base_url": boxes.core_url, "core_api_token": SERVICE},
            headers=admin,
        )
        assert put.status_code == 200, put.text
        connected = await http.post(
            f"{ingest_url}/v1/workspaces/{ws}/integrations",
            json={
                "provider": "everhour",
                "api_key": ANN_KEY,
                "settings": {
                    "direction": "two_way",
                    "frequency": "realtime",
                    "unmapped_user_policy": "queue",
                    "conflict_policy": "manual_review",
                },
            },
            headers=ann,
        )
        assert connected.status_code == 201, connected.text
        integration: str = connected.json()["integration_id"]
        deadline = time.monotonic() + 60
        while True:  # until mapping has its copy of the new connection
            mapped = await http.put(
                f"{mapping_url}/v1/workspaces/{ws}/integrations/{integration}"
                f"/project-mappings/{boxes.project}",
                json={"tracker_project_id": boxes.everhour_project},
                headers=ann,
            )
            if mapped.status_code == 200:
                return integration
            assert time.monotonic() < deadline, mapped.text
            await asyncio.sleep(0.5)
