"""Core's directory: its users, projects and tickets (Core's tasks).

Tickets are made by people in Core; Timebridge never creates one, so ``create_task`` refuses.
"""

from collections.abc import AsyncIterator, Callable
from typing import Protocol

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.core.client import CoreClient, CoreProject, CoreUser, Ticket
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    DirectoryUser,
    TaskNotCreatableError,
)
from timebridge_providers.kit.session import Access, Session


def _user(user: CoreUser) -> DirectoryUser:
    return DirectoryUser(user.id, user.email, user.name, active=user.active)


def _project(project: CoreProject) -> DirectoryProject:
    return DirectoryProject(project.id, project.name, closed=project.archived)


def task_of(ticket: Ticket) -> DirectoryTask:
    """A Core ticket as a directory task."""
    return DirectoryTask(
        ticket.id,
        ticket.title,
        project_ids=(ticket.project_id,) if ticket.project_id else (),
        closed=False,
        description=ticket.description,
        status=ticket.status,
        url=ticket.url,
        updated_at=ticket.updated_at,
    )


class CoreDirectory:
    """One Core workspace's directory, over a client (shared pool and budget)."""

    def __init__(self, client: CoreClient) -> None:
        self._client = client

    async def users(self) -> list[DirectoryUser]:
        return [_user(u) async for u in self._client.users()]

    async def projects(self) -> AsyncIterator[DirectoryProject]:
        async for project in self._client.projects():
            yield _project(project)

    async def project(self, project_id: str) -> DirectoryProject:
        async for project in self._client.projects():
            if project.id == project_id:
                return _project(project)
        raise NotFoundError("core", "GET", f"/projects/{project_id}", 404, "no such project")

    async def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        async for ticket in self._client.tickets(project_id=project_id):
            yield task_of(ticket)

    async def task(self, task_id: str) -> DirectoryTask:
        return task_of(await self._client.ticket(task_id))

    async def create_task(
        self,
        project_id: str,
        *,
        name: str,  # noqa: ARG002 - the port's signature; Core refuses whatever is asked
        description: str | None = None,  # noqa: ARG002
    ) -> DirectoryTask:
        raise TaskNotCreatableError(
            f"Core tickets are created in Core, not by Timebridge (project {project_id})"
        )


class Sessions(Protocol):
    """Where sessions come from: ``ProviderClients`` (tests: one routed to the sandboxes)."""

    def session(self, provider: str, access: Access) -> Session: ...


def identity(sessions: Sessions, home: str = "core") -> Callable[[str, str], CoreClient]:
    """Opens Core with a user's own token, for the admin check (``GET /me``) of every service.

    The client draws from the token's budget on the shared pool; closing it leaves the pool open.
    """

    def open_core(base_url: str, user_token: str) -> CoreClient:
        session = sessions.session(home, Access(base_url, user_token))
        return CoreClient(base_url, user_token, budget=session.budget, http=session.http)

    return open_core
