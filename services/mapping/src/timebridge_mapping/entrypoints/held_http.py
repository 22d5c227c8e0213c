"""HTTP API of the held-entries queue's "assign by hand" (User Mapping screen).

Every route needs the bearer token of one of the workspace's Core admins.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.http_errors import refusals
from timebridge_mapping.entrypoints.setup_http import PREFIX, HeldEntryView, _answer
from timebridge_mapping.handlers.assign import HeldAssignment

Id = Annotated[str, Path(min_length=1, max_length=200)]


class AssignmentBody(BaseModel):
    user_id: str = Field(
        min_length=1,
        max_length=200,
        description="The other side's user the entry's person is: a tracker user for a Core"
        " entry, a Core user for a tracker entry",
    )


class AssignmentView(BaseModel):
    entry: HeldEntryView
    core_user_id: str
    tracker_user_id: str
    released: bool = Field(description="Whether the entry left the queue at once")
    reason: str | None = Field(description="Why it is still held, if it is")


def held_router(assignment: HeldAssignment, admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter(
        prefix=PREFIX,
        dependencies=[Depends(admins.require)],
        responses=refusals(404, 409, 422, 502),
    )

    @router.post(
        "/held-entries/{source}/{external_id}/assignment",
        tags=["user mapping"],
        summary="Assign a held entry by hand: map its person to this user and release it",
        description="The entry's person is mapped manually to ``user_id`` (so their later"
        " entries sync too) and the held entries are released at once. 404 if the entry is not"
        " held, 422 if either side has no such user.",
    )
    async def assign(
        workspace_id: WorkspaceIdPath,
        integration_id: Id,
        source: Id,
        external_id: Id,
        body: AssignmentBody,
    ) -> AssignmentView:
        done = await _answer(
            assignment.assign(workspace_id, integration_id, source, external_id, body.user_id)
        )
        return AssignmentView(
            entry=HeldEntryView.of(done.entry),
            core_user_id=done.core_user_id,
            tracker_user_id=done.tracker_user_id,
            released=done.released,
            reason=done.reason,
        )

    return router
