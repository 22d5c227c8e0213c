"""HTTP API of invoice-export: the Integrations, Clients, Projects, Rates, Expenses and Invoices
screens of the accounting article, as JSON.

Every ``/v1/workspaces/{workspace_id}/...`` route needs the bearer token of one of the
workspace's Core admins. The OAuth callback is authenticated by its one-time ``state``; the
webhooks by the tools' signatures (``webhooks_http``).
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, Field
from timebridge_providers.core.client import CoreUser

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.http_errors import refusals
from timebridge_invoice_export.domain.accounting import PROVIDER_NAMES, Provider
from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.connections import AccountingConnection
from timebridge_invoice_export.domain.invoices import Expense, Line
from timebridge_invoice_export.domain.ledger import LedgerEntry
from timebridge_invoice_export.domain.rates import Rate
from timebridge_invoice_export.handlers.billing import Billing, ProjectView
from timebridge_invoice_export.handlers.connections import Connections
from timebridge_invoice_export.handlers.invoices import Invoices, InvoiceView

WS = "/v1/workspaces/{workspace_id}"
Id = Annotated[str, Path(min_length=1, max_length=200)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]


class AuthorizeView(BaseModel):
    authorize_url: str = Field(description="Send the admin's browser here")
    state: str
    redirect_uri: str
    expires_at: dt.datetime


class TenantView(BaseModel):
    id: str
    name: str


class ConnectionView(BaseModel):
    connection_id: str
    provider: Provider
    provider_name: str
    status: str
    tenant_id: str | None
    tenant_name: str | None
    tenants: list[TenantView] = Field(description="Offered companies, when one must be chosen")
    mirrored_at: dt.datetime | None
    last_poll_at: dt.datetime | None
    last_error: str | None
    webhooks_registered_at: dt.datetime | None = Field(
        description="FreshBooks: when its callbacks were registered for this company"
    )
    verified_webhooks: int = Field(description="FreshBooks callbacks confirmed by FreshBooks")

    @classmethod
    def of(cls, c: AccountingConnection) -> "ConnectionView":
        return cls(
            connection_id=c.connection_id,
            provider=c.provider,
            provider_name=PROVIDER_NAMES[c.provider],
            status=c.status,
            tenant_id=c.tenant_id,
            tenant_name=c.tenant_name,
            tenants=[TenantView(id=t.id, name=t.name) for t in c.tenants],
            mirrored_at=c.mirrored_at,
            last_poll_at=c.last_poll_at,
            last_error=c.last_error,
            webhooks_registered_at=c.webhooks_registered_at,
            verified_webhooks=c.verified_webhooks,
        )


class TenantChoice(BaseModel):
    tenant_id: str = Field(min_length=1)


class ClientView(BaseModel):
    client_id: str
    name: str
    source: str = Field(description="The tool it was taken from (the article's icon)")
    connection_id: str
    external_id: str
    email: str | None
    address: dict[str, str | None] | None
    tax: dict[str, Any]
    currency: str | None
    status: Literal["active", "archived"]
    archived_by: Literal["tool", "timebridge"] | None

    @classmethod
    def of(cls, c: MirroredClient) -> "ClientView":
        return cls(
            client_id=c.client_id,
            name=c.name,
            source=c.provider,
            connection_id=c.connection_id,
            external_id=c.external_id,
            email=c.email,
            address=None if c.address is None else _fields(c.address),
            tax=_fields(c.tax),
            currency=c.currency,
            status=c.status,
            archived_by=c.archived_by,
        )


class ProjectBody(BaseModel):
    client_id: str = Field(min_length=1)


class ProjectOut(BaseModel):
    project_id: str
    name: str
    archived: bool
    client_id: str | None

    @classmethod
    def of(cls, p: ProjectView) -> "ProjectOut":
        return cls(project_id=p.project_id, name=p.name, archived=p.archived, client_id=p.client_id)


class RateBody(BaseModel):
    project_id: str | None = Field(default=None, description="Core project")
    user_id: str | None = Field(default=None, description="Core user")
    hourly_rate: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
    currency: Currency


class RateView(BaseModel):
    rate_id: str
    project_id: str | None
    user_id: str | None
    hourly_rate: Decimal
    currency: str
    scope: str

    @classmethod
    def of(cls, r: Rate) -> "RateView":
        return cls(
            rate_id=r.rate_id,
            project_id=r.project_id,
            user_id=r.user_id,
            hourly_rate=r.hourly_rate,
            currency=r.currency,
            scope=r.scope,
        )


class ExpenseBody(BaseModel):
    project_id: str = Field(min_length=1)
    date: dt.date
    description: str = Field(min_length=1, max_length=4000)
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
    currency: Currency
    billable: bool = True


class ExpenseView(BaseModel):
    expense_id: str
    project_id: str
    date: dt.date
    description: str
    amount: Decimal
    currency: str
    billable: bool
    invoice_id: str | None

    @classmethod
    def of(cls, e: Expense) -> "ExpenseView":
        return cls(**_fields(e))


class EntryView(BaseModel):
    entry_id: str
    user_id: str
    user_email: str | None
    project_id: str | None
    ticket_id: str | None
    date: dt.date
    duration_seconds: int
    notes: str
    billable: bool
    deleted: bool
    invoice_id: str | None = Field(description="The invoice it is on; set means invoiced")

    @classmethod
    def of(cls, e: LedgerEntry) -> "EntryView":
        return cls(**{k: v for k, v in _fields(e).items() if k in cls.model_fields})


class InvoiceBody(BaseModel):
    client_id: str = Field(min_length=1)
    period_start: dt.date
    period_end: dt.date
    issue_date: dt.date | None = Field(default=None, description="Default: the period's end")
    due_date: dt.date | None = None


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


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def api_router(
    connections: Connections, billing: Billing, invoices: Invoices, admins: WorkspaceAdmins
) -> APIRouter:
    # The use cases refuse with the reason (timebridge_common.refusals) on any of these routes.
    router = APIRouter(
        dependencies=[Depends(admins.require)], responses=refusals(404, 409, 422, 502)
    )
    Admin = Annotated[CoreUser, Depends(admins.require)]

    @router.post(f"{WS}/accounting/{{provider}}/authorize", tags=["connections"])
    async def authorize(
        workspace_id: WorkspaceIdPath, provider: Provider, admin: Admin
    ) -> AuthorizeView:
        """Start connecting QuickBooks Online, Xero or FreshBooks: open ``authorize_url``."""
        a = await connections.authorize(workspace_id, provider, admin.id)
        return AuthorizeView(
            authorize_url=a.authorize_url,
            state=a.state,
            redirect_uri=a.redirect_uri,
            expires_at=a.expires_at,
        )

    @router.get(f"{WS}/accounting/connections", tags=["connections"])
    async def list_connections(workspace_id: WorkspaceIdPath) -> list[ConnectionView]:
        return [ConnectionView.of(c) for c in await connections.list(workspace_id)]

    @router.get(f"{WS}/accounting/connections/{{connection_id}}", tags=["connections"])
    async def get_connection(workspace_id: WorkspaceIdPath, connection_id: Id) -> ConnectionView:
        return ConnectionView.of(await connections.get(workspace_id, connection_id))

    @router.post(f"{WS}/accounting/connections/{{connection_id}}/tenant", tags=["connections"])
    async def choose_tenant(
        workspace_id: WorkspaceIdPath, connection_id: Id, body: TenantChoice
    ) -> ConnectionView:
        """Choose the company when the consent covered several."""
        chosen = await connections.choose_tenant(workspace_id, connection_id, body.tenant_id)
        return ConnectionView.of(chosen)

    @router.delete(f"{WS}/accounting/connections/{{connection_id}}", tags=["connections"])
    async def disconnect(workspace_id: WorkspaceIdPath, connection_id: Id) -> ConnectionView:
        return ConnectionView.of(await connections.disconnect(workspace_id, connection_id))

    @router.get(f"{WS}/clients", tags=["clients"])
    async def list_clients(
        workspace_id: WorkspaceIdPath,
        client_status: Annotated[
            Literal["active", "archived"] | None, Query(alias="status")
        ] = None,
    ) -> list[ClientView]:
        return [ClientView.of(c) for c in await billing.clients(workspace_id, client_status)]

    @router.get(f"{WS}/clients/{{client_id}}", tags=["clients"])
    async def get_client(workspace_id: WorkspaceIdPath, client_id: Id) -> ClientView:
        return ClientView.of(await billing.client(workspace_id, client_id))

    @router.post(f"{WS}/clients/{{client_id}}/archive", tags=["clients"])
    async def archive_client(workspace_id: WorkspaceIdPath, client_id: Id) -> ClientView:
        return ClientView.of(await billing.archive(workspace_id, client_id, True))

    @router.post(f"{WS}/clients/{{client_id}}/unarchive", tags=["clients"])
    async def unarchive_client(workspace_id: WorkspaceIdPath, client_id: Id) -> ClientView:
        return ClientView.of(await billing.archive(workspace_id, client_id, False))

    @router.delete(
        f"{WS}/clients/{{client_id}}",
        tags=["clients"],
        responses={409: {"description": "Clients from accounting tools are only archived"}},
    )
    async def delete_client(workspace_id: WorkspaceIdPath, client_id: Id) -> None:
        await billing.delete_client(workspace_id, client_id)

    @router.get(f"{WS}/projects", tags=["projects"])
    async def list_projects(workspace_id: WorkspaceIdPath) -> list[ProjectOut]:
        """Core's projects and the client each is assigned to."""
        return [ProjectOut.of(p) for p in await billing.projects(workspace_id)]

    @router.put(f"{WS}/projects/{{project_id}}", tags=["projects"])
    async def assign_project(
        workspace_id: WorkspaceIdPath, project_id: Id, body: ProjectBody
    ) -> ProjectOut:
        return ProjectOut.of(await billing.assign(workspace_id, project_id, body.client_id))

    @router.delete(
        f"{WS}/projects/{{project_id}}/client",
        tags=["projects"],
        status_code=status.HTTP_204_NO_CONTENT,
    )
    async def unassign_project(workspace_id: WorkspaceIdPath, project_id: Id) -> None:
        await billing.unassign(workspace_id, project_id)

    @router.get(f"{WS}/rates", tags=["rates"])
    async def list_rates(workspace_id: WorkspaceIdPath) -> list[RateView]:
        return [RateView.of(r) for r in await billing.rates(workspace_id)]

    @router.put(f"{WS}/rates", tags=["rates"])
    async def put_rate(workspace_id: WorkspaceIdPath, body: RateBody) -> RateView:
        """Set the hourly rate of a project, a user, or a user on a project. Which applies:
        the user's on the project, else the project's, else the user's own."""
        rate = await billing.put_rate(
            workspace_id,
            project_id=body.project_id,
            user_id=body.user_id,
            hourly_rate=body.hourly_rate,
            currency=body.currency,
        )
        return RateView.of(rate)

    @router.delete(
        f"{WS}/rates/{{rate_id}}", tags=["rates"], status_code=status.HTTP_204_NO_CONTENT
    )
    async def delete_rate(workspace_id: WorkspaceIdPath, rate_id: Id) -> None:
        await billing.delete_rate(workspace_id, rate_id)

    @router.post(f"{WS}/expenses", tags=["expenses"], status_code=status.HTTP_201_CREATED)
    async def add_expense(workspace_id: WorkspaceIdPath, body: ExpenseBody) -> ExpenseView:
        expense = await billing.add_expense(workspace_id, **body.model_dump())
        return ExpenseView.of(expense)

    @router.get(f"{WS}/expenses", tags=["expenses"])
    async def list_expenses(workspace_id: WorkspaceIdPath) -> list[ExpenseView]:
        return [ExpenseView.of(e) for e in await billing.expenses(workspace_id)]

    @router.delete(
        f"{WS}/expenses/{{expense_id}}",
        tags=["expenses"],
        status_code=status.HTTP_204_NO_CONTENT,
    )
    async def delete_expense(workspace_id: WorkspaceIdPath, expense_id: Id) -> None:
        await billing.delete_expense(workspace_id, expense_id)

    @router.get(f"{WS}/billable-entries", tags=["invoices"])
    async def billable_entries(
        workspace_id: WorkspaceIdPath, uninvoiced: bool = False
    ) -> list[EntryView]:
        """Core's time entries as the ledger holds them; ``invoice_id`` marks invoiced ones."""
        return [EntryView.of(e) for e in await billing.entries(workspace_id, uninvoiced=uninvoiced)]

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


def oauth_router(connections: Connections) -> APIRouter:
    router = APIRouter(tags=["connections"], responses=refusals(404, 409, 422, 502))

    @router.get("/v1/oauth/{provider}/callback")
    async def callback(provider: Provider, request: Request) -> ConnectionView:
        """Where the tool sends the admin's browser back (with ``code``, ``state``, and for
        QuickBooks ``realmId``)."""
        params = dict(request.query_params)
        return ConnectionView.of(await connections.complete(provider, params))

    return router
