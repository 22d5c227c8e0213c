"""HTTP API of history imports: start an initial import or a backfill, read its progress."""

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.http_errors import refusals
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.runtime import ServiceRuntime
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.imports import ImportKind, ImportRun
from timebridge_ingest.handlers.imports import ImportRunner, Imports, ImportStore, OpenObserver
from timebridge_ingest.handlers.ports import ConnectionsStore

T = TypeVar("T")


async def _answer(call: Awaitable[T]) -> T:
    try:
        return await call
    except RejectedError as exc:
        raise HTTPException(exc.status, exc.reason) from None


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_date: dt.date = Field(alias="from", description="The first day to import")
    to_date: dt.date | None = Field(
        default=None, alias="to", description="The last day to import (default: today, UTC)"
    )
    kind: ImportKind = Field(
        default="backfill",
        description="initial: the history when the integration is connected; backfill: a"
        " period asked for later",
    )


class ImportView(BaseModel):
    """A run's progress: days covered of the period, windows done, entries observed."""

    import_id: str
    integration_id: str
    kind: ImportKind
    state: Literal["queued", "running", "waiting", "done", "failed", "cancelled"]
    from_date: dt.date = Field(serialization_alias="from")
    to_date: dt.date = Field(serialization_alias="to")
    percent: int
    days_done: int
    days_total: int
    windows_done: int
    windows_total: int
    covered_until: dt.date | None
    entries_observed: int
    last_error: str | None
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    next_attempt_at: dt.datetime | None

    @classmethod
    def of(cls, run: ImportRun) -> "ImportView":
        return cls(
            import_id=run.import_id,
            integration_id=run.integration_id,
            kind=run.kind,
            state=run.state,
            from_date=run.from_date,
            to_date=run.to_date,
            percent=run.percent,
            days_done=run.days_done,
            days_total=run.days_total,
            windows_done=run.windows_done,
            windows_total=run.windows_total,
            covered_until=run.covered_until,
            entries_observed=run.entries_observed,
            last_error=run.last_error,
            requested_at=run.requested_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            next_attempt_at=run.next_attempt_at if run.active else None,
        )


def imports_router(imports: Imports, admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}/integrations/{integration_id}/imports",
        tags=["imports"],
        dependencies=[Depends(admins.require)],
    )

    @router.post(
        "",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Import the tracker's history for a period (initial import or backfill)",
        responses=refusals(404, 409, 422),
        response_model_by_alias=True,
    )
    async def start(
        workspace_id: WorkspaceIdPath, integration_id: str, body: ImportBody
    ) -> ImportView:
        """Accepted: the run covers the period window by window, oldest first; read its
        progress at ``.../imports/{import_id}``. One unfinished run per integration (409)."""
        run = await _answer(
            imports.start(
                workspace_id,
                integration_id,
                kind=body.kind,
                from_date=body.from_date,
                to_date=body.to_date,
            )
        )
        return ImportView.of(run)

    @router.get("", summary="The integration's imports, newest first", responses=refusals(404))
    async def runs(workspace_id: WorkspaceIdPath, integration_id: str) -> list[ImportView]:
        return [ImportView.of(r) for r in await _answer(imports.runs(workspace_id, integration_id))]

    @router.get("/{import_id}", summary="One import's progress", responses=refusals(404))
    async def one(workspace_id: WorkspaceIdPath, integration_id: str, import_id: str) -> ImportView:
        return ImportView.of(await _answer(imports.get(workspace_id, integration_id, import_id)))

    return router


def wire(
    store: ImportStore,
    connections: ConnectionsStore,
    open_observer: OpenObserver,
    publisher: EventPublisher,
    *,
    clock: Callable[[], dt.datetime],
    publish_timeout_s: float,
    runtime: ServiceRuntime,
    app: FastAPI,
    admins: WorkspaceAdmins,
) -> ImportRunner:
    """The imports API on ``app`` and the runner among ``runtime``'s background tasks."""
    runner = ImportRunner(store, connections, open_observer, publisher, clock, publish_timeout_s)
    app.include_router(imports_router(Imports(store, connections, clock, runner.wake), admins))
    runtime.background.append(runner.run)
    return runner
