"""Everhour's directory: the team, projects and tasks; a task is created in the project's first
section (Everhour requires one).

What the common shapes leave out stays here: a task needs a ``section`` (the lowest position,
then the lowest id, so every attempt picks the same one); a project's billing ``type`` is offered
as the project's ``billing``.
"""

from collections.abc import AsyncIterator
from decimal import Decimal

from timebridge_providers.everhour.client import EverhourClient, Project, Task, User
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
    Rate,
    TaskNotCreatableError,
)


def _user(user: User) -> DirectoryUser:
    return DirectoryUser(
        str(user.id), user.email, user.name, active=user.status not in {"removed", "inactive"}
    )


def _project(project: Project) -> DirectoryProject:
    billing = project.billing.type if project.billing is not None else None
    return DirectoryProject(
        project.id, project.name, closed=project.status in {"archived", "closed"}, billing=billing
    )


def _task(task: Task) -> DirectoryTask:
    return DirectoryTask(
        task.id,
        task.name,
        project_ids=task.projects,
        closed=task.status == "closed",
        description=task.description or "",
        status=task.status,
    )


def _money(cents: int) -> Decimal:
    return Decimal(cents) / 100


def _project_rates(project: Project) -> list[Rate]:
    """A project's flat rate and its per-member overrides (billing and cost)."""
    if project.rate is None:
        return []
    rate = project.rate
    rates = [] if rate.rate is None else [Rate(_money(rate.rate), "project", project_id=project.id)]
    rates += [
        Rate(_money(cents), "project_user", "billing", project.id, str(user))
        for user, cents in sorted(rate.user_rate_overrides.items())
    ]
    rates += [
        Rate(_money(cents), "project_user", "cost", project.id, str(user))
        for user, cents in sorted(rate.user_cost_overrides.items())
    ]
    return rates


def _user_rates(user: User) -> list[Rate]:
    rates = []
    if user.rate is not None:
        rates.append(Rate(_money(user.rate), "user", "billing", user_id=str(user.id)))
    if user.cost is not None:
        rates.append(Rate(_money(user.cost), "user", "cost", user_id=str(user.id)))
    return rates


class EverhourDirectory:
    """One Everhour account's directory, over a client (shared pool and budget).

    It also offers Everhour's hourly rates (the ``Rates`` port): set by project, by member, or by
    member on a project, from which Everhour calculates amounts.
    """

    def __init__(self, client: EverhourClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [_user(u) for u in await self._client.team_users()]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        async for project in self._client.projects():
            yield _project(project)

    async def project(self, project_id: str) -> DirectoryProject:
        return _project(await self._client.project(project_id))

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        async for task in self._client.project_tasks(project_id):
            yield _task(task)

    async def task(self, task_id: str) -> DirectoryTask:
        return _task(await self._client.task(task_id))

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        sections = await self._client.sections(project_id)
        if not sections:
            raise TaskNotCreatableError(
                f"Everhour project {project_id} has no section to create the task in"
            )
        first = min(sections, key=lambda s: (s.position is None, s.position or 0, s.id))
        created = await self._client.create_task(
            project_id, name=name, section_id=first.id, description=description
        )
        return _task(created)

    async def rates(self) -> list[Rate]:
        """Every rate set in Everhour: the members' own, then each project's and its overrides."""
        rates = [r for u in await self._client.team_users() for r in _user_rates(u)]
        async for project in self._client.projects():
            rates += _project_rates(project)
        return rates
