"""Routes for connections' health in the sync log (Core admins only, as the rest of the log).

``/connection-log`` lists the connections' changes of state; ``/sync-log/timeline`` is the sync
log with them in place, newest first, each row with its ``kind`` (``entry`` or ``connection``),
so an admin reads "the tracker refused the credential at 10:02" among the entries' outcomes.
"""

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query

from timebridge_common.api import WorkspaceIdPath
from timebridge_reporting.domain.connection_health import (
    STATE_STATUS,
    ConnectionLogQuery,
    as_log_row,
    merged,
)
from timebridge_reporting.domain.sync_log import SyncLogQuery


class EntryLog(Protocol):
    async def sync_log(self, workspace_id: str, query: SyncLogQuery) -> list[dict[str, Any]]: ...


class ConnectionHealthReader(Protocol):
    async def changes(
        self, workspace_id: str, query: ConnectionLogQuery
    ) -> list[dict[str, Any]]: ...

    async def current(self, workspace_id: str, integration_id: str) -> dict[str, Any] | None: ...


def add_connection_routes(
    router: APIRouter, entries: EntryLog, health: ConnectionHealthReader
) -> None:
    @router.get(
        "/v1/workspaces/{workspace_id}/connection-log",
        summary="Connections' changes of health (credential refused, polls failing, ok again)",
    )
    async def connection_log(
        workspace_id: WorkspaceIdPath, query: Annotated[ConnectionLogQuery, Query()]
    ) -> list[dict[str, Any]]:
        return [as_log_row(row) for row in await health.changes(workspace_id, query)]

    @router.get(
        "/v1/workspaces/{workspace_id}/sync-log/timeline",
        summary="The sync log with the connections' changes of health in place (kind)",
    )
    async def timeline(
        workspace_id: WorkspaceIdPath, query: Annotated[SyncLogQuery, Query()]
    ) -> list[dict[str, Any]]:
        rows = await entries.sync_log(workspace_id, query)
        connections: list[dict[str, Any]] = []
        if query.entry is None and query.user is None:  # a connection is no entry's, no user's
            changes = await health.changes(
                workspace_id,
                ConnectionLogQuery(
                    integration_id=query.integration_id,
                    since=query.since,
                    until=query.until,
                    limit=query.limit,
                ),
            )
            connections = [
                as_log_row(row)
                for row in changes
                if query.status is None or STATE_STATUS[row["state"]] == query.status
            ]
        return merged(rows, connections, query.limit)
