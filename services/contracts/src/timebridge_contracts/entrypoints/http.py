"""HTTP routes of the contracts service: contracts, scopes, budgets, milestones, audit trail.

Every route needs the bearer token of one of the workspace's Core admins (as the other
services' management APIs): contracts carry rates and the audit trail who worked how long.
"""

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from timebridge_providers.core.client import CoreUser

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.http_errors import refusals
from timebridge_contracts.adapters.audit_export import csv_header, csv_rows
from timebridge_contracts.adapters.audit_log import AuditQuery, AuditTrail
from timebridge_contracts.adapters.audit_pdf import audit_pdf
from timebridge_contracts.adapters.postgres import PostgresStore
from timebridge_contracts.adapters.queries import Reads
from timebridge_contracts.handlers.commands import (
    BudgetIn,
    ContractIn,
    MilestoneIn,
    ReachedIn,
    ScopeIn,
    StatusIn,
)
from timebridge_contracts.handlers.contracts import (
    Contracts,
    budget_view,
    contract_view,
    milestone_view,
    scope_view,
)

_ID = r"^[A-Za-z0-9_.:-]{1,200}$"
PDF_MAX_RECORDS = 10_000  # a PDF is built in memory: more is for the CSV, or narrower filters
IdPath = Annotated[str, Path(pattern=_ID)]
QueryId = Annotated[str | None, Field(default=None, pattern=_ID)]


class AuditParams(BaseModel):
    """Filters of the audit trail (all optional; combined with AND)."""

    model_config = ConfigDict(extra="forbid")

    entry_id: QueryId = None
    contract_id: QueryId = None
    invoice_id: QueryId = None
    start: AwareDatetime | None = Field(default=None, description="Recorded at or after")
    end: AwareDatetime | None = Field(default=None, description="Recorded before")
    after_seq: int = Field(default=0, ge=0, description="Page on: the last seq seen")
    limit: int = Field(default=500, ge=1, le=1000)
    client_id: QueryId = None

    def query(self, **changes: Any) -> AuditQuery:
        fields = self.model_dump() | changes
        return AuditQuery(**fields)


def contracts_router(
    contracts: Contracts, store: PostgresStore, audit: AuditTrail, admins: WorkspaceAdmins
) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}",
        tags=["contracts"],
        dependencies=[Depends(admins.require)],
    )
    reads = Reads(store.pool)
    Admin = Annotated[CoreUser, Depends(admins.require)]

    def found(value: dict[str, Any] | None, what: str) -> dict[str, Any]:
        if value is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} does not exist")
        return value

    @router.get("/contracts", summary="The workspace's contracts (optionally by status)")
    async def list_contracts(
        workspace_id: WorkspaceIdPath,
        status_: Annotated[
            str | None, Query(alias="status", pattern="^(draft|signed|active|ended)$")
        ] = None,
    ) -> list[dict[str, Any]]:
        return await reads.contracts(workspace_id, status_)

    @router.post(
        "/contracts",
        status_code=201,
        summary="Create a draft contract for a mirrored client (client_id) or a named one",
        responses=refusals(422),
    )
    async def create_contract(
        workspace_id: WorkspaceIdPath, body: ContractIn, admin: Admin
    ) -> dict[str, Any]:
        return contract_view(await contracts.create(workspace_id, body, admin.id))

    @router.get(
        "/contracts/{contract_id}",
        summary="A contract with its scopes and budgets",
        responses=refusals(404),
    )
    async def get_contract(workspace_id: WorkspaceIdPath, contract_id: IdPath) -> dict[str, Any]:
        return found(await reads.contract(workspace_id, contract_id), f"contract {contract_id!r}")

    @router.put(
        "/contracts/{contract_id}",
        summary="Change a draft's terms (client, currency, dates, rate card, rounding)",
        responses=refusals(404, 409, 422),
    )
    async def update_contract(
        workspace_id: WorkspaceIdPath, contract_id: IdPath, body: ContractIn, admin: Admin
    ) -> dict[str, Any]:
        return contract_view(await contracts.update(workspace_id, contract_id, body, admin.id))

    @router.post(
        "/contracts/{contract_id}/status",
        summary="Sign (publishes ContractSigned once), activate or end the contract",
        responses=refusals(404, 409),
    )
    async def set_status(
        workspace_id: WorkspaceIdPath, contract_id: IdPath, body: StatusIn, admin: Admin
    ) -> dict[str, Any]:
        changed = await contracts.set_status(workspace_id, contract_id, body, admin.id)
        return contract_view(changed)

    @router.post(
        "/contracts/{contract_id}/scopes",
        status_code=201,
        summary="Add a scope: a set of Core projects or tickets (give it a budget)",
        responses=refusals(404, 409),
    )
    async def add_scope(
        workspace_id: WorkspaceIdPath, contract_id: IdPath, body: ScopeIn, admin: Admin
    ) -> dict[str, Any]:
        return scope_view(await contracts.add_scope(workspace_id, contract_id, body, admin.id))

    @router.put(
        "/budgets/{budget_id}",
        summary="Create or revise a budget (a change is a new revision; thresholds re-armed)",
        responses=refusals(404, 422),
    )
    async def put_budget(
        workspace_id: WorkspaceIdPath, budget_id: IdPath, body: BudgetIn, admin: Admin
    ) -> dict[str, Any]:
        return budget_view(await contracts.put_budget(workspace_id, budget_id, body, admin.id))

    @router.get(
        "/budgets/{budget_id}",
        summary="A budget: its revisions, what it consumed in its current period, and the"
        " thresholds crossed (not re-armed) in its revision",
        responses=refusals(404),
    )
    async def get_budget(workspace_id: WorkspaceIdPath, budget_id: IdPath) -> dict[str, Any]:
        budget = found(await reads.budget(workspace_id, budget_id), f"budget {budget_id!r}")
        return budget | {"consumed": await contracts.usage(workspace_id, budget_id)}

    @router.get("/projects/{project_id}/milestones", summary="A project's milestones")
    async def milestones(workspace_id: WorkspaceIdPath, project_id: IdPath) -> list[dict[str, Any]]:
        return await reads.milestones(workspace_id, project_id)

    @router.put(
        "/projects/{project_id}/milestones/{milestone_id}",
        summary="Define (or rename) a milestone of a Core project",
        responses=refusals(404),
    )
    async def put_milestone(
        workspace_id: WorkspaceIdPath,
        project_id: IdPath,
        milestone_id: IdPath,
        body: MilestoneIn,
    ) -> dict[str, Any]:
        made = await contracts.put_milestone(workspace_id, project_id, milestone_id, body)
        return milestone_view(made)

    @router.post(
        "/projects/{project_id}/milestones/{milestone_id}/reached",
        summary="Mark the milestone reached: MilestoneReached once (again: 200, nothing new)",
        responses=refusals(404),
    )
    async def reached(
        workspace_id: WorkspaceIdPath,
        *,
        project_id: IdPath,
        milestone_id: IdPath,
        body: ReachedIn,
        admin: Admin,
    ) -> dict[str, Any]:
        milestone, _ = await contracts.reach(workspace_id, project_id, milestone_id, body, admin.id)
        return milestone_view(milestone)

    @router.get(
        "/audit",
        summary="Audit records (hash-chained) by entry, contract, invoice and/or period",
        tags=["audit"],
    )
    async def audit_records(
        workspace_id: WorkspaceIdPath, params: Annotated[AuditParams, Query()]
    ) -> list[dict[str, Any]]:
        query = params.query()
        return await audit.records(workspace_id, query)

    @router.get(
        "/audit/export.csv",
        summary="The audit records matching the filters as CSV (all pages), with their hashes",
        tags=["audit"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {}}, "description": "One row per record"}},
    )
    async def audit_csv(
        workspace_id: WorkspaceIdPath, params: Annotated[AuditParams, Query()]
    ) -> StreamingResponse:
        async def rows() -> AsyncIterator[bytes]:
            yield csv_header()
            after = params.after_seq
            while True:
                query = params.query(after_seq=after, limit=1000)
                page = await audit.records(workspace_id, query)
                if not page:
                    return
                yield csv_rows(page)
                after = page[-1]["seq"]

        name = f"audit-{workspace_id}.csv"
        return StreamingResponse(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    @router.get(
        "/audit/export.pdf",
        summary="The audit records matching the filters as PDF, with their hashes and the"
        " chain's verification",
        tags=["audit"],
        response_class=Response,
        responses={
            200: {"content": {"application/pdf": {}}, "description": "The records, paged"},
            422: {"description": f"More than {PDF_MAX_RECORDS} records: narrow the filters"},
        },
    )
    async def audit_pdf_export(
        workspace_id: WorkspaceIdPath, params: Annotated[AuditParams, Query()]
    ) -> Response:
        exported_at = dt.datetime.now(dt.UTC)
        records: list[dict[str, Any]] = []
        after = params.after_seq
        while page := await audit.records(workspace_id, params.query(after_seq=after, limit=1000)):
            records.extend(page)
            if len(records) > PDF_MAX_RECORDS:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_ENTITY,
                    f"more than {PDF_MAX_RECORDS} records for one PDF: narrow the filters"
                    " (period, contract, client) or export CSV",
                )
            after = page[-1]["seq"]
        filters = {
            k: v.isoformat() if isinstance(v, dt.datetime) else str(v)
            for k, v in params.model_dump(exclude={"limit"}).items()
            if v not in (None, 0)
        }
        verdict = await audit.verify(workspace_id)
        body = audit_pdf(workspace_id, filters, verdict.describe(), records, exported_at)
        name = f"audit-{workspace_id}.pdf"
        return Response(
            body,
            media_type="application/pdf",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    @router.get(
        "/audit/verify",
        summary="Walk the workspace's hash chain; report the first broken link",
        tags=["audit"],
    )
    async def verify(workspace_id: WorkspaceIdPath) -> dict[str, Any]:
        result = await audit.verify(workspace_id)
        return {
            "ok": result.ok,
            "checked": result.checked,
            "first_broken_seq": result.first_broken_seq,
            "reason": result.reason,
        }

    return router
