"""Xero Projects' directory: the organisation's project users, its projects and their tasks.

A task belongs to one project and every call names both, so looking a task up by its id alone
walks the projects (cached per directory).
"""

import uuid
from collections.abc import AsyncIterator

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)
from timebridge_providers.xero_projects.client import XeroProjectsClient
from timebridge_providers.xero_projects.wire import Project, Task


def _project(project: Project) -> DirectoryProject:
    return DirectoryProject(project.project_id, project.name, project.status == "CLOSED")


def _task(task: Task, project_id: str) -> DirectoryTask:
    return DirectoryTask(
        task.task_id,
        task.name,
        (task.project_id or project_id,),
        closed=task.status != "ACTIVE",
        status=task.status,
    )


class XeroProjectsDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one organisation."""

    def __init__(self, client: XeroProjectsClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [DirectoryUser(u.user_id, u.email, u.name) for u in await self._client.users()]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        async for project in self._client.projects():
            yield _project(project)

    async def project(self, project_id: str) -> DirectoryProject:
        return _project(await self._client.project(project_id))

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        for task in await self._client.tasks(project_id):
            yield _task(task, project_id)

    async def task(self, task_id: str) -> DirectoryTask:
        async for project in self._client.projects():
            for task in await self._client.tasks(project.project_id):
                if task.task_id.lower() == task_id.lower():
                    return _task(task, project.project_id)
        raise NotFoundError("xero_projects", "GET", f"/Tasks/{task_id}", 404, "no such task")

    async def create_task(
        self,
        project_id: str,
        *,
        name: str,
        description: str | None = None,  # noqa: ARG002 - Xero tasks have none
    ) -> DirectoryTask:
        """A task charged by time (rate 0, in the project's currency); Xero tasks have no
        description. The ``Idempotency-Key`` is fresh: a lost answer is an unknown outcome."""
        project = await self._client.project(project_id)
        key = f"task:{project_id}:{name}:{uuid.uuid4()}"
        made = await self._client.create_task(project_id, name, project.currency_code, key)
        return _task(made, project_id)
