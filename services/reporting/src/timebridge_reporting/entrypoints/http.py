"""HTTP routes of the reporting service: sync logs, entry status, integration health, billing.

Every route needs the bearer token of one of the workspace's Core admins, as mapping's and the
conflict-resolver's APIs do: the sync log carries who worked how long on what (users' emails,
notes), which is the admins' view of the integration, not every member's.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from timebridge_providers.core.client import CoreClient

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.domain.sync_log import SyncLogQuery
from timebridge_reporting.entrypoints.health_http import (
    ConnectionHealthReader,
    add_connection_routes,
)

CoreFactory = Callable[[str, str], CoreClient]
"""(base URL, token) -> a Core client, for the admin checks."""


def reports_router(
    models: PostgresReadModels,
    admins: WorkspaceAdmins,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    connection_health: ConnectionHealthReader | None = None,
) -> APIRouter:
    """``connection_health``: also the connections' health (in the integration's health, the
    connection log and the sync log's timeline)."""
    router = APIRouter(tags=["sync log"], dependencies=[Depends(admins.require)])

    @router.get(
        "/v1/workspaces/{workspace_id}/sync-log",
        summary="Sync outcomes, newest first (the guide's Sync Logs, filter status=error)",
    )
    async def sync_log(
        workspace_id: WorkspaceIdPath, query: Annotated[SyncLogQuery, Query()]
    ) -> list[dict[str, Any]]:
        return await models.sync_log(workspace_id, query)

    @router.get(
        "/v1/workspaces/{workspace_id}/entries/{source}/{external_id}/sync-status",
        summary="An entry's sync status per target: always its last EntrySynced",
    )
    async def entry_status(
        workspace_id: WorkspaceIdPath, source: str, external_id: str
    ) -> list[dict[str, Any]]:
        return await models.entry_status(workspace_id, source, external_id)

    @router.get(
        "/v1/workspaces/{workspace_id}/entries/core/{entry_id}/invoice",
        summary="The invoice a Core entry is on (null: not invoiced)",
        tags=["billing"],
    )
    async def entry_invoice(workspace_id: WorkspaceIdPath, entry_id: str) -> dict[str, Any] | None:
        return await models.entry_invoice(workspace_id, entry_id)

    @router.get(
        "/v1/workspaces/{workspace_id}/invoices",
        summary="Exported invoices with their status, number and amount in the tool",
        tags=["billing"],
    )
    async def invoices(workspace_id: WorkspaceIdPath) -> list[dict[str, Any]]:
        return await models.invoices(workspace_id)

    @router.get(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}/health",
        summary="Last success, last error, errors in 24 h, backlog, open conflicts and the"
        " connection's state (null: no failure seen)",
    )
    async def health(workspace_id: WorkspaceIdPath, integration_id: str) -> dict[str, Any]:
        answer = asdict(await models.health(workspace_id, integration_id, clock()))
        if connection_health is not None:
            answer["connection"] = await connection_health.current(workspace_id, integration_id)
        return answer

    if connection_health is not None:
        add_connection_routes(router, models, connection_health)
    return router
