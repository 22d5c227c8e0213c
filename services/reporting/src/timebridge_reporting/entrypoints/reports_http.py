"""HTTP routes of the reports: ad-hoc reports in every format, definitions, runs, downloads.

Core admins of the workspace manage definitions and read reports (the same ``WorkspaceAdmins``
check as the sync log); recipients only receive mail.
"""

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_reporting.adapters.formats import MEDIA_TYPES, Format, render
from timebridge_reporting.adapters.inbound import PostgresInbound
from timebridge_reporting.adapters.runs import Definition, NameTakenError, PostgresRuns, RunRequest
from timebridge_reporting.adapters.work import PostgresWork
from timebridge_reporting.domain.definitions import DefinitionBody, covered_period
from timebridge_reporting.domain.report_model import Period, ReportKind, ReportParams
from timebridge_reporting.handlers.build import ReportQueries, build_report

Clock = Callable[[], dt.datetime]
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Id = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{1,200}$")]
FormatQuery = Literal["json", "csv", "xlsx", "pdf"]
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report in the asked format (JSON unless format= says otherwise)",
        "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()},
    }
}


def declared(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` naming a route's own refusals (the error body is the app-wide one)."""
    texts = {
        404: "No such definition or run",
        409: "A definition already has that name",
        422: "The request does not satisfy the schema (e.g. a period over a year)",
    }
    return {s: {"description": texts[s]} for s in statuses}


class ReportQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.date
    end: dt.date
    group_by: Literal["client", "project", "task", "user"] = "project"
    interval: Literal["day", "week", "month", "total"] = "total"
    source: str = Field(default="core", pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    project: list[Id] = Field(default_factory=list, max_length=100)
    client: list[Id] = Field(default_factory=list, max_length=100)
    capacity_hours_per_day: Decimal = Field(default=Decimal(8), ge=0, le=24)
    format: FormatQuery = "json"


class RunNow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.date | None = Field(default=None, description="Default: the definition's coverage")
    end: dt.date | None = None


def _definition_json(definition: Definition) -> dict[str, Any]:
    return {
        "definition_id": definition.definition_id,
        **definition.body.model_dump(mode="json"),
        "next_run_at": definition.next_fire_at,
        "created_at": definition.created_at,
        "updated_at": definition.updated_at,
    }


def _next_fire(body: DefinitionBody, now: dt.datetime) -> dt.datetime | None:
    return None if body.schedule is None else body.schedule.next_fire(now)


def _period(start: dt.date | None, end: dt.date | None, fallback: Period | None) -> Period:
    if start is None and end is None and fallback is not None:
        return fallback
    if start is None or end is None:
        raise HTTPException(422, "give both start and end")
    try:
        return Period(start=start, end=end)
    except ValidationError as exc:
        raise HTTPException(422, exc.errors()[0]["msg"]) from None


def report_routes(
    queries: ReportQueries,
    runs: PostgresRuns,
    work: PostgresWork,
    admins: WorkspaceAdmins,
    clock: Clock = lambda: dt.datetime.now(dt.UTC),
    *,
    inbound: PostgresInbound | None = None,
) -> APIRouter:
    router = APIRouter(tags=["reports"], dependencies=[Depends(admins.require)])
    base = "/v1/workspaces/{workspace_id}"

    @router.get(
        base + "/reports/{kind}",
        summary="A report for a period, now, as JSON, CSV, XLSX or PDF",
        response_class=Response,
        responses=FILES,
    )
    async def report(
        workspace_id: WorkspaceIdPath, kind: ReportKind, query: Annotated[ReportQuery, Query()]
    ) -> Response:
        params = ReportParams(
            kind=kind,
            group_by=query.group_by,
            interval=query.interval,
            source=query.source,
            projects=tuple(query.project),
            clients=tuple(query.client),
            capacity_hours_per_day=query.capacity_hours_per_day,
        )
        period = _period(query.start, query.end, None)
        built = await build_report(queries, workspace_id, params, period)
        return _file(render(built, query.format), query.format, f"{kind}-{period.label()}")

    @router.post(
        base + "/report-definitions",
        status_code=status.HTTP_201_CREATED,
        summary="Define a report: kind, parameters, formats, recipients, schedule, triggers",
        responses=declared(409),
    )
    async def create(workspace_id: WorkspaceIdPath, body: DefinitionBody) -> dict[str, Any]:
        now = clock()
        try:
            created = await runs.create(workspace_id, body, now, _next_fire(body, now))
        except NameTakenError:
            raise HTTPException(status.HTTP_409_CONFLICT, "a definition has that name") from None
        return _definition_json(created)

    @router.get(base + "/report-definitions", summary="The workspace's report definitions")
    async def definitions(workspace_id: WorkspaceIdPath) -> list[dict[str, Any]]:
        return [_definition_json(d) for d in await runs.all(workspace_id)]

    async def found(workspace_id: str, definition_id: str) -> Definition:
        definition = await runs.get(workspace_id, definition_id)
        if definition is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report definition")
        return definition

    @router.get(
        base + "/report-definitions/{definition_id}",
        summary="One definition",
        responses=declared(404),
    )
    async def definition(workspace_id: WorkspaceIdPath, definition_id: IdPath) -> dict[str, Any]:
        return _definition_json(await found(workspace_id, definition_id))

    @router.put(
        base + "/report-definitions/{definition_id}",
        summary="Change a definition (its schedule restarts from now)",
        responses=declared(404, 409),
    )
    async def change(
        workspace_id: WorkspaceIdPath, definition_id: IdPath, body: DefinitionBody
    ) -> dict[str, Any]:
        now = clock()
        try:
            changed = await runs.replace(
                workspace_id, definition_id, body, now, _next_fire(body, now)
            )
        except NameTakenError:
            raise HTTPException(status.HTTP_409_CONFLICT, "a definition has that name") from None
        if changed is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report definition")
        return _definition_json(changed)

    @router.delete(
        base + "/report-definitions/{definition_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Delete a definition (its history stays)",
        responses=declared(404),
    )
    async def delete(workspace_id: WorkspaceIdPath, definition_id: IdPath) -> Response:
        if not await runs.delete(workspace_id, definition_id, clock()):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such report definition")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        base + "/report-definitions/{definition_id}/runs",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Run now: rendered and delivered by the work loop (Idempotency-Key: once)",
        responses=declared(404),
    )
    async def run_now(
        workspace_id: WorkspaceIdPath,
        definition_id: IdPath,
        body: RunNow | None = None,
        idempotency_key: Annotated[
            str | None, Header(pattern=r"^[!-~]{1,100}$", description="Same key, same run")
        ] = None,
    ) -> dict[str, Any]:
        definition = await found(workspace_id, definition_id)
        now = clock()
        zone = definition.body.schedule.timezone if definition.body.schedule else None
        today = now.astimezone(zoneinfo.ZoneInfo(zone or definition.body.timezone)).date()
        week_start = definition.body.params.week_start
        fallback = covered_period(definition.body.default_coverage, today, week_start)
        period = _period(body.start if body else None, body.end if body else None, fallback)
        request = RunRequest(
            workspace_id,
            definition_id,
            f"manual:{idempotency_key or uuid.uuid4().hex}",
            "manual",
            definition.body.params,
            definition.body.formats,
            definition.body.recipients,
            period,
        )
        run_id, new = await runs.request(request, now)
        return {"run_id": run_id, "status": "pending" if new else "existing", "period": period}

    @router.get(base + "/report-runs", summary="Runs, newest first, with their deliveries")
    async def history(
        workspace_id: WorkspaceIdPath,
        definition_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[dict[str, Any]]:
        return await runs.runs(workspace_id, definition_id, limit)

    @router.get(
        base + "/report-runs/{run_id}/download/{fmt}",
        summary="A run's report in one of its formats (JSON is always kept)",
        response_class=Response,
        responses=FILES | declared(404),
    )
    async def download(workspace_id: WorkspaceIdPath, run_id: IdPath, fmt: Format) -> Response:
        body = await runs.output(workspace_id, run_id, fmt)
        if body is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such run or format (yet)")
        return _file(bytes(body), fmt, f"{run_id}")

    @router.get(
        base + "/report-requests",
        summary="Reports asked for by email, newest first: run, refused or unknown sender",
    )
    async def requests(
        workspace_id: WorkspaceIdPath, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> list[dict[str, object]]:
        return [] if inbound is None else await inbound.requests(workspace_id, limit)

    @router.get(base + "/reports-health", summary="Failed runs and deliveries (given up)")
    async def health(workspace_id: WorkspaceIdPath) -> dict[str, int]:
        return await work.failures(workspace_id)

    return router


def _file(body: bytes, fmt: Format, name: str) -> Response:
    headers = (
        {} if fmt == "json" else {"content-disposition": f'attachment; filename="{name}.{fmt}"'}
    )
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)
