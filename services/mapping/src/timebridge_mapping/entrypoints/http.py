"""HTTP routes of the mapping service.

The stored entries carry who worked how long on what (emails, notes): only the workspace's Core
admins read them, as they manage the mapping (``setup_http``).
"""

import datetime as dt

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.events import TimeEntryFields
from timebridge_common.http_errors import refusals
from timebridge_mapping.domain.entries import EntryKey
from timebridge_mapping.handlers.ports import MappingStore


class SourceEntryView(BaseModel):
    workspace_id: str
    source: str
    external_id: str
    entry: TimeEntryFields
    updated_at: dt.datetime
    deleted: bool
    last_event_id: str


def entries_router(store: MappingStore, admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter(tags=["entries"], dependencies=[Depends(admins.require)])

    @router.get(
        "/v1/workspaces/{workspace_id}/source-entries/{source}/{external_id}",
        summary="The newest version of a source entry the mapping service has seen",
        responses=refusals(404),
    )
    async def get_entry(
        workspace_id: WorkspaceIdPath, source: str, external_id: str
    ) -> SourceEntryView:
        stored = await store.get(EntryKey(workspace_id, source, external_id))
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such entry")
        return SourceEntryView(
            workspace_id=workspace_id,
            source=source,
            external_id=external_id,
            entry=stored.fields,
            updated_at=stored.updated_at,
            deleted=stored.deleted,
            last_event_id=str(stored.last_event_id),
        )

    return router
