"""HTTP routes of the conflict-resolver: observations and the review queue."""

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.errors import TransientError
from timebridge_common.events import EntrySynced, TimeEntryFields
from timebridge_common.http_errors import refusals
from timebridge_conflict_resolver.domain.state import ConflictItem, ConflictKind, ConflictStatus
from timebridge_conflict_resolver.handlers.ports import ObservationIndex, SyncStore
from timebridge_conflict_resolver.handlers.sync import ReviewRefusedError, Syncer


def observations_router(store: ObservationIndex, admins: WorkspaceAdmins) -> APIRouter:
    """Observations show who worked how long on what: only the workspace's Core admins."""
    router = APIRouter(tags=["observations"], dependencies=[Depends(admins.require)])

    @router.get(
        "/v1/workspaces/{workspace_id}/observations",
        summary="Entries seen on any side for one person and day (match-by-timestamp input)",
    )
    async def list_observations(
        workspace_id: WorkspaceIdPath, person: str, date: dt.date
    ) -> list[dict[str, Any]]:
        return [asdict(o) for o in await store.for_person_day(workspace_id, person, date)]

    return router


class ConflictView(BaseModel):
    """An open (or settled) conflict: the change, both versions, and why it waits."""

    conflict_id: uuid.UUID
    integration_id: str
    kind: ConflictKind = Field(
        description="changed: both sides changed; locked: the target refused (locked or"
        " invoiced); copy_changed: a copy Timebridge wrote was changed in its system"
    )
    reason: str
    source: str
    source_external_id: str
    target: str
    target_external_id: str | None
    operation: str
    source_version: TimeEntryFields | None = Field(description="The entry as the source has it")
    target_version: TimeEntryFields | None = Field(description="The record as the target had it")
    status: ConflictStatus
    resolution: str | None = Field(description="The system whose version was kept")
    created_at: dt.datetime | None
    resolved_at: dt.datetime | None

    @classmethod
    def of(cls, item: ConflictItem) -> "ConflictView":
        event = item.event
        return cls(
            conflict_id=item.conflict_id,
            integration_id=item.integration_id,
            kind=item.kind,
            reason=item.reason,
            source=event.source,
            source_external_id=event.source_external_id,
            target=event.target,
            target_external_id=item.target_external_id,
            operation=event.operation,
            source_version=item.source_version,
            target_version=item.target_version,
            status=item.status,
            resolution=item.resolution,
            created_at=item.created_at,
            resolved_at=item.resolved_at,
        )


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: str = Field(description="The system whose version wins: the conflict's source or target")


def review_router(store: SyncStore, syncer: Syncer, admins: WorkspaceAdmins) -> APIRouter:
    """Resolving writes into the workspace's systems: only its Core admins review conflicts."""
    router = APIRouter(tags=["review queue"], dependencies=[Depends(admins.require)])

    @router.get(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}/conflicts",
        summary="The integration's conflicts waiting for review (or settled ones, by status)",
    )
    async def list_conflicts(
        workspace_id: WorkspaceIdPath, integration_id: str, status: ConflictStatus = "open"
    ) -> list[ConflictView]:
        items = await store.conflicts(workspace_id, integration_id, status)
        return [ConflictView.of(item) for item in items]

    @router.post(
        "/v1/workspaces/{workspace_id}/conflicts/{conflict_id}/resolution",
        summary="Resolve a conflict by choosing the system whose version is kept",
        description="Keeping the source's version writes it into the target (then reads it"
        " back); keeping the target's leaves the target as it is. Answers the outcome, which"
        " is also published as EntrySynced.",
        responses=refusals(404, 409, 422, 503),
    )
    async def resolve(
        workspace_id: WorkspaceIdPath, conflict_id: uuid.UUID, body: Resolution
    ) -> EntrySynced:
        try:
            return await syncer.resolve(workspace_id, conflict_id, body.keep)
        except ReviewRefusedError as exc:
            raise HTTPException(exc.status, exc.reason) from exc
        except TransientError as exc:
            wait = str(max(1, round(exc.retry_after or 1)))
            raise HTTPException(503, exc.reason, headers={"Retry-After": wait}) from exc

    return router
