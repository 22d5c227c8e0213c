"""Toggl's workspace users, projects and tasks (tasks are a paid-plan feature; each belongs to
one project)."""

from collections.abc import AsyncIterator

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.wire import Project, Task


def _project(project: Project) -> DirectoryProject:
    billing = (
        None if project.billable is None else ("hourly" if project.billable else "non_billable")
    )
    return DirectoryProject(str(project.id), project.name, not project.active, billing)


def _task(task: Task) -> DirectoryTask:
    return DirectoryTask(
        str(task.id), task.name, (str(task.project_id),), closed=not task.active, updated_at=task.at
    )


class TogglDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one workspace."""

    def __init__(self, client: TogglClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [
            DirectoryUser(str(u.id), u.email, u.fullname or u.name, not u.inactive)
            for u in await self._client.users()
        ]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        async for project in self._client.projects():
            yield _project(project)

    async def project(self, project_id: str) -> DirectoryProject:
        return _project(await self._client.project(int(project_id)))

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        for task in await self._client.project_tasks(int(project_id)):
            yield _task(task)

    async def task(self, task_id: str) -> DirectoryTask:
        """One task, found in the workspace's task list (Toggl reads a task under its project)."""
        async for task in self._client.tasks():
            if str(task.id) == task_id:
                return _task(task)
        raise NotFoundError("toggl", "GET", f"/tasks/{task_id}", 404, "task not found")

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        """Create the task in the project (Toggl's tasks have no description: not kept)."""
        del description
        return _task(await self._client.create_task(int(project_id), name))
