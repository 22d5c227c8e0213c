"""The directories of Everhour and Core against their sandboxes, opened through the registry."""

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from timebridge_providers.core.directory import identity
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import ProviderClients
from timebridge_providers.kit.fakes.directory import FakeDirectory
from timebridge_providers.kit.ports.directory import Directory, Rates, TaskNotCreatableError
from timebridge_providers.kit.session import Access

from timebridge_common.outbound.http import NotFoundError, OutcomeUnknownError
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit

KEY, TOKEN = "ev-directory-key", "core-directory-token"


class _Router(httpx.AsyncBaseTransport):
    def __init__(self, apps: dict[str, Any]) -> None:
        self._apps = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._apps[request.url.host].handle_async_request(request)


@pytest.fixture
async def opened() -> AsyncIterator[tuple[EverhourState, CoreState, Callable[[str], Directory]]]:
    everhour, core = EverhourState(), CoreState()
    everhour.add_user("Ann", api_key=KEY, email="ann@example.test")
    core.add_service_token("w1", TOKEN)
    apps = {
        "everhour.sandbox": create_everhour_sandbox(everhour, rate_limit=RateLimit(10**6, 1)),
        "core.sandbox": create_core_sandbox(core, rate_limit=RateLimit(10**6, 1)),
    }
    clients = ProviderClients(transport=_Router(apps))
    accesses = {
        "everhour": Access("http://everhour.sandbox", KEY),
        "core": Access("http://core.sandbox", TOKEN),
    }

    def open_directory(name: str) -> Directory:
        factory = registry().get(name).directory
        assert factory is not None
        return factory(clients.session(name, accesses[name]))

    yield everhour, core, open_directory
    await clients.aclose()


async def test_everhour_lists_users_projects_and_tasks(
    opened: tuple[EverhourState, CoreState, Callable[[str], Directory]],
) -> None:
    everhour, _, open_directory = opened
    project = everhour.add_project("Website", billing="fixed_fee")
    task = everhour.add_task(project, "Design", status="closed")
    directory = open_directory("everhour")
    users = await directory.users()
    assert [(u.name, u.email) for u in users] == [("Ann", "ann@example.test")]
    found = await directory.project(project)
    assert (found.external_id, found.name, found.billing) == (project, "Website", "fixed_fee")
    assert [p.external_id async for p in directory.projects()] == [project]
    tasks = [t async for t in directory.tasks(project)]
    assert [(t.external_id, t.name, t.closed, t.project_ids) for t in tasks] == [
        (task, "Design", True, (project,))
    ]
    assert (await directory.task(task)).name == "Design"
    with pytest.raises(NotFoundError):
        await directory.task("ev:404")


async def test_everhour_creates_a_task_in_the_first_section_or_says_it_cannot(
    opened: tuple[EverhourState, CoreState, Callable[[str], Directory]],
) -> None:
    everhour, _, open_directory = opened
    directory = open_directory("everhour")
    bare = everhour.add_project("No sections")
    with pytest.raises(TaskNotCreatableError, match="no section"):
        await directory.create_task(bare, name="Fix it")
    project = everhour.add_project("Website")
    everhour.add_section(project, "First")
    second = everhour.add_section(project, "Second")
    everhour.sections[second].position = 0
    created = await directory.create_task(project, name="Fix it", description="Core ticket T-1")
    assert (created.name, created.project_ids) == ("Fix it", (project,))
    assert everhour.tasks[created.external_id].section == second


async def test_core_lists_users_projects_and_tickets_and_never_creates_one(
    opened: tuple[EverhourState, CoreState, Callable[[str], Directory]],
) -> None:
    _, core, open_directory = opened
    ann = core.add_user("w1", "Ann", email="ann@acme.test", role="admin", token="ann-token")
    project = core.add_project("w1", "Website")
    ticket = core.add_ticket("w1", "Fix the login", project_id=project, url="https://core/T")
    directory = open_directory("core")
    assert ann in [u.external_id for u in await directory.users()]
    assert (await directory.project(project)).name == "Website"
    with pytest.raises(NotFoundError):
        await directory.project("p_404")
    found = await directory.task(ticket)
    assert (found.name, found.project_ids, found.url) == (
        "Fix the login",
        (project,),
        "https://core/T",
    )
    assert [t.external_id async for t in directory.tasks(project)] == [ticket]
    with pytest.raises(TaskNotCreatableError):
        await directory.create_task(project, name="New")
    clients = ProviderClients(transport=_Router({"core.sandbox": create_core_sandbox(core)}))
    async with identity(clients)("http://core.sandbox", "ann-token") as client:
        me = await client.me()
    assert (me.workspace_id, me.user.id, me.user.role) == ("w1", ann, "admin")


async def test_the_fake_loses_an_answer_after_creating() -> None:
    fake = FakeDirectory(lose_next_create=1)
    with pytest.raises(OutcomeUnknownError):
        await fake.create_task("p1", name="Fix it")
    assert [t.name async for t in fake.tasks("p1")] == ["Fix it"]
    fake.cannot_create.add("p2")
    with pytest.raises(TaskNotCreatableError):
        await fake.create_task("p2", name="Other")


async def test_everhour_offers_its_rates_by_member_project_and_member_on_project() -> None:
    """Everhour's rates in cents, as its API shapes a team user and a project (the sandbox
    holds no rates, so the answers are Everhour-shaped JSON served by a mock transport)."""
    answers: dict[str, Any] = {
        "/team/users": [
            {"id": 1, "name": "Ann", "rate": 12050, "cost": 6000},
            {"id": 2, "name": "Bob"},
        ],
        "/projects": [
            {
                "id": "ev:1",
                "name": "Website",
                "billing": {"type": "hourly"},
                "rate": {
                    "type": "project_rate",
                    "rate": 10000,
                    "userRateOverrides": {"2": 15000},
                    "userCostOverrides": {"1": 7000},
                },
            },
            {"id": "ev:2", "name": "Internal", "billing": {"type": "non_billable"}},
        ],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[request.url.path])

    clients = ProviderClients(transport=httpx.MockTransport(answer))
    factory = registry().get("everhour").directory
    assert factory is not None
    directory = factory(clients.session("everhour", Access("http://everhour.mock", KEY)))
    assert isinstance(directory, Rates)
    assert not isinstance(FakeDirectory(), Rates)
    rates = await directory.rates()
    assert [(r.scope, r.kind, r.project_id, r.user_id, r.amount) for r in rates] == [
        ("user", "billing", None, "1", Decimal("120.50")),
        ("user", "cost", None, "1", Decimal("60")),
        ("project", "billing", "ev:1", None, Decimal("100")),
        ("project_user", "billing", "ev:1", "2", Decimal("150")),
        ("project_user", "cost", "ev:1", "1", Decimal("70")),
    ]
    await clients.aclose()
