"""ClickUp's members, Lists (its "projects": where tasks live, in a Space or a Folder) and tasks."""

from collections.abc import AsyncIterator

from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.wire import ListRef, Task
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)


def _task(task: Task, list_id: str | None = None) -> DirectoryTask:
    status = task.status.status if task.status else None
    closed = task.archived or (task.status is not None and task.status.type in {"closed", "done"})
    lists = (list_id,) if list_id else ((task.list.id,) if task.list else ())
    return DirectoryTask(
        task.id,
        task.name,
        lists,
        closed=closed,
        description=task.description or "",
        status=status,
        url=task.url,
    )


def _project(found: ListRef) -> DirectoryProject:
    return DirectoryProject(found.id, found.name, found.archived)


class ClickUpDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one workspace."""

    def __init__(self, client: ClickUpClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        team = await self._client.team()
        return [DirectoryUser(str(m.user.id), m.user.email, m.user.username) for m in team.members]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        for space in await self._client.spaces():
            for found in await self._client.folderless_lists(space.id):
                yield _project(found)
            for folder in await self._client.folders(space.id):
                for found in folder.lists:
                    yield _project(found)

    async def project(self, project_id: str) -> DirectoryProject:
        return _project(await self._client.list_of(project_id))

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        async for task in self._client.tasks(project_id):
            yield _task(task, project_id)

    async def task(self, task_id: str) -> DirectoryTask:
        return _task(await self._client.task(task_id))

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        return _task(await self._client.create_task(project_id, name, description), project_id)
