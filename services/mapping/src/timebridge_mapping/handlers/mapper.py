"""Mapping one stored entry for one integration: user, project and task on the target side.

Runs inside the caller's transaction (the inbox claim for a consumed event, or the release of a
held entry), so what it stores (a task link, the entry held or released) commits together with
the event it yields, through the outbox, or not at all.

Creating a tracker task is the one write that cannot be repeated safely (a POST): it happens
under a per-ticket lock, after looking for the task by title (which also finds a task created by
an attempt whose transaction did not commit), and an unknown outcome is resolved by looking the
task up again before anything else is tried.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from timebridge_providers.kit.ports.directory import DirectoryTask, TaskNotCreatableError

from timebridge_common.events import ConnectionChanged, EntryMapped, Envelope, Event
from timebridge_common.outbound.http import NotFoundError, OutcomeUnknownError
from timebridge_mapping.domain.direction import is_home, settings_of
from timebridge_mapping.domain.entries import StoredEntry
from timebridge_mapping.domain.mappings import HeldEntry, TaskLink
from timebridge_mapping.domain.outcomes import NotMapped, Placement, entry_mapped, not_mapped
from timebridge_mapping.domain.tasks import (
    CreateTask,
    TrackerTask,
    find_by_title,
    place_in_core,
    place_in_tracker,
)
from timebridge_mapping.domain.users import MappedUser, Side, match_user, unmapped_user
from timebridge_mapping.handlers.directory import Directory
from timebridge_mapping.handlers.ports import MappingTx
from timebridge_mapping.handlers.providers import Providers

PRODUCER = "mapping"

log = structlog.get_logger(__name__)


def envelope_for(event: Event, cause: Envelope | None = None) -> Envelope:
    return Envelope.for_event(event, producer=PRODUCER, cause=cause)


@dataclass
class EntryMapper:
    directory: Directory
    providers: Providers
    clock: Callable[[], dt.datetime]
    ticket_cache_s: float = 600.0
    refresh_on_miss_s: float = 60.0
    """An unmatched user refreshes the users if they are older than this."""

    async def sync(
        self, tx: MappingTx, integration: ConnectionChanged, entry: StoredEntry
    ) -> Event:
        """Map ``entry`` and record the outcome: the event to publish for it."""
        return await self.record(tx, integration, entry, await self.map(tx, integration, entry))

    async def record(
        self,
        tx: MappingTx,
        integration: ConnectionChanged,
        entry: StoredEntry,
        result: EntryMapped | NotMapped,
    ) -> Event:
        """Hold the entry if it is queued, release it otherwise; the event saying so."""
        if isinstance(result, NotMapped) and result.status == "queued":
            held = HeldEntry(integration.connection_id, entry, result.reason, self.clock())
            await tx.hold(held)
        else:
            await tx.unhold(integration.connection_id, entry.key)
        if isinstance(result, EntryMapped):
            return result
        return not_mapped(entry, integration, result, now=self.clock())

    async def map(
        self,
        tx: MappingTx,
        integration: ConnectionChanged,
        entry: StoredEntry,
        *,
        may_refresh: bool = True,
    ) -> EntryMapped | NotMapped:
        """The entry in the target's ids, or why not.

        ``may_refresh``: an unmatched user may re-read the users first. The releaser passes
        False: it runs because users changed, and a refresh would only wake it again.
        """
        source: Side = "core" if is_home(entry.key.source, self.providers.registry) else "tracker"
        user = await self._user(tx, integration, entry, source, may_refresh=may_refresh)
        if isinstance(user, NotMapped):
            return user
        if source == "core":
            placement = await self._in_tracker(tx, integration, entry)
        else:
            placement = await self._in_core(tx, integration, entry)
        if isinstance(placement, NotMapped):
            return placement
        return entry_mapped(
            entry, integration, user=user.user, user_by=user.by, placement=placement
        )

    async def _user(
        self,
        tx: MappingTx,
        integration: ConnectionChanged,
        entry: StoredEntry,
        source: Side,
        *,
        may_refresh: bool,
    ) -> MappedUser | NotMapped:
        user = entry.fields.user
        directory = await tx.directory(integration.connection_id)
        found = match_user(directory, user, source=source)
        if (
            found is None
            and may_refresh
            and await self.directory.refresh_if_older(integration, self.refresh_on_miss_s)
        ):
            directory = await tx.directory(integration.connection_id)
            found = match_user(directory, user, source=source)
        return found or unmapped_user(
            directory,
            user,
            source=source,
            settings=settings_of(integration),
            deleted=entry.deleted,
            tracker=integration.provider,
        )

    async def _in_core(
        self, tx: MappingTx, integration: ConnectionChanged, entry: StoredEntry
    ) -> Placement:
        fields = entry.fields
        task_id, project_id = fields.task_external_id, fields.project_external_id
        link = await tx.link_for_task(integration.connection_id, task_id) if task_id else None
        core_project = (
            await tx.core_project(integration.connection_id, project_id) if project_id else None
        )
        return place_in_core(link, core_project)

    async def _in_tracker(
        self, tx: MappingTx, integration: ConnectionChanged, entry: StoredEntry
    ) -> Placement | NotMapped:
        integration_id = integration.connection_id
        ticket_id = entry.fields.task_external_id
        link = None
        if ticket_id is not None:
            # Whoever else may create this ticket's task waits here until our link commits.
            await tx.lock_ticket(integration_id, ticket_id)
            link = await tx.link_for_ticket(integration_id, ticket_id)
        ticket: DirectoryTask | None = None
        core_project = entry.fields.project_external_id
        tracker_project: str | None = None
        rule: str | None = None
        tasks: list[TrackerTask] = []
        if link is None:
            if ticket_id is not None:
                ticket = await self._ticket(tx, entry.key.workspace_id, ticket_id)
            if core_project is None and ticket is not None:
                core_project = next(iter(ticket.project_ids), None)
            if core_project is not None:
                tracker_project = await tx.tracker_project(integration_id, core_project)
                rule = await tx.rule(integration_id, core_project)
            if tracker_project is not None and ticket is not None and not entry.deleted:
                tasks = await self._free_tasks(tx, integration, tracker_project)
        decision = place_in_tracker(
            ticket_id=ticket_id,
            ticket=ticket,
            link=link,
            core_project_id=core_project,
            tracker_project_id=tracker_project,
            tasks=tasks,
            rule=rule,
            deleted=entry.deleted,
            tracker=integration.provider,
        )
        if isinstance(decision, Placement) and decision.by == "title":
            assert ticket_id is not None
            assert decision.task_id is not None
            await tx.put_task_link(
                integration_id, TaskLink(ticket_id, decision.task_id, tracker_project, "title")
            )
        if isinstance(decision, CreateTask):
            return await self._create(tx, integration, decision)
        return decision

    async def _ticket(
        self, tx: MappingTx, workspace_id: str, ticket_id: str
    ) -> DirectoryTask | None:
        now = self.clock()
        fresh_since = now - dt.timedelta(seconds=self.ticket_cache_s)
        cached = await tx.cached_ticket(workspace_id, ticket_id, fresh_since)
        if cached is not None:
            return cached
        try:
            home = await self.providers.home(workspace_id)
            ticket = await home.task(ticket_id)
        except NotFoundError:
            return None
        await tx.cache_ticket(workspace_id, ticket, now)
        return ticket

    async def _free_tasks(
        self, tx: MappingTx, integration: ConnectionChanged, project_id: str
    ) -> list[TrackerTask]:
        """The project's tasks no other ticket is linked to (title candidates)."""
        linked = {link.tracker_task_id for link in await tx.task_links(integration.connection_id)}
        return [
            TrackerTask(t.external_id, t.name, t.closed)
            async for t in (await self.providers.directory(integration)).tasks(project_id)
            if t.external_id not in linked
        ]

    async def _create(
        self, tx: MappingTx, integration: ConnectionChanged, create: CreateTask
    ) -> Placement | NotMapped:
        directory = await self.providers.directory(integration)
        try:
            created = await directory.create_task(
                create.project_id, name=create.name, description=create.description
            )
        except TaskNotCreatableError as exc:
            return NotMapped(
                "skipped", f"the task of Core ticket {create.ticket_id} cannot be created: {exc}"
            )
        except OutcomeUnknownError:
            # The answer was lost: the task may exist. Only a miss may be created again, and
            # only by a later attempt (the error propagates: the consumer retries it).
            tasks = await self._free_tasks(tx, integration, create.project_id)
            found = find_by_title(tasks, create.name)
            if found is None:
                raise
            task_id = found.id
        else:
            task_id = created.external_id
        link = TaskLink(create.ticket_id, task_id, create.project_id, "created")
        await tx.put_task_link(integration.connection_id, link)
        log.info("tracker task created", ticket=create.ticket_id, task=task_id)
        return Placement(create.project_id, task_id, "created")
