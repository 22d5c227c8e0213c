"""HTTP API: ask a tracker for its own summary of a period now (reconciliation on demand)."""

import datetime as dt

from fastapi import APIRouter, Depends, FastAPI, HTTPException, status
from pydantic import BaseModel, Field

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.events.tracker_reports import TrackerSummaryReported, TrackerSummaryRequested
from timebridge_common.http_errors import refusals
from timebridge_common.kafka.publisher import UnavailableError
from timebridge_common.runtime import ServiceRuntime
from timebridge_ingest.handlers.tracker_summary import TrackerSummaries, check_period


class PeriodBody(BaseModel):
    start: dt.date = Field(description="First day of the period (the tracker's dates)")
    end: dt.date = Field(description="Last day, inclusive")


def tracker_summary_router(summaries: TrackerSummaries, admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/v1/workspaces/{workspace_id}/integrations/{integration_id}/tracker-summary",
        tags=["integrations"],
        summary="Fetch the tracker's own summary report for a period now and publish it"
        " (TrackerSummaryReported; the reconciliation report compares it with ours)",
        dependencies=[Depends(admins.require)],
        responses=refusals(404, 422, 503),
    )
    async def fetch_summary(
        workspace_id: WorkspaceIdPath, integration_id: str, body: PeriodBody
    ) -> TrackerSummaryReported:
        if why := check_period(body.start, body.end):
            raise HTTPException(422, why)
        try:
            summary = await summaries.on_demand(workspace_id, integration_id, body.start, body.end)
        except UnavailableError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"Kafka did not acknowledge the summary: {exc}",
                headers={"Retry-After": "5"},
            ) from None
        if summary is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no connected tracker integration {integration_id!r} in this workspace",
            )
        return summary

    return router


def wire(
    summaries: TrackerSummaries, runtime: ServiceRuntime, app: FastAPI, admins: WorkspaceAdmins
) -> None:
    """The route, and the subscription answering ``TrackerSummaryRequested``."""
    app.include_router(tracker_summary_router(summaries, admins))
    runtime.subscribe(TrackerSummaryRequested, summaries.on_requested)
