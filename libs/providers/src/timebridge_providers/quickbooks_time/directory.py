"""QuickBooks Time's users and jobcodes for mapping: a top-level jobcode (``parent_id`` 0) is a
project, its child jobcodes are its tasks; a task is created as a child jobcode."""

from collections.abc import AsyncIterator

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.kit.ports.directory import DirectoryProject, DirectoryTask, DirectoryUser
from timebridge_providers.quickbooks_time.client import QuickBooksTimeClient
from timebridge_providers.quickbooks_time.wire import Jobcode


def _task(jobcode: Jobcode) -> DirectoryTask:
    parents = (str(jobcode.parent_id),) if jobcode.parent_id else ()
    return DirectoryTask(
        str(jobcode.id), jobcode.name, parents, closed=not jobcode.active,
        updated_at=jobcode.last_modified,
    )  # fmt: skip


class QuickBooksTimeDirectory:
    """The :class:`~timebridge_providers.kit.ports.directory.Directory` of one connection."""

    def __init__(self, client: QuickBooksTimeClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [
            DirectoryUser(
                str(u.id),
                u.email or None,
                f"{u.first_name} {u.last_name}".strip() or None,
                u.active,
            )
            for u in await self._client.users(active="both")
        ]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        async for job in self._client.jobcodes(parent_ids="0", active="both"):
            yield DirectoryProject(str(job.id), job.name, closed=not job.active)

    async def _one(self, jobcode_id: str) -> Jobcode:
        if jobcode_id.isdigit():
            async for job in self._client.jobcodes(ids=jobcode_id, active="both"):
                return job
        raise NotFoundError("quickbooks_time", "GET", "/jobcodes", 404, f"no jobcode {jobcode_id}")

    async def project(self, project_id: str) -> DirectoryProject:
        job = await self._one(project_id)
        return DirectoryProject(str(job.id), job.name, closed=not job.active)

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        async for job in self._client.jobcodes(parent_ids=project_id, active="both"):
            yield _task(job)

    async def task(self, task_id: str) -> DirectoryTask:
        return _task(await self._one(task_id))

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        """A child jobcode of the project (jobcodes keep no description)."""
        del description
        body = {"name": name, "parent_id": int(project_id), "type": "regular"}
        return _task(await self._client.create_jobcode(body))
