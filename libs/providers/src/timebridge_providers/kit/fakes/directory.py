"""An in-memory directory: users, projects and tasks held in lists, for fast handler tests.

It behaves as the port promises: a missing project or task is ``NotFoundError``, a project in
``cannot_create`` refuses creation, and ``lose_next_create`` creates the task but raises
``OutcomeUnknownError`` (an answer lost after the write): callers must look it up before a retry.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from timebridge_common.outbound.http import NotFoundError, OutcomeUnknownError
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
    TaskNotCreatableError,
)


@dataclass
class FakeDirectory:
    provider: str = "fake"
    users_: list[DirectoryUser] = field(default_factory=list)
    projects_: list[DirectoryProject] = field(default_factory=list)
    tasks_: list[DirectoryTask] = field(default_factory=list)
    cannot_create: set[str] = field(default_factory=set)
    """Projects a task cannot be created in (the reason is the provider's)."""
    lose_next_create: int = 0
    created: list[DirectoryTask] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def add_task(self, project_id: str, name: str, *, closed: bool = False) -> DirectoryTask:
        task = DirectoryTask(
            f"t{len(self.tasks_) + 1}", name, project_ids=(project_id,), closed=closed
        )
        self.tasks_.append(task)
        return task

    def _missing(self, path: str) -> NotFoundError:
        return NotFoundError(self.provider, "GET", path, 404, "not found")

    async def users(self) -> list[DirectoryUser]:
        self.calls.append("users")
        return list(self.users_)

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        self.calls.append("projects")
        for project in list(self.projects_):
            yield project

    async def project(self, project_id: str) -> DirectoryProject:
        self.calls.append(f"project {project_id}")
        for project in self.projects_:
            if project.external_id == project_id:
                return project
        raise self._missing(f"/projects/{project_id}")

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        self.calls.append(f"tasks {project_id}")
        for task in list(self.tasks_):
            if project_id in task.project_ids:
                yield task

    async def task(self, task_id: str) -> DirectoryTask:
        self.calls.append(f"task {task_id}")
        for task in self.tasks_:
            if task.external_id == task_id:
                return task
        raise self._missing(f"/tasks/{task_id}")

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        self.calls.append(f"create {project_id} {name}")
        if project_id in self.cannot_create:
            raise TaskNotCreatableError(f"{self.provider} cannot create a task in {project_id}")
        task = replace(self.add_task(project_id, name), description=description or "")
        self.tasks_[-1] = task
        self.created.append(task)
        if self.lose_next_create > 0:
            self.lose_next_create -= 1
            raise OutcomeUnknownError(f"{self.provider}: the answer to the create was lost")
        return task
