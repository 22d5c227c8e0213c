"""Hubstaff's members, projects and tasks (to-dos), and creating a task in a project."""

from collections.abc import AsyncIterator

from timebridge_providers.hubstaff.client import HubstaffClient
from timebridge_providers.hubstaff.wire import Project, Task
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)


def _project(project: Project) -> DirectoryProject:
    billing = (
        None if project.billable is None else ("hourly" if project.billable else "non_billable")
    )
    return DirectoryProject(str(project.id), project.name, project.status == "archived", billing)


def _task(task: Task) -> DirectoryTask:
    return DirectoryTask(
        str(task.id),
        task.summary,
        (str(task.project_id),),
        closed=task.status in {"completed", "archived"},
        description=task.details or "",
        status=task.status,
        updated_at=task.updated_at,
    )


class HubstaffDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one organization."""

    def __init__(self, client: HubstaffClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [
            DirectoryUser(
                str(member.user_id),
                user.email if user else None,
                user.name if user else None,
                member.membership_status in {None, "active"},
            )
            async for member, user in self._client.members()
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
        return _task(await self._client.task(task_id))

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        """A to-do assigned to the token's user (Hubstaff's to-dos need an assignee; they keep
        no description through this call, so ``description`` is not kept)."""
        del description
        me = await self._client.me()
        return _task(await self._client.create_task(project_id, name, me.id))
