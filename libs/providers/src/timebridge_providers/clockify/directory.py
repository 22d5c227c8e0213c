"""Clockify's workspace users, projects and tasks (each task belongs to one project)."""

from collections.abc import AsyncIterator

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.wire import Project, Task
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)


def _project(project: Project) -> DirectoryProject:
    billing = (
        None if project.billable is None else ("hourly" if project.billable else "non_billable")
    )
    return DirectoryProject(project.id, project.name, project.archived, billing)


def _task(task: Task) -> DirectoryTask:
    return DirectoryTask(
        task.id, task.name, (task.project_id,), closed=task.status == "DONE", status=task.status
    )


class ClockifyDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one workspace."""

    def __init__(self, client: ClockifyClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [
            DirectoryUser(u.id, u.email, u.name, (u.status or "ACTIVE") == "ACTIVE")
            async for u in self._client.users()
        ]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        async for project in self._client.projects():
            yield _project(project)

    async def project(self, project_id: str) -> DirectoryProject:
        return _project(await self._client.project(project_id))

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        async for task in self._client.tasks(project_id):
            yield _task(task)

    async def task(self, task_id: str) -> DirectoryTask:
        """One task: Clockify reads a task under its project, so the projects are searched."""
        async for project in self._client.projects():
            async for task in self._client.tasks(project.id):
                if task.id == task_id:
                    return _task(task)
        raise NotFoundError("clockify", "GET", f"/tasks/{task_id}", 404, "task not found")

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        """Create the task in the project (Clockify's tasks have no description: not kept)."""
        del description
        return _task(await self._client.create_task(project_id, name))
