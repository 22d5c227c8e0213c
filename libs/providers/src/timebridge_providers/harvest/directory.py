"""Harvest's users, projects and tasks. A Harvest task is account-wide and offered to a project by
a task assignment, so a project's tasks are its active and inactive task assignments, and creating
a task in a project creates the task and assigns it."""

from collections.abc import AsyncIterator

from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.wire import Project, Task, TaskAssignment
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
)


def _project(project: Project) -> DirectoryProject:
    if not project.is_billable or project.bill_by == "none":
        billing = "non_billable"
    else:
        billing = "fixed_fee" if project.is_fixed_fee else "hourly"
    return DirectoryProject(str(project.id), project.name, not project.is_active, billing)


def _assigned(assignment: TaskAssignment, project_id: str) -> DirectoryTask:
    return DirectoryTask(
        str(assignment.task.id),
        assignment.task.name or "",
        (project_id,),
        closed=not assignment.is_active,
        updated_at=assignment.updated_at,
    )


class HarvestDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one Harvest account."""

    def __init__(self, client: HarvestClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [
            DirectoryUser(str(u.id), u.email, u.name, u.is_active)
            async for u in self._client.users()
        ]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        async for project in self._client.projects():
            yield _project(project)

    async def project(self, project_id: str) -> DirectoryProject:
        return _project(await self._client.project(int(project_id)))

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        async for assignment in self._client.task_assignments(int(project_id)):
            yield _assigned(assignment, project_id)

    async def task(self, task_id: str) -> DirectoryTask:
        task: Task = await self._client.task(int(task_id))
        projects = [
            str(a.project.id)
            async for a in self._client.task_assignments()
            if a.task.id == task.id and a.project is not None
        ]
        return DirectoryTask(str(task.id), task.name, tuple(projects), closed=not task.is_active)

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        """Create the task and assign it to the project (Harvest's tasks have no description, so
        ``description`` is not kept)."""
        del description
        task = await self._client.create_task(name)
        assignment = await self._client.assign_task(int(project_id), task.id)
        return _assigned(assignment, project_id)
