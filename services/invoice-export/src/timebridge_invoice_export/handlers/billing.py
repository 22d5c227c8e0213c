"""Setting up billing: clients (archive only), projects assigned to clients, rates, expenses."""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import ProviderError
from timebridge_common.refusals import ConflictError, InvalidError, NotFoundError, UpstreamError
from timebridge_invoice_export.domain.accounting import title
from timebridge_invoice_export.domain.clients import MirroredClient, archived
from timebridge_invoice_export.domain.invoices import Expense
from timebridge_invoice_export.domain.ledger import LedgerEntry
from timebridge_invoice_export.domain.rates import Rate, tracker_source
from timebridge_invoice_export.handlers.ports import Clock
from timebridge_invoice_export.handlers.rounding import Rounding
from timebridge_invoice_export.handlers.stores import Store, Tx
from timebridge_invoice_export.handlers.sync import client_changed, envelope

TrackerRate = tuple[str | None, str | None, Decimal, str]
"""(Core project, Core user, hourly rate, currency) of a rate a tracker holds."""


@dataclass(frozen=True, slots=True)
class CoreProject:
    project_id: str
    name: str
    archived: bool


class CoreProjects(Protocol):
    async def projects(self, workspace_id: str) -> list[CoreProject]:
        """The workspace's projects, read from Core with its service token."""
        ...


@dataclass(frozen=True, slots=True)
class ProjectView:
    project_id: str
    name: str
    archived: bool
    client_id: str | None


class Billing:
    def __init__(self, store: Store, core: CoreProjects, clock: Clock) -> None:
        self._store = store
        self._core = core
        self._clock = clock
        self.rounding = Rounding(store, clock)
        """Rounding policies (their own routes, ``http_rounding``)."""

    # -- clients -------------------------------------------------------------------------------

    async def clients(self, workspace_id: str, status: str | None) -> list[MirroredClient]:
        async with self._store.tx() as tx:
            return await tx.clients(workspace_id, status)

    async def client(self, workspace_id: str, client_id: str) -> MirroredClient:
        async with self._store.tx() as tx:
            return await require_client(tx, workspace_id, client_id)

    async def archive(self, workspace_id: str, client_id: str, archive: bool) -> MirroredClient:
        async with self._store.tx() as tx:
            client = await require_client(tx, workspace_id, client_id, lock=True)
            updated = archived(client, archive)
            if updated is None:
                return client
            await tx.save_client(updated)
            event = client_changed(updated, self._clock())
            await tx.publish([(event, envelope(event))])
            return updated

    async def delete_client(self, workspace_id: str, client_id: str) -> None:
        """Refused, always: the accounting article's "external clients can't be deleted"."""
        client = await self.client(workspace_id, client_id)
        tool = title(client.provider)
        raise ConflictError(
            f"{client.name!r} comes from {tool}: it cannot be deleted in Timebridge, only archived"
            f" (POST .../clients/{client_id}/archive), or deleted in {tool}"
        )

    # -- projects ------------------------------------------------------------------------------

    async def projects(self, workspace_id: str) -> list[ProjectView]:
        core = await self._core_projects(workspace_id)
        async with self._store.tx() as tx:
            assigned = await tx.projects(workspace_id)
        views = [
            ProjectView(p.project_id, p.name, p.archived, assigned.get(p.project_id, ("", None))[1])
            for p in core
        ]
        known = {p.project_id for p in core}
        views += [
            ProjectView(project_id, name, True, client_id)
            for project_id, (name, client_id) in assigned.items()
            if project_id not in known
        ]
        return views

    async def assign(self, workspace_id: str, project_id: str, client_id: str) -> ProjectView:
        project = next(
            (p for p in await self._core_projects(workspace_id) if p.project_id == project_id),
            None,
        )
        if project is None:
            raise InvalidError(f"Core has no project {project_id} in {workspace_id}")
        async with self._store.tx() as tx:
            client = await require_client(tx, workspace_id, client_id)
            if client.status != "active":
                raise ConflictError(f"client {client.name!r} is archived")
            await tx.assign_project(workspace_id, project_id, project.name, client_id)
        return ProjectView(project_id, project.name, project.archived, client_id)

    async def unassign(self, workspace_id: str, project_id: str) -> None:
        async with self._store.tx() as tx:
            if not await tx.unassign_project(workspace_id, project_id):
                raise NotFoundError(f"project {project_id} is assigned to no client")

    async def _core_projects(self, workspace_id: str) -> list[CoreProject]:
        try:
            return await self._core.projects(workspace_id)
        except (ProviderError, TransientError) as exc:
            raise UpstreamError(f"Core could not list the projects: {exc}") from exc

    # -- rates ---------------------------------------------------------------------------------

    async def rates(self, workspace_id: str) -> list[Rate]:
        async with self._store.tx() as tx:
            return await tx.rates(workspace_id)

    async def put_rate(
        self,
        workspace_id: str,
        *,
        project_id: str | None,
        user_id: str | None,
        hourly_rate: Decimal,
        currency: str,
    ) -> Rate:
        if project_id is None and user_id is None:
            raise InvalidError("a rate is for a project, a user, or a user on a project")
        rate = Rate("rt_" + uuid.uuid4().hex[:16], project_id, user_id, hourly_rate, currency)
        async with self._store.tx() as tx:
            return await tx.put_rate(workspace_id, rate)

    async def delete_rate(self, workspace_id: str, rate_id: str) -> None:
        async with self._store.tx() as tx:
            if not await tx.delete_rate(workspace_id, rate_id):
                raise NotFoundError(f"no rate {rate_id}")

    # -- where rates come from ------------------------------------------------------------------

    async def rate_source(self, workspace_id: str, client_id: str | None) -> str | None:
        """The tracker integration whose rates bill the client (else the workspace's choice);
        ``None``: Timebridge's own rates."""
        async with self._store.tx() as tx:
            if client_id is not None:
                await require_client(tx, workspace_id, client_id)
            return await tx.rate_source(workspace_id, client_id)

    async def choose_rate_source(
        self, workspace_id: str, client_id: str | None, integration_id: str | None
    ) -> None:
        """Bill with a tracker integration's rates (``None``: Timebridge's own), for one
        client or, without ``client_id``, for the workspace."""
        async with self._store.tx() as tx:
            if client_id is not None:
                await require_client(tx, workspace_id, client_id)
            await tx.put_rate_source(workspace_id, client_id, integration_id)

    async def tracker_rates(self, workspace_id: str, integration_id: str) -> list[Rate]:
        async with self._store.tx() as tx:
            return await tx.tracker_rates(workspace_id, integration_id)

    async def put_tracker_rates(
        self,
        workspace_id: str,
        integration_id: str,
        rates: list[tuple[str | None, str | None, Decimal, str]],
    ) -> list[Rate]:
        """Keep what the tracker's rates are now, in Core's ids: (project, user, hourly rate,
        currency) each; the previous reading is replaced whole."""
        scopes = [(project, user) for project, user, _, _ in rates]
        if any(project is None and user is None for project, user in scopes):
            raise InvalidError("a rate is for a project, a user, or a user on a project")
        if len(set(scopes)) != len(scopes):
            raise InvalidError("two rates for the same project and user")
        source = tracker_source(integration_id)
        kept = [
            Rate(f"tr_{i}", project, user, amount, currency, source)
            for i, (project, user, amount, currency) in enumerate(rates, start=1)
        ]
        async with self._store.tx() as tx:
            await tx.replace_tracker_rates(workspace_id, integration_id, kept, self._clock())
        return kept

    # -- expenses ------------------------------------------------------------------------------

    async def add_expense(
        self,
        workspace_id: str,
        *,
        project_id: str,
        date: dt.date,
        description: str,
        amount: Decimal,
        currency: str,
        billable: bool,
    ) -> Expense:
        expense = Expense(
            expense_id="ex_" + uuid.uuid4().hex[:16],
            workspace_id=workspace_id,
            project_id=project_id,
            date=date,
            description=description,
            amount=amount,
            currency=currency,
            billable=billable,
        )
        async with self._store.tx() as tx:
            await tx.add_expense(expense)
        return expense

    async def expenses(self, workspace_id: str) -> list[Expense]:
        async with self._store.tx() as tx:
            return await tx.expenses(workspace_id)

    async def delete_expense(self, workspace_id: str, expense_id: str) -> None:
        async with self._store.tx() as tx:
            expense = await tx.expense(expense_id, lock=True)
            if expense is None or expense.workspace_id != workspace_id:
                raise NotFoundError(f"no expense {expense_id}")
            if expense.invoice_id is not None:
                raise ConflictError(f"expense {expense_id} is on invoice {expense.invoice_id}")
            await tx.delete_expense(expense_id)

    # -- the ledger ----------------------------------------------------------------------------

    async def entries(self, workspace_id: str, *, uninvoiced: bool) -> list[LedgerEntry]:
        async with self._store.tx() as tx:
            return await tx.entries(workspace_id, uninvoiced=uninvoiced)


async def require_client(
    tx: Tx, workspace_id: str, client_id: str, *, lock: bool = False
) -> MirroredClient:
    client = await tx.client(client_id, lock=lock)
    if client is None or client.workspace_id != workspace_id:
        raise NotFoundError(f"no client {client_id} in {workspace_id}")
    return client


async def rates_for(tx: Tx, workspace_id: str, client_id: str) -> list[Rate]:
    """The rates that price the client's hours: its chosen source's (else the workspace's)."""
    integration_id = await tx.rate_source(workspace_id, client_id)
    if integration_id is None:
        return await tx.rates(workspace_id)
    return await tx.tracker_rates(workspace_id, integration_id)
