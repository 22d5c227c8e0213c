"""HTTP routes of the reporting service."""

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from timebridge_common.api import WorkspaceIdPath
from timebridge_reporting.adapters.postgres import PostgresReadModels


def reports_router(models: PostgresReadModels) -> APIRouter:
    router = APIRouter(tags=["sync log"])

    @router.get(
        "/v1/workspaces/{workspace_id}/sync-log",
        summary="Sync outcomes, newest first (filter by status=error to see failures)",
    )
    async def sync_log(
        workspace_id: WorkspaceIdPath,
        integration_id: str | None = None,
        status: Literal["synced", "skipped", "queued", "conflict", "error"] | None = None,
        since: dt.datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        return await models.sync_log(
            workspace_id, integration_id=integration_id, status=status, since=since, limit=limit
        )

    return router
