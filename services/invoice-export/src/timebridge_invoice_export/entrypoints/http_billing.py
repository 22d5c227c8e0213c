"""HTTP API of the billing setup: clients, projects, rates, expenses and billable entries."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.invoices import Expense
from timebridge_invoice_export.domain.ledger import LedgerEntry
from timebridge_invoice_export.domain.rates import TIMEBRIDGE, Rate, tracker_source
from timebridge_invoice_export.entrypoints.paths import WS, Currency, Id, WorkspaceIdPath
from timebridge_invoice_export.handlers.billing import Billing, ProjectView


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
    source: str

    @classmethod
    def of(cls, r: Rate) -> "RateView":
        return cls(
            rate_id=r.rate_id,
            project_id=r.project_id,
            user_id=r.user_id,
            hourly_rate=r.hourly_rate,
            currency=r.currency,
            scope=r.scope,
            source=r.source,
        )


class RateSourceBody(BaseModel):
    client_id: str | None = Field(
        default=None, max_length=200, description="null: the workspace's choice"
    )
    integration_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,100}$",
        description="The tracker integration whose rates bill; null: Timebridge's own rates",
    )


class RateSourceView(BaseModel):
    client_id: str | None
    source: str = Field(description="timebridge, or tracker:<integration id>")
    integration_id: str | None


class TrackerRateBody(BaseModel):
    project_id: str | None = Field(default=None, max_length=200, description="Core project")
    user_id: str | None = Field(default=None, max_length=200, description="Core user")
    hourly_rate: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
    currency: Currency


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


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def billing_router(billing: Billing) -> APIRouter:
    router = APIRouter()

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

    @router.get(f"{WS}/rate-source", tags=["rates"])
    async def rate_source(
        workspace_id: WorkspaceIdPath, client_id: Annotated[str | None, Query()] = None
    ) -> RateSourceView:
        """Where the rates that bill a client (or, without one, the workspace) come from."""
        found = await billing.rate_source(workspace_id, client_id)
        source = TIMEBRIDGE if found is None else tracker_source(found)
        return RateSourceView(client_id=client_id, source=source, integration_id=found)

    @router.put(f"{WS}/rate-source", tags=["rates"])
    async def choose_rate_source(
        workspace_id: WorkspaceIdPath, body: RateSourceBody
    ) -> RateSourceView:
        """Bill with a tracker integration's rates, or Timebridge's own (``integration_id``
        null), for one client or the whole workspace; each invoice line records its source."""
        await billing.choose_rate_source(workspace_id, body.client_id, body.integration_id)
        return await rate_source(workspace_id, body.client_id)

    @router.get(f"{WS}/tracker-rates/{{integration_id}}", tags=["rates"])
    async def tracker_rates(workspace_id: WorkspaceIdPath, integration_id: Id) -> list[RateView]:
        return [RateView.of(r) for r in await billing.tracker_rates(workspace_id, integration_id)]

    @router.put(f"{WS}/tracker-rates/{{integration_id}}", tags=["rates"])
    async def put_tracker_rates(
        workspace_id: WorkspaceIdPath, integration_id: Id, body: list[TrackerRateBody]
    ) -> list[RateView]:
        """The tracker's rates as read from it now (mapping's ``.../rates``), in Core's project
        and user ids; replaces the previous reading."""
        kept = await billing.put_tracker_rates(
            workspace_id,
            integration_id,
            [(r.project_id, r.user_id, r.hourly_rate, r.currency) for r in body],
        )
        return [RateView.of(r) for r in kept]

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

    return router
