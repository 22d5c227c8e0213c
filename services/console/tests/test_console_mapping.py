"""Project mapping and task links: the tracker's projects and the mapped projects' tasks are
picked from a list, as Core's projects are, and mapped rows show the tracker's names; when the
tracker cannot be listed the page takes a typed id.

The services are an ``httpx.MockTransport`` answering as their APIs do.
"""

import json
from typing import Any

import httpx

from timebridge_console.testing import console_client, signed_in, tracker_integration

WS, INTEGRATION = "acme", "int_1"
MAPPING = f"/v1/workspaces/{WS}/integrations/{INTEGRATION}"
PAGE = f"/w/{WS}/integrations/{INTEGRATION}/projects"


def services(tracker_listed: bool, sent: list[tuple[str, str, Any]]) -> httpx.MockTransport:
    integration = tracker_integration(WS, INTEGRATION, "everhour")
    routes: dict[tuple[str, str], Any] = {
        ("ingest", f"/v1/workspaces/{WS}/integrations"): [integration],
        ("ingest", f"/v1/workspaces/{WS}/integrations/{INTEGRATION}"): integration,
        ("mapping", f"/v1/workspaces/{WS}/providers"): [
            {"name": "everhour", "title": "Everhour", "kind": "tracker", "auth": "api_key"}
        ],
        ("mapping", f"{MAPPING}/project-mappings"): [
            {"core_project_id": "cp_1", "tracker_project_id": "tp:1"}
        ],
        ("invoice_export", f"/v1/workspaces/{WS}/projects"): [
            {"project_id": "cp_1", "name": "Website"},
            {"project_id": "cp_2", "name": "Shop"},
        ],
        ("mapping", f"{MAPPING}/task-links"): [
            {
                "core_ticket_id": "tk_1",
                "tracker_task_id": "tt:1",
                "tracker_project_id": "tp:1",
                "linked_by": "title",
            }
        ],
        ("mapping", f"{MAPPING}/tracker-tasks"): [
            {"id": "tt:1", "name": "Fix the login page", "project_id": "tp:1", "closed": False},
            {"id": "tt:2", "name": "Old task", "project_id": "tp:1", "closed": True},
        ],
        ("mapping", f"{MAPPING}/tracker-projects"): [
            {"id": "tp:1", "name": "Agency website", "closed": False},
            {"id": "tp:2", "name": "Agency shop", "closed": True},
        ],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        service = request.url.host.split(".")[0].replace("-", "_")
        if request.method != "GET":
            sent.append((service, request.url.path, json.loads(request.content or b"null")))
            return httpx.Response(200, json={})
        if request.url.path.endswith(("/tracker-projects", "/tracker-tasks")) and not (
            tracker_listed
        ):
            return httpx.Response(502, json={"detail": "Everhour could not be asked: 503"})
        found = routes.get((service, request.url.path))
        if found is None:
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json=found)

    return httpx.MockTransport(answer)


async def test_the_trackers_projects_are_picked_from_a_list_and_named_when_mapped() -> None:
    sent: list[tuple[str, str, Any]] = []
    async with console_client(services(True, sent)) as client:
        csrf = await signed_in(client, WS, PAGE)
        page = await client.get(PAGE)
        assert page.status_code == 200
        assert '<label for="tracker_project_id">Everhour project</label>' in page.text
        assert '<select id="tracker_project_id" name="tracker_project_id" required>' in page.text
        assert '<option value="tp:1">Agency website (tp:1)</option>' in page.text
        assert '<option value="tp:2">Agency shop (tp:2), closed</option>' in page.text
        assert 'Agency website <span class="muted">tp:1</span>' in page.text  # the mapped row
        saved = await client.post(
            PAGE,
            data={"csrf_token": csrf, "core_project_id": "cp_2", "tracker_project_id": "tp:2"},
        )
        assert saved.status_code == 303, saved.text
    assert sent == [("mapping", f"{MAPPING}/project-mappings/cp_2", {"tracker_project_id": "tp:2"})]


async def test_a_tracker_that_cannot_be_listed_leaves_the_typed_id() -> None:
    async with console_client(services(False, [])) as client:
        await signed_in(client, WS, PAGE)
        page = await client.get(PAGE)
        assert page.status_code == 200
        assert '<label for="tracker_project_id">Everhour project id</label>' in page.text
        assert '<input id="tracker_project_id" name="tracker_project_id" required' in page.text
        assert "Everhour's projects could not be listed just now" in page.text
        assert "<td>tp:1</td>" in page.text  # mapped, by its id alone
        assert '<select id="core_project_id"' in page.text  # Core's list still offered


async def test_the_mapped_projects_tasks_are_picked_from_a_list_and_named_when_linked() -> None:
    sent: list[tuple[str, str, Any]] = []
    tasks = f"/w/{WS}/integrations/{INTEGRATION}/tasks"
    async with console_client(services(True, sent)) as client:
        csrf = await signed_in(client, WS, tasks)
        page = await client.get(tasks)
        assert '<label for="tracker_task_id">Everhour task</label>' in page.text
        assert '<option value="tt:1">Fix the login page (tt:1)</option>' in page.text
        assert '<option value="tt:2">Old task (tt:2), closed</option>' in page.text
        assert 'Fix the login page <span class="muted">tt:1</span>' in page.text
        saved = await client.post(
            tasks, data={"csrf_token": csrf, "core_ticket_id": "tk_2", "tracker_task_id": "tt:2"}
        )
        assert saved.status_code == 303, saved.text
    assert sent == [("mapping", f"{MAPPING}/task-links/tk_2", {"tracker_task_id": "tt:2"})]


async def test_tasks_that_cannot_be_listed_leave_the_typed_id() -> None:
    tasks = f"/w/{WS}/integrations/{INTEGRATION}/tasks"
    async with console_client(services(False, [])) as client:
        await signed_in(client, WS, tasks)
        page = await client.get(tasks)
        assert page.status_code == 200
        assert '<label for="tracker_task_id">Everhour task id</label>' in page.text
        assert "could not be listed just now" in page.text
        assert "<td>tt:1</td>" in page.text
