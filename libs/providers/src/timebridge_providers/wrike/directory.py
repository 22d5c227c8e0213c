"""Wrike's contacts (people), projects (folders with a ``project`` part) and tasks."""

from collections.abc import AsyncIterator

from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.wire import Folder, Task

_CLOSED = frozenset({"Completed", "Deferred", "Cancelled"})


def _project(folder: Folder) -> DirectoryProject:
    status = (folder.project or {}).get("status")
    return DirectoryProject(folder.id, folder.title, closed=status in _CLOSED)


def _task(task: Task) -> DirectoryTask:
    return DirectoryTask(
        task.id,
        task.title,
        task.parentIds,
        closed=task.status in _CLOSED,
        description=task.description or "",
        status=task.status,
        url=task.permalink,
        updated_at=task.updatedDate,
    )


class WrikeDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one Wrike account."""

    def __init__(self, client: WrikeClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [
            DirectoryUser(c.id, c.email, c.name, not c.deleted)
            for c in await self._client.contacts()
            if c.type == "Person"
        ]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        for folder in await self._client.projects():
            yield _project(folder)

    async def project(self, project_id: str) -> DirectoryProject:
        return _project(await self._client.folder(project_id))

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        for task in await self._client.folder_tasks(project_id):
            yield _task(task)

    async def task(self, task_id: str) -> DirectoryTask:
        return _task(await self._client.task(task_id))

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        return _task(await self._client.create_task(project_id, name, description))
