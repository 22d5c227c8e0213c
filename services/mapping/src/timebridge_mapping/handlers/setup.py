"""What an admin sets up per integration: project mappings, user mappings, task links, project
rules; and what they look at: the users as matched, the entries held for a user mapping.

Ids of the tracker are checked with the tracker before they are stored (a project or task that
does not exist would only fail later, entry by entry, in the conflict-resolver); user ids are
checked against the users read from both sides, refreshed once if one is unknown.
"""

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from timebridge_providers.kit.ports.directory import Directory as ProviderDirectory
from timebridge_providers.kit.ports.directory import (
    DirectoryProject,
    DirectoryTask,
    Rate,
    Rates,
)

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import ConnectionChanged
from timebridge_common.outbound.http import NotFoundError as ProviderNotFoundError
from timebridge_common.refusals import (
    ConflictError,
    InvalidError,
    NotFoundError,
    UpstreamError,
)
from timebridge_mapping.domain.direction import mapped
from timebridge_mapping.domain.mappings import HeldEntry, ProjectMapping, ProjectRule, TaskLink
from timebridge_mapping.domain.rates import CoreRates, in_core_terms
from timebridge_mapping.domain.users import UserDirectory
from timebridge_mapping.handlers.directory import Directory
from timebridge_mapping.handlers.ports import Connections, MappingStore, MappingTx
from timebridge_mapping.handlers.providers import Providers

T = TypeVar("T")

TRACKER_PROJECTS_LIMIT = 500
"""How many of the tracker's projects an admin is offered to pick from (its first, in its
order): a page, not the whole account of a tracker holding thousands; others are typed."""


@asynccontextmanager
async def _asking(system: str) -> AsyncIterator[None]:
    """Turn a provider's refusal or unavailability (or credentials this service cannot use) into
    the API's answer."""
    try:
        yield
    except ProviderNotFoundError as exc:
        raise InvalidError(f"{system} does not know it: {exc.path}") from exc
    except (InvalidMessageError, TransientError) as exc:
        raise UpstreamError(f"{system} could not be asked: {exc}") from exc


@dataclass
class Setup:
    store: MappingStore
    connections: Connections
    providers: Providers
    directory: Directory
    releasable: asyncio.Event

    async def _integration(self, workspace_id: str, integration_id: str) -> ConnectionChanged:
        found = await self.connections.get(integration_id)
        if found is None or found.workspace_id != workspace_id or not mapped(found.provider):
            raise NotFoundError(f"no tracker integration {integration_id!r} in this workspace")
        return found

    async def _connected(self, workspace_id: str, integration_id: str) -> ConnectionChanged:
        integration = await self._integration(workspace_id, integration_id)
        if integration.status != "connected":
            raise ConflictError("the integration is disconnected")
        return integration

    async def _ask(
        self, integration: ConnectionChanged, call: Callable[[ProviderDirectory], Awaitable[T]]
    ) -> T:
        async with _asking(self.providers.title(integration.provider)):
            return await call(await self.providers.directory(integration))

    async def _read(
        self, workspace_id: str, integration_id: str, read: Callable[[MappingTx], Awaitable[T]]
    ) -> T:
        await self._integration(workspace_id, integration_id)
        async with self.store.transaction() as tx:
            return await read(tx)

    # Projects.

    async def project_mappings(
        self, workspace_id: str, integration_id: str
    ) -> list[ProjectMapping]:
        return await self._read(
            workspace_id, integration_id, lambda tx: tx.project_mappings(integration_id)
        )

    async def map_project(
        self, workspace_id: str, integration_id: str, mapping: ProjectMapping
    ) -> ProjectMapping:
        integration = await self._connected(workspace_id, integration_id)
        await self._ask(integration, lambda c: c.project(mapping.tracker_project_id))
        async with self.store.transaction() as tx:
            await tx.put_project_mapping(integration_id, mapping)
        return mapping

    async def tracker_projects(
        self, workspace_id: str, integration_id: str, limit: int = TRACKER_PROJECTS_LIMIT
    ) -> list[DirectoryProject]:
        """The tracker's projects (its first ``limit``), for an admin to pick one to map."""
        integration = await self._connected(workspace_id, integration_id)
        title = self.providers.title(integration.provider)
        async with _asking(title):
            directory = await self.providers.directory(integration)
        return await first_projects(directory, title, limit)

    async def unmap_project(
        self, workspace_id: str, integration_id: str, core_project: str
    ) -> None:
        await self._delete(
            workspace_id,
            integration_id,
            lambda tx: tx.delete_project_mapping(integration_id, core_project),
            f"Core project {core_project} is not mapped",
        )

    # Project rules.

    async def rules(self, workspace_id: str, integration_id: str) -> list[ProjectRule]:
        return await self._read(workspace_id, integration_id, lambda tx: tx.rules(integration_id))

    async def put_rule(
        self, workspace_id: str, integration_id: str, rule: ProjectRule
    ) -> ProjectRule:
        integration = await self._connected(workspace_id, integration_id)
        async with self.store.transaction() as tx:
            project = await tx.tracker_project(integration_id, rule.core_project_id)
        if project is None:
            raise ConflictError(f"map Core project {rule.core_project_id} to a project first")
        task = await self._ask(integration, lambda c: c.task(rule.default_task_id))
        if project not in task.project_ids:
            raise InvalidError(f"task {task.external_id} is not in the mapped project {project}")
        async with self.store.transaction() as tx:
            await tx.put_rule(integration_id, rule)
        return rule

    async def delete_rule(self, workspace_id: str, integration_id: str, core_project: str) -> None:
        await self._delete(
            workspace_id,
            integration_id,
            lambda tx: tx.delete_rule(integration_id, core_project),
            f"Core project {core_project} has no rule",
        )

    # Task links.

    async def task_links(self, workspace_id: str, integration_id: str) -> list[TaskLink]:
        return await self._read(
            workspace_id, integration_id, lambda tx: tx.task_links(integration_id)
        )

    async def link_task(
        self, workspace_id: str, integration_id: str, ticket_id: str, task_id: str
    ) -> TaskLink:
        integration = await self._connected(workspace_id, integration_id)
        task = await self._ask(integration, lambda c: c.task(task_id))
        project = next(iter(task.project_ids), None)
        link = TaskLink(ticket_id, task.external_id, project, "manual")
        async with self.store.transaction() as tx:
            await tx.lock_ticket(integration_id, ticket_id)
            await tx.put_task_link(integration_id, link)
        return link

    async def tracker_tasks(
        self, workspace_id: str, integration_id: str, limit: int = TRACKER_PROJECTS_LIMIT
    ) -> list[tuple[str, DirectoryTask]]:
        """The tasks of the tracker projects mapped (their first ``limit`` in all, each with the
        project it was listed in), for an admin to pick one to link a ticket to."""
        integration = await self._connected(workspace_id, integration_id)
        async with self.store.transaction() as tx:
            mappings = await tx.project_mappings(integration_id)
        projects = list(dict.fromkeys(m.tracker_project_id for m in mappings))
        title = self.providers.title(integration.provider)
        async with _asking(title):
            directory = await self.providers.directory(integration)
        found: list[tuple[str, DirectoryTask]] = []
        for project in projects:
            if len(found) >= limit:
                break
            listing = functools.partial(directory.tasks, project)
            tasks = await first_of(listing, title, limit - len(found))
            found += [(project, t) for t in tasks]
        return found

    async def unlink_task(self, workspace_id: str, integration_id: str, ticket_id: str) -> None:
        await self._delete(
            workspace_id,
            integration_id,
            lambda tx: tx.delete_task_link(integration_id, ticket_id),
            f"Core ticket {ticket_id} is not linked",
        )

    # Rates.

    async def rates(self, workspace_id: str, integration_id: str) -> list[Rate]:
        """The hourly rates the tracker holds (by project, member, member on a project), for
        billing and reports that take the tracker's rates; a tracker keeping none is refused."""
        integration = await self._connected(workspace_id, integration_id)
        title = self.providers.title(integration.provider)
        directory = await self.providers.directory(integration)
        if not isinstance(directory, Rates):
            raise ConflictError(f"{title} keeps no hourly rates Timebridge can read")
        async with _asking(title):
            return await directory.rates()

    async def core_rates(self, workspace_id: str, integration_id: str) -> CoreRates:
        """The tracker's billing rates on Core's projects and users (through this
        integration's mappings): what billing takes when an admin chooses the tracker's rates."""
        rates = await self.rates(workspace_id, integration_id)
        projects = await self.project_mappings(workspace_id, integration_id)
        users = await self.users(workspace_id, integration_id)
        return in_core_terms(rates, projects, users.pairs())

    # Users.

    async def users(self, workspace_id: str, integration_id: str) -> UserDirectory:
        return await self._read(
            workspace_id, integration_id, lambda tx: tx.directory(integration_id)
        )

    async def refresh_users(self, workspace_id: str, integration_id: str) -> UserDirectory:
        integration = await self._connected(workspace_id, integration_id)
        async with _asking(self.providers.title(integration.provider)):
            return await self.directory.refresh(integration)

    async def map_user(
        self, workspace_id: str, integration_id: str, core_user: str, tracker_user: str
    ) -> UserDirectory:
        """Map manually (it wins over an email match); held entries of the user are released."""
        directory = await self.users(workspace_id, integration_id)
        if not _knows(directory, core_user, tracker_user):
            directory = await self.refresh_users(workspace_id, integration_id)
        if directory.find("core", core_user) is None:
            raise InvalidError(f"Core has no user {core_user}")
        if directory.find("tracker", tracker_user) is None:
            integration = await self._integration(workspace_id, integration_id)
            title = self.providers.title(integration.provider)
            raise InvalidError(f"{title} has no user {tracker_user}")
        async with self.store.transaction() as tx:
            await tx.put_user_mapping(integration_id, core_user, tracker_user)
            directory = await tx.directory(integration_id)
        self.releasable.set()
        return directory

    async def unmap_user(self, workspace_id: str, integration_id: str, core_user: str) -> None:
        await self._delete(
            workspace_id,
            integration_id,
            lambda tx: tx.delete_user_mapping(integration_id, core_user),
            f"Core user {core_user} has no manual mapping",
        )

    # Held entries.

    async def held(self, workspace_id: str, integration_id: str) -> list[HeldEntry]:
        return await self._read(
            workspace_id, integration_id, lambda tx: tx.held_entries(integration_id)
        )

    async def _delete(
        self,
        workspace_id: str,
        integration_id: str,
        delete: Callable[[MappingTx], Awaitable[bool]],
        missing: str,
    ) -> None:
        if not await self._read(workspace_id, integration_id, delete):
            raise NotFoundError(missing)


async def first_projects(
    directory: ProviderDirectory, system: str, limit: int
) -> list[DirectoryProject]:
    """The directory's first ``limit`` projects in its order (``first_of``)."""
    return await first_of(directory.projects, system, limit)


async def first_of(read: Callable[[], AsyncIterator[T]], system: str, limit: int) -> list[T]:
    """The first ``limit`` items a directory's listing gives, read no further than needed; its
    refusal or unavailability is the API's answer with the reason (``_asking``)."""
    found: list[T] = []
    async with _asking(system):
        items = read()
        try:
            async for item in items:
                found.append(item)
                if len(found) >= limit:
                    break
        finally:
            close = getattr(items, "aclose", None)
            if close is not None:
                await close()
    return found


def _knows(directory: UserDirectory, core_user: str, tracker_user: str) -> bool:
    return (
        directory.find("core", core_user) is not None
        and directory.find("tracker", tracker_user) is not None
    )
