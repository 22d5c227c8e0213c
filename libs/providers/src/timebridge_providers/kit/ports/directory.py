"""The directory: who and what a provider's account holds (users, projects, tasks), and
creating a task.

Mapping reads it to match users by email, check the ids an admin maps, find a ticket's task by
title and create a missing one. The shapes are the common denominator of every tracker's API
(and of Core, whose tickets are its tasks); what a provider needs beyond them to create a task
(Everhour's sections, Harvest's task assignments) stays inside its implementation.

Errors: a missing project or task raises
:class:`~timebridge_common.outbound.http.NotFoundError`; a create whose answer was lost raises
:class:`~timebridge_common.outbound.http.OutcomeUnknownError` (look the task up before trying
again); a create the provider cannot do in that project raises :class:`TaskNotCreatableError`.
"""

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    external_id: str
    email: str | None
    name: str | None
    active: bool = True


@dataclass(frozen=True, slots=True)
class DirectoryProject:
    external_id: str
    name: str
    closed: bool = False
    billing: str | None = None
    """The provider's billing type of the project, as it names it (``hourly``, ``fixed_fee``,
    ``non_billable``), if it has one."""


@dataclass(frozen=True, slots=True)
class DirectoryTask:
    external_id: str
    name: str
    project_ids: tuple[str, ...] = ()
    """The projects the task belongs to (most providers: exactly one)."""
    closed: bool = False
    description: str = ""
    status: str | None = None
    url: str | None = None
    """Where a person opens it (a Core ticket's page)."""
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Rate:
    """An hourly rate the provider holds, in the account's currency."""

    amount: Decimal
    """Per hour."""
    scope: Literal["user", "project", "project_user"]
    """What it is set on: a member, a project, or a member on a project (an override)."""
    kind: Literal["billing", "cost"] = "billing"
    project_id: str | None = None
    user_id: str | None = None


class TaskNotCreatableError(Exception):
    """The provider cannot create a task there (an Everhour project without a section, Core,
    whose tickets are made by people): the entry is skipped with this reason, not retried."""


class Directory(Protocol):
    """Who and what a provider's account holds."""

    async def users(self) -> list[DirectoryUser]:
        """Every member of the account (the team)."""
        ...

    def projects(self) -> AsyncIterator[DirectoryProject]: ...

    async def project(self, project_id: str) -> DirectoryProject:
        """One project, or ``NotFoundError``."""
        ...

    def tasks(self, project_id: str) -> AsyncIterator[DirectoryTask]:
        """The project's tasks, open and closed, in the provider's order."""
        ...

    async def task(self, task_id: str) -> DirectoryTask:
        """One task, or ``NotFoundError``."""
        ...

    async def create_task(
        self, project_id: str, *, name: str, description: str | None = None
    ) -> DirectoryTask:
        """Create a task in the project: a POST, never retried after an unknown outcome."""
        ...


@runtime_checkable
class Rates(Protocol):
    """The hourly rates a provider holds (by project, user, or user on a project), for billing
    and reports to take as their rate source when an admin chooses the provider's rates.

    Optional: a directory of a provider that keeps rates also offers this (check with
    ``isinstance(directory, Rates)``); the others do not have the method at all.
    """

    async def rates(self) -> list[Rate]: ...
