"""HTTP API of invoices: draft, preview, export, read the tool's status, delete."""

import datetime as dt
from dataclasses import asdict
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field
from timebridge_providers.core.client import CoreUser

from timebridge_common.auth import WorkspaceAdmins
from timebridge_invoice_export.domain.invoices import Line
from timebridge_invoice_export.domain.rounding import RoundingUsed
from timebridge_invoice_export.entrypoints.http_billing import ClientView
from timebridge_invoice_export.entrypoints.paths import WS, Id, WorkspaceIdPath
from timebridge_invoice_export.handlers.invoices import Invoices, InvoiceView


class InvoiceBody(BaseModel):
    client_id: str = Field(min_length=1)
    period_start: dt.date
    period_end: dt.date
    issue_date: dt.date | None = Field(default=None, description="Default: the period's end")
    due_date: dt.date | None = None


class RoundingUsedView(BaseModel):
    policy_id: str = Field(description="workspace, or client:<client id>")
    version: int
    increment_minutes: int
    applies_to: Literal["per_entry", "per_line"]

    @classmethod
    def of(cls, used: RoundingUsed) -> "RoundingUsedView":
        return cls(**asdict(used))


class LineView(BaseModel):
    kind: Literal["time", "expense"]
    description: str
    project_id: str | None
    user_id: str | None
    quantity: Decimal = Field(description="Hours (hundredths) for time; 1 for an expense")
    unit_price: Decimal
    amount: Decimal
    entry_ids: list[str]
    expense_id: str | None
    rate_source: str | None = Field(
        default=None, description="Where a time line's rate came from: timebridge, tracker:<id>"
    )
    rounding: RoundingUsedView | None = Field(
        default=None, description="The rounding policy version that made the quantity"
    )

    @classmethod
    def of(cls, line: Line) -> "LineView":
        return cls(
            kind=line.kind,
            description=line.description,
            project_id=line.project_id,
            user_id=line.user_id,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            entry_ids=list(line.entry_ids),
            expense_id=line.expense_id,
            rate_source=line.rate_source,
            rounding=None if line.rounding is None else RoundingUsedView.of(line.rounding),
        )


class ProblemView(BaseModel):
    code: str
    message: str
    entry_ids: list[str]
    expense_ids: list[str]


class ToolState(BaseModel):
    """The invoice as the accounting tool shows it (kept in sync after the export)."""

    provider_invoice_id: str | None
    status: str | None
    number: str | None
    issue_date: dt.date | None
    amount: Decimal | None
    checked_at: dt.datetime | None
    total_with_tax: Decimal | None = Field(
        default=None, description="What the customer owes in all, tax included: payments settle it"
    )
    overpaid: Decimal = Field(
        default=Decimal(0),
        description="Paid for this invoice beyond total_with_tax (a credit the customer holds:"
        " applied beyond it, or left unapplied by payments of this invoice alone)",
    )


class InvoiceOut(BaseModel):
    invoice_id: str
    client: ClientView
    status: str
    editable: bool
    period_start: dt.date
    period_end: dt.date
    issue_date: dt.date
    due_date: dt.date | None
    currency: str | None
    lines: list[LineView]
    total: Decimal
    problems: list[ProblemView]
    warnings: list[str]
    amount_changed: bool
    tool: ToolState
    exported_at: dt.datetime | None
    deleted_at: dt.datetime | None

    @classmethod
    def of(cls, view: InvoiceView) -> "InvoiceOut":
        i, c = view.invoice, view.computed
        return cls(
            invoice_id=i.invoice_id,
            client=ClientView.of(view.client),
            status=i.status,
            editable=i.status in ("draft", "export_failed"),
            period_start=i.period_start,
            period_end=i.period_end,
            issue_date=i.issue_date,
            due_date=i.due_date,
            currency=c.currency,
            lines=[LineView.of(line) for line in c.lines],
            total=c.total,
            problems=[
                ProblemView(
                    code=p.code,
                    message=p.message,
                    entry_ids=list(p.entry_ids),
                    expense_ids=list(p.expense_ids),
                )
                for p in c.problems
            ],
            warnings=list(view.warnings),
            amount_changed=i.amount_changed,
            tool=ToolState(
                provider_invoice_id=i.provider_invoice_id,
                status=i.tool_status,
                number=i.number,
                issue_date=i.tool_issue_date,
                amount=i.tool_total,
                checked_at=i.tool_checked_at,
                total_with_tax=i.tool_gross_total,
                overpaid=i.overpaid,
            ),
            exported_at=i.exported_at,
            deleted_at=i.deleted_at,
        )


class InvoiceSummary(BaseModel):
    invoice_id: str
    client_id: str
    status: str
    period_start: dt.date
    period_end: dt.date
    currency: str | None
    total: Decimal | None
    tool_status: str | None
    number: str | None
    amount_changed: bool


def invoices_router(invoices: Invoices, admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter()
    Admin = Annotated[CoreUser, Depends(admins.require)]

    @router.post(f"{WS}/invoices", tags=["invoices"], status_code=status.HTTP_201_CREATED)
    async def create_invoice(
        workspace_id: WorkspaceIdPath, body: InvoiceBody, admin: Admin
    ) -> InvoiceOut:
        """A draft of the client's billable, uninvoiced hours and expenses of the period."""
        view = await invoices.create(
            workspace_id,
            body.client_id,
            body.period_start,
            body.period_end,
            issue_date=body.issue_date,
            due_date=body.due_date,
            admin=admin.id,
        )
        return InvoiceOut.of(view)

    @router.get(f"{WS}/invoices", tags=["invoices"])
    async def list_invoices(
        workspace_id: WorkspaceIdPath,
        client_id: str | None = None,
        invoice_status: Annotated[str | None, Query(alias="status")] = None,
    ) -> list[InvoiceSummary]:
        found = await invoices.list(workspace_id, client_id=client_id, status=invoice_status)
        return [
            InvoiceSummary(
                invoice_id=i.invoice_id,
                client_id=i.client_id,
                status=i.status,
                period_start=i.period_start,
                period_end=i.period_end,
                currency=i.currency,
                total=i.total,
                tool_status=i.tool_status,
                number=i.number,
                amount_changed=i.amount_changed,
            )
            for i in found
        ]

    @router.get(f"{WS}/invoices/{{invoice_id}}", tags=["invoices"])
    async def preview_invoice(workspace_id: WorkspaceIdPath, invoice_id: Id) -> InvoiceOut:
        """The preview: lines, total, problems that block the export, warnings."""
        return InvoiceOut.of(await invoices.view(workspace_id, invoice_id))

    @router.post(f"{WS}/invoices/{{invoice_id}}/refresh", tags=["invoices"])
    async def refresh_invoice(workspace_id: WorkspaceIdPath, invoice_id: Id) -> InvoiceOut:
        return InvoiceOut.of(await invoices.refresh(workspace_id, invoice_id))

    @router.post(
        f"{WS}/invoices/{{invoice_id}}/export",
        tags=["invoices"],
        status_code=status.HTTP_202_ACCEPTED,
    )
    async def export_invoice(workspace_id: WorkspaceIdPath, invoice_id: Id) -> InvoiceOut:
        """Copy the invoice to its tool as a draft (asynchronously; a repeat does nothing)."""
        return InvoiceOut.of(await invoices.request_export(workspace_id, invoice_id))

    @router.post(f"{WS}/invoices/{{invoice_id}}/sync", tags=["invoices"])
    async def sync_invoice(workspace_id: WorkspaceIdPath, invoice_id: Id) -> InvoiceOut:
        """Read the exported invoice's status, number, date and amount from the tool now."""
        return InvoiceOut.of(await invoices.sync_status(workspace_id, invoice_id))

    @router.delete(f"{WS}/invoices/{{invoice_id}}", tags=["invoices"])
    async def delete_invoice(workspace_id: WorkspaceIdPath, invoice_id: Id) -> InvoiceOut:
        """Delete in Timebridge and mark its entries as uninvoiced."""
        return InvoiceOut.of(await invoices.delete(workspace_id, invoice_id))

    return router

    return router
