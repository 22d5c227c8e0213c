"""HTTP routes of the conflict-resolver."""

import datetime as dt
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from timebridge_common.api import WorkspaceIdPath
from timebridge_conflict_resolver.adapters.postgres import PostgresObservations


def observations_router(store: PostgresObservations) -> APIRouter:
    router = APIRouter(tags=["observations"])

    @router.get(
        "/v1/workspaces/{workspace_id}/observations",
        summary="Entries seen on any side for one person and day (match-by-timestamp input)",
    )
    async def list_observations(
        workspace_id: WorkspaceIdPath, person: str, date: dt.date
    ) -> list[dict[str, Any]]:
        return [asdict(o) for o in await store.for_person_day(workspace_id, person, date)]

    return router
