"""HTTP API of the guide's Project Mapping, User Mapping and Task Mapping screens, per integration.

Every route needs the bearer token of one of the workspace's Core admins.
"""

import datetime as dt
from collections.abc import Awaitable
from dataclasses import asdict
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field
from timebridge_providers.kit.ports.directory import DirectoryProject, DirectoryTask, Rate

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.events import TimeEntryFields
from timebridge_common.http_errors import refusals
from timebridge_common.refusals import RefusedError
from timebridge_mapping.domain.mappings import HeldEntry, ProjectMapping, ProjectRule, TaskLink
from timebridge_mapping.domain.users import UserDirectory
from timebridge_mapping.handlers.setup import Setup

T = TypeVar("T")

PREFIX = "/v1/workspaces/{workspace_id}/integrations/{integration_id}"
Id = Annotated[str, Path(min_length=1, max_length=200)]


class ProjectMappingBody(BaseModel):
    tracker_project_id: str = Field(
        min_length=1, description="The tracker's project id, as its API names it"
    )


class ProjectMappingView(BaseModel):
    core_project_id: str
    tracker_project_id: str


class TrackerProjectView(BaseModel):
    id: str
    name: str
    closed: bool

    @classmethod
    def of(cls, project: DirectoryProject) -> "TrackerProjectView":
        return cls(id=project.external_id, name=project.name, closed=project.closed)


class TrackerTaskView(BaseModel):
    id: str
    name: str
    project_id: str
    closed: bool

    @classmethod
    def of(cls, project_id: str, task: DirectoryTask) -> "TrackerTaskView":
        return cls(id=task.external_id, name=task.name, project_id=project_id, closed=task.closed)


class RuleBody(BaseModel):
    default_task_id: str = Field(
        min_length=1, description="Task (in the mapped project) of tickets without their own"
    )


class RuleView(BaseModel):
    core_project_id: str
    default_task_id: str


class TaskLinkBody(BaseModel):
    tracker_task_id: str = Field(min_length=1)


class TaskLinkView(BaseModel):
    core_ticket_id: str
    tracker_task_id: str
    tracker_project_id: str | None
    linked_by: Literal["manual", "title", "created"]


class RateView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    amount: Decimal = Field(description="Per hour, in the tracker account's currency")
    scope: Literal["user", "project", "project_user"]
    kind: Literal["billing", "cost"]
    project_id: str | None
    user_id: str | None


class UserView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str | None
    name: str | None


class UserMappingBody(BaseModel):
    tracker_user_id: str = Field(min_length=1)


class UserMappingView(BaseModel):
    core_user: UserView
    tracker_user: UserView
    matched_by: Literal["email", "manual"]


class UserMappingsView(BaseModel):
    mappings: list[UserMappingView]
    unmapped_core_users: list[UserView]
    unmapped_tracker_users: list[UserView]

    @classmethod
    def of(cls, directory: UserDirectory) -> "UserMappingsView":
        core, tracker = directory.unmapped()
        return cls(
            mappings=[
                UserMappingView(
                    core_user=UserView.model_validate(p.core),
                    tracker_user=UserView.model_validate(p.tracker),
                    matched_by=p.matched_by,
                )
                for p in directory.pairs()
            ],
            unmapped_core_users=[UserView.model_validate(u) for u in core],
            unmapped_tracker_users=[UserView.model_validate(u) for u in tracker],
        )


class HeldEntryView(BaseModel):
    source: str
    external_id: str
    entry: TimeEntryFields
    updated_at: dt.datetime
    reason: str
    held_at: dt.datetime

    @classmethod
    def of(cls, held: HeldEntry) -> "HeldEntryView":
        return cls(
            source=held.entry.key.source,
            external_id=held.entry.key.external_id,
            entry=held.entry.fields,
            updated_at=held.entry.updated_at,
            reason=held.reason,
            held_at=held.held_at,
        )


async def _answer(call: Awaitable[T]) -> T:
    """Await a use case, turning its refusals into HTTP answers with the reason."""
    try:
        return await call
    except RefusedError as exc:
        raise HTTPException(exc.status, exc.reason) from None


def setup_router(setup: Setup, admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter(
        prefix=PREFIX,
        dependencies=[Depends(admins.require)],
        responses=refusals(404, 409, 422, 502),  # the use cases' refusals, with the reason
    )
    projects: list[str | Enum] = ["project mapping"]
    users: list[str | Enum] = ["user mapping"]
    tasks: list[str | Enum] = ["task mapping"]
    rates: list[str | Enum] = ["rates"]
    no_content = status.HTTP_204_NO_CONTENT

    @router.get(
        "/project-mappings",
        tags=projects,
        summary="Core projects and the tracker projects they are mapped to",
        response_model=list[ProjectMappingView],
    )
    async def project_mappings(
        workspace_id: WorkspaceIdPath, integration_id: Id
    ) -> list[ProjectMapping]:
        return await _answer(setup.project_mappings(workspace_id, integration_id))

    @router.put(
        "/project-mappings/{core_project_id}",
        tags=projects,
        summary="Map a Core project to a tracker project (checked with the tracker)",
        response_model=ProjectMappingView,
    )
    async def map_project(
        workspace_id: WorkspaceIdPath,
        integration_id: Id,
        core_project_id: Id,
        body: ProjectMappingBody,
    ) -> ProjectMapping:
        mapping = ProjectMapping(core_project_id, body.tracker_project_id)
        return await _answer(setup.map_project(workspace_id, integration_id, mapping))

    @router.get(
        "/tracker-projects",
        tags=projects,
        summary="The tracker's projects, to pick one to map (its first 500, in its order)",
        description="Read from the tracker with the integration's credential; 409 if the"
        " integration is disconnected, 502 with the reason if the tracker cannot be asked.",
    )
    async def tracker_projects(
        workspace_id: WorkspaceIdPath, integration_id: Id
    ) -> list[TrackerProjectView]:
        found = await _answer(setup.tracker_projects(workspace_id, integration_id))
        return [TrackerProjectView.of(p) for p in found]

    @router.delete("/project-mappings/{core_project_id}", tags=projects, status_code=no_content)
    async def unmap_project(
        workspace_id: WorkspaceIdPath, integration_id: Id, core_project_id: Id
    ) -> None:
        await _answer(setup.unmap_project(workspace_id, integration_id, core_project_id))

    @router.get(
        "/project-rules",
        tags=projects,
        summary="Default tasks for tickets without their own",
        response_model=list[RuleView],
    )
    async def rules(workspace_id: WorkspaceIdPath, integration_id: Id) -> list[ProjectRule]:
        return await _answer(setup.rules(workspace_id, integration_id))

    @router.put(
        "/project-rules/{core_project_id}",
        tags=projects,
        summary="Set the default task of a mapped Core project",
        description="Entries on a ticket with no linked task and no task of the same title go"
        " to this task instead of a new one; entries without a ticket need it to sync at all.",
        response_model=RuleView,
    )
    async def put_rule(
        workspace_id: WorkspaceIdPath, integration_id: Id, core_project_id: Id, body: RuleBody
    ) -> ProjectRule:
        rule = ProjectRule(core_project_id, body.default_task_id)
        return await _answer(setup.put_rule(workspace_id, integration_id, rule))

    @router.delete("/project-rules/{core_project_id}", tags=projects, status_code=no_content)
    async def delete_rule(
        workspace_id: WorkspaceIdPath, integration_id: Id, core_project_id: Id
    ) -> None:
        await _answer(setup.delete_rule(workspace_id, integration_id, core_project_id))

    @router.get(
        "/user-mappings",
        tags=users,
        summary="Users as mapped (by email or manually) and the users nobody maps",
    )
    async def user_mappings(workspace_id: WorkspaceIdPath, integration_id: Id) -> UserMappingsView:
        return UserMappingsView.of(await _answer(setup.users(workspace_id, integration_id)))

    @router.put(
        "/user-mappings/{core_user_id}",
        tags=users,
        summary="Map a Core user to a tracker user manually (wins over email matching)",
        description="Entries of the user held by the queue policy are then mapped.",
    )
    async def map_user(
        workspace_id: WorkspaceIdPath, integration_id: Id, core_user_id: Id, body: UserMappingBody
    ) -> UserMappingsView:
        directory = await _answer(
            setup.map_user(workspace_id, integration_id, core_user_id, body.tracker_user_id)
        )
        return UserMappingsView.of(directory)

    @router.delete(
        "/user-mappings/{core_user_id}",
        tags=users,
        summary="Remove a manual mapping (email matching applies again)",
        status_code=no_content,
    )
    async def unmap_user(
        workspace_id: WorkspaceIdPath, integration_id: Id, core_user_id: Id
    ) -> None:
        await _answer(setup.unmap_user(workspace_id, integration_id, core_user_id))

    @router.post(
        "/users/refresh",
        tags=users,
        summary="Read both sides' users again now (they are also refreshed periodically)",
    )
    async def refresh_users(workspace_id: WorkspaceIdPath, integration_id: Id) -> UserMappingsView:
        return UserMappingsView.of(await _answer(setup.refresh_users(workspace_id, integration_id)))

    @router.get(
        "/held-entries",
        tags=users,
        summary="Entries held until their user is mapped (unmapped-user policy queue)",
    )
    async def held(workspace_id: WorkspaceIdPath, integration_id: Id) -> list[HeldEntryView]:
        return [
            HeldEntryView.of(h) for h in await _answer(setup.held(workspace_id, integration_id))
        ]

    @router.get(
        "/rates",
        tags=rates,
        summary="The hourly rates the tracker holds (by project, member, member on a project)",
        description="For billing and reports that take the tracker's rates (a tracker that"
        " calculates amounts from them); 409 if it keeps none Timebridge can read.",
        response_model=list[RateView],
    )
    async def tracker_rates(workspace_id: WorkspaceIdPath, integration_id: Id) -> list[Rate]:
        return await _answer(setup.rates(workspace_id, integration_id))

    @router.get(
        "/rates/core",
        tags=rates,
        summary="The tracker's billing rates on Core's projects and users (through the mappings)",
        description="What invoice-export keeps as the tracker's rates (PUT .../tracker-rates/"
        "{integration_id}) when an admin bills with them; rates on unmapped projects or users are"
        " listed in left_out with why.",
    )
    async def tracker_rates_in_core_terms(
        workspace_id: WorkspaceIdPath, integration_id: Id
    ) -> dict[str, Any]:
        found = await _answer(setup.core_rates(workspace_id, integration_id))
        return {"rates": [asdict(r) for r in found.rates], "left_out": list(found.left_out)}

    @router.get(
        "/task-links",
        tags=tasks,
        summary="Core tickets and their tracker tasks (linked manually, by title or creation)",
        response_model=list[TaskLinkView],
    )
    async def task_links(workspace_id: WorkspaceIdPath, integration_id: Id) -> list[TaskLink]:
        return await _answer(setup.task_links(workspace_id, integration_id))

    @router.put(
        "/task-links/{core_ticket_id}",
        tags=tasks,
        summary="Link a Core ticket to a tracker task manually (checked with the tracker)",
        response_model=TaskLinkView,
    )
    async def link_task(
        workspace_id: WorkspaceIdPath, integration_id: Id, core_ticket_id: Id, body: TaskLinkBody
    ) -> TaskLink:
        task_id = body.tracker_task_id
        return await _answer(setup.link_task(workspace_id, integration_id, core_ticket_id, task_id))

    @router.get(
        "/tracker-tasks",
        tags=tasks,
        summary="The tasks of the tracker projects mapped, to pick one to link (first 500)",
        description="Read from the tracker with the integration's credential; 409 if the"
        " integration is disconnected, 502 with the reason if the tracker cannot be asked.",
    )
    async def tracker_tasks(
        workspace_id: WorkspaceIdPath, integration_id: Id
    ) -> list[TrackerTaskView]:
        found = await _answer(setup.tracker_tasks(workspace_id, integration_id))
        return [TrackerTaskView.of(project, task) for project, task in found]

    @router.delete("/task-links/{core_ticket_id}", tags=tasks, status_code=no_content)
    async def unlink_task(
        workspace_id: WorkspaceIdPath, integration_id: Id, core_ticket_id: Id
    ) -> None:
        await _answer(setup.unlink_task(workspace_id, integration_id, core_ticket_id))

    return router
