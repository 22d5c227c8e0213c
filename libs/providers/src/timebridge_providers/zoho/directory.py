"""Zoho Projects' directory: the portal's users, its projects and their tasks (a task belongs to
one project; looking one up by id alone walks the projects)."""

from collections.abc import AsyncIterator

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)
from timebridge_providers.zoho.client import ZohoClient
from timebridge_providers.zoho.wire import Project, Task


def _project(project: Project) -> DirectoryProject:
    closed = project.status.lower() in {"archived", "closed", "completed"}
    return DirectoryProject(project.id, project.name, closed, project.billing_type)


def _task(task: Task, project_id: str) -> DirectoryTask:
    return DirectoryTask(
        task.id,
        task.name,
        (project_id,),
        closed=task.status.type.lower() == "closed",
        description=task.description or "",
        status=task.status.name,
    )


class ZohoDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one portal."""

    def __init__(self, client: ZohoClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [DirectoryUser(u.id, u.email, u.name, u.active) for u in await self._client.users()]

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
            for task in await self._client.tasks(project.id):
                if task.id == task_id:
                    return _task(task, project.id)
        raise NotFoundError("zoho", "GET", f"/tasks/{task_id}/", 404, "no such task")

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        return _task(await self._client.create_task(project_id, name, description), project_id)
