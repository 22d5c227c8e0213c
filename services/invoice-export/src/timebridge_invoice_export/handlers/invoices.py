"""Invoices: create a draft, preview it, export it to the accounting tool, delete it.

Exporting is a request and a worker. :meth:`Invoices.request_export` freezes the invoice (lines,
total, currency; its entries are locked from then on) and, in the same transaction, stages
``InvoiceExportRequested``; :meth:`Invoices.perform_export` consumes it and copies the invoice to
the tool with the tool's own idempotency key (our invoice id), then records the tool's answer and
publishes ``InvoiceExported`` in one transaction. Pressing Export twice, a redelivered request, a
crash after the tool answered, or a retry after a timeout all reach the same single invoice in
the tool. A request that stalls (dead-lettered, or its worker gone) is requested again by the
poller after ``export_stall_s``.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import (
    Envelope,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceExportRequested,
    InvoiceLine,
    RoundingVersion,
)
from timebridge_common.refusals import ConflictError, InvalidError, NotFoundError
from timebridge_invoice_export.domain.accounting import ExportDraft, ExportLine, title
from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.invoices import (
    Computed,
    Invoice,
    compute,
    deletion_refusal,
)
from timebridge_invoice_export.domain.rounding import RoundingUsed
from timebridge_invoice_export.handlers.billing import rates_for, require_client
from timebridge_invoice_export.handlers.connections import Connections, ToolUnusableError
from timebridge_invoice_export.handlers.ports import Clock
from timebridge_invoice_export.handlers.rounding import rounding_for
from timebridge_invoice_export.handlers.stores import Store, Tx
from timebridge_invoice_export.handlers.sync import ToolSync, envelope

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """An invoice with its lines (live for a draft, frozen once exported) and its warnings."""

    invoice: Invoice
    client: MirroredClient
    computed: Computed
    warnings: tuple[str, ...]
    locked_changes: tuple[dict[str, Any], ...]


class Invoices:
    def __init__(
        self, store: Store, connections: Connections, sync: ToolSync, clock: Clock
    ) -> None:
        self._store = store
        self._connections = connections
        self._sync = sync
        self._clock = clock

    async def create(
        self,
        workspace_id: str,
        client_id: str,
        period_start: dt.date,
        period_end: dt.date,
        *,
        issue_date: dt.date | None,
        due_date: dt.date | None,
        admin: str,
    ) -> InvoiceView:
        """A draft of the client's billable, not yet invoiced hours and expenses of the period
        (those of the projects assigned to the client), reserved for this invoice."""
        if period_end < period_start:
            raise InvalidError("the period ends before it starts")
        issue = issue_date or period_end
        if due_date is not None and due_date < issue:
            raise InvalidError("the due date is before the issue date")
        invoice_id = "inv_" + uuid.uuid4().hex[:20]
        async with self._store.tx() as tx:
            client = await require_client(tx, workspace_id, client_id, lock=True)
            if client.status != "active":
                raise ConflictError(f"client {client.name!r} is archived")
            connection = await tx.connection(client.connection_id)
            assert connection is not None
            if connection.status != "connected":
                raise ConflictError(
                    f"the {title(connection.provider)} connection of this client is"
                    f" {connection.status}"
                )
            projects = [
                p for p, (_, c) in (await tx.projects(workspace_id)).items() if c == client_id
            ]
            if not projects:
                raise InvalidError(f"no project is assigned to client {client.name!r}")
            await tx.add_invoice(
                Invoice(
                    invoice_id=invoice_id,
                    workspace_id=workspace_id,
                    client_id=client_id,
                    connection_id=client.connection_id,
                    provider=client.provider,
                    period_start=period_start,
                    period_end=period_end,
                    issue_date=issue,
                    due_date=due_date,
                    status="draft",
                    currency=None,
                    lines=(),
                    total=None,
                    export_requested_at=None,
                    export_attempt=0,
                    export_error=None,
                    exported_at=None,
                    provider_invoice_id=None,
                    tool_status=None,
                    number=None,
                    tool_issue_date=None,
                    tool_total=None,
                    tool_updated_at=None,
                    amount_changed=False,
                    tool_checked_at=None,
                    deleted_at=None,
                    created_by=admin,
                    created_at=self._clock(),
                )
            )
            entries, expenses = await tx.reserve(
                workspace_id, invoice_id, projects, period_start, period_end
            )
            if entries == 0 and expenses == 0:
                raise InvalidError(
                    f"client {client.name!r} has no billable, uninvoiced hours or expenses"
                    f" from {period_start} to {period_end}"
                )
            view = await self._view(tx, invoice_id)
        log.info("invoice drafted", invoice_id=invoice_id, entries=entries, expenses=expenses)
        return view

    async def view(self, workspace_id: str, invoice_id: str) -> InvoiceView:
        async with self._store.tx() as tx:
            await self._invoice(tx, workspace_id, invoice_id)
            return await self._view(tx, invoice_id)

    async def list(
        self, workspace_id: str, *, client_id: str | None, status: str | None
    ) -> list[Invoice]:
        async with self._store.tx() as tx:
            return await tx.invoices(workspace_id, client_id=client_id, status=status)

    async def refresh(self, workspace_id: str, invoice_id: str) -> InvoiceView:
        """Re-select a draft's entries: those logged since are added, deleted and
        non-billable ones let go."""
        async with self._store.tx() as tx:
            invoice = await self._invoice(tx, workspace_id, invoice_id, lock=True)
            if invoice.status not in ("draft", "export_failed"):
                raise ConflictError(f"invoice {invoice_id} is {invoice.status}: it cannot change")
            projects = [
                p
                for p, (_, c) in (await tx.projects(workspace_id)).items()
                if c == invoice.client_id
            ]
            await tx.release_unbillable(invoice_id)
            await tx.reserve(
                workspace_id, invoice_id, projects, invoice.period_start, invoice.period_end
            )
            return await self._view(tx, invoice_id)

    async def request_export(self, workspace_id: str, invoice_id: str) -> InvoiceView:
        """Freeze the invoice and ask for its copy to the tool (a repeat changes nothing)."""
        now = self._clock()
        async with self._store.tx() as tx:
            invoice = await self._invoice(tx, workspace_id, invoice_id, lock=True)
            if invoice.status in ("exporting", "exported"):
                return await self._view(tx, invoice_id)
            if invoice.status == "deleted":
                raise ConflictError(f"invoice {invoice_id} was deleted")
            connection = await tx.connection(invoice.connection_id)
            assert connection is not None
            if connection.status != "connected":
                raise ConflictError(
                    f"the {title(connection.provider)} connection is"
                    f" {connection.status}: connect it again first"
                )
            await tx.release_unbillable(invoice_id)
            view = await self._view(tx, invoice_id)
            if view.computed.problems:
                problems = "; ".join(p.message for p in view.computed.problems)
                raise ConflictError(f"invoice {invoice_id} cannot be exported: {problems}")
            attempt = invoice.export_attempt + 1
            await tx.update_invoice(
                invoice_id,
                status="exporting",
                currency=view.computed.currency,
                lines=view.computed.lines,
                total=view.computed.total,
                export_requested_at=now,
                export_attempt=attempt,
                export_error=None,
            )
            event = InvoiceExportRequested(
                workspace_id=workspace_id,
                invoice_id=invoice_id,
                connection_id=invoice.connection_id,
                requested_at=now,
                attempt=attempt,
            )
            await tx.publish([(event, envelope(event))])
            view = await self._view(tx, invoice_id)
        log.info("invoice export requested", invoice_id=invoice_id, attempt=attempt)
        return view

    async def perform_export(self, cause: Envelope, request: InvoiceExportRequested) -> None:
        """Copy the frozen invoice to its tool (consumer of ``InvoiceExportRequested``).

        The tool refusing it (a bad customer, a currency it does not have, a lost consent)
        ends as ``export_failed`` with the tool's answer; an unreachable tool raises a
        transient error, and the request is retried.
        """
        async with self._store.tx() as tx:
            invoice = await tx.invoice(request.invoice_id)
            if invoice is None or invoice.status != "exporting":
                return
            client = await tx.client(invoice.client_id)
            connection = await tx.connection(invoice.connection_id)
        assert client is not None
        assert connection is not None
        draft = _draft(invoice, client)
        try:
            async with self._connections.tool(connection) as tool:
                seen = await tool.export(draft)
        except (ToolUnusableError, InvalidMessageError) as exc:  # refusals: ProviderError too
            await self._export_failed(invoice.invoice_id, str(exc))
            return
        now = self._clock()
        async with self._store.tx() as tx:
            current = await tx.invoice(invoice.invoice_id, lock=True)
            if current is None or current.status != "exporting":
                return
            await tx.update_invoice(
                invoice.invoice_id,
                status="exported",
                exported_at=now,
                provider_invoice_id=seen.external_id,
                tool_status=seen.status,
                number=seen.number,
                tool_issue_date=seen.issue_date,
                tool_total=seen.total,
                tool_gross_total=seen.gross_total,
                tool_updated_at=seen.updated_at,
                tool_checked_at=now,
                amount_changed=seen.total != invoice.total,
            )
            exported = InvoiceExported(
                workspace_id=invoice.workspace_id,
                invoice_id=invoice.invoice_id,
                provider=invoice.provider,
                provider_invoice_id=seen.external_id,
                number=seen.number,
                client_id=client.client_id,
                provider_client_id=client.external_id,
                currency=draft.currency,
                issue_date=seen.issue_date or invoice.issue_date,
                due_date=invoice.due_date,
                period_start=invoice.period_start,
                period_end=invoice.period_end,
                lines=tuple(
                    InvoiceLine(
                        description=line.description,
                        quantity_hours=line.quantity,
                        unit_price=line.unit_price,
                        amount=line.amount,
                        project_id=line.project_id,
                        kind=line.kind,
                        user_id=line.user_id,
                        rate_source=line.rate_source,
                        rounding=_rounding_version(line.rounding),
                        entry_ids=line.entry_ids,
                    )
                    for line in invoice.lines
                ),
                total=draft.total,
                entry_ids=tuple(e for line in invoice.lines for e in line.entry_ids),
                expense_ids=tuple(line.expense_id for line in invoice.lines if line.expense_id),
                exported_at=now,
                connection_id=invoice.connection_id,
            )
            await tx.publish([(exported, envelope(exported, cause))])
        log.info(
            "invoice exported",
            invoice_id=invoice.invoice_id,
            provider=invoice.provider,
            provider_invoice_id=seen.external_id,
            number=seen.number,
        )

    async def _export_failed(self, invoice_id: str, reason: str) -> None:
        async with self._store.tx() as tx:
            current = await tx.invoice(invoice_id, lock=True)
            if current is not None and current.status == "exporting":
                await tx.update_invoice(invoice_id, status="export_failed", export_error=reason)
        log.error("invoice export refused", invoice_id=invoice_id, reason=reason)

    async def rerequest_stalled(self, stall_s: float) -> int:
        """Ask again for exports that did not finish in time (their request was dead-lettered
        or its worker died); the tool's idempotency key makes the repeat harmless."""
        now = self._clock()
        async with self._store.tx() as tx:
            stalled = await tx.stalled_exports(now - dt.timedelta(seconds=stall_s))
            for invoice in stalled:
                attempt = invoice.export_attempt + 1
                await tx.update_invoice(
                    invoice.invoice_id, export_requested_at=now, export_attempt=attempt
                )
                event = InvoiceExportRequested(
                    workspace_id=invoice.workspace_id,
                    invoice_id=invoice.invoice_id,
                    connection_id=invoice.connection_id,
                    requested_at=now,
                    attempt=attempt,
                )
                await tx.publish([(event, envelope(event))])
        for invoice in stalled:
            log.warning("stalled export requested again", invoice_id=invoice.invoice_id)
        return len(stalled)

    async def delete(self, workspace_id: str, invoice_id: str) -> InvoiceView:
        """Delete the invoice in Timebridge and mark its entries as uninvoiced (a draft any
        time; an exported one once the tool deleted or voided it)."""
        async with self._store.tx() as tx:
            invoice = await self._invoice(tx, workspace_id, invoice_id, lock=True)
            if invoice.status == "deleted":
                return await self._view(tx, invoice_id)
            refusal = deletion_refusal(invoice.status, invoice.tool_status, title(invoice.provider))
            if refusal is not None:
                raise ConflictError(refusal)
            now = self._clock()
            entry_ids, expense_ids = await tx.release(invoice_id)
            await tx.update_invoice(invoice_id, status="deleted", deleted_at=now)
            event = InvoiceDeleted(
                workspace_id=workspace_id,
                invoice_id=invoice_id,
                was_exported=invoice.exported_at is not None,
                entry_ids=tuple(entry_ids),
                expense_ids=tuple(expense_ids),
                deleted_at=now,
            )
            await tx.publish([(event, envelope(event))])
            view = await self._view(tx, invoice_id)
        log.info("invoice deleted", invoice_id=invoice_id, released_entries=len(entry_ids))
        return view

    async def sync_status(self, workspace_id: str, invoice_id: str) -> InvoiceView:
        """Read the exported invoice from the tool now (the webhooks' and polls' fallback)."""
        async with self._store.tx() as tx:
            invoice = await self._invoice(tx, workspace_id, invoice_id)
        if invoice.provider_invoice_id is None:
            raise ConflictError(f"invoice {invoice_id} is {invoice.status}, not in the tool yet")
        try:
            await self._sync.refresh_invoice(invoice)
        except ToolUnusableError as exc:
            raise ConflictError(str(exc)) from exc
        return await self.view(workspace_id, invoice_id)

    async def _invoice(
        self, tx: Tx, workspace_id: str, invoice_id: str, *, lock: bool = False
    ) -> Invoice:
        invoice = await tx.invoice(invoice_id, lock=lock)
        if invoice is None or invoice.workspace_id != workspace_id:
            raise NotFoundError(f"no invoice {invoice_id} in {workspace_id}")
        return invoice

    async def _view(self, tx: Tx, invoice_id: str) -> InvoiceView:
        invoice = await tx.invoice(invoice_id)
        assert invoice is not None
        client = await tx.client(invoice.client_id)
        assert client is not None
        if invoice.status in ("draft", "export_failed") or (
            invoice.status == "deleted" and invoice.exported_at is None
        ):
            entries = await tx.entries(invoice.workspace_id, invoice_id=invoice_id)
            computed = compute(
                [e for e in entries if e.billable and not e.deleted],
                await tx.expenses_of(invoice_id),
                await rates_for(tx, invoice.workspace_id, invoice.client_id),
                client_currency=client.currency,
                project_names={
                    p: n for p, (n, _) in (await tx.projects(invoice.workspace_id)).items()
                },
                rounding=await rounding_for(tx, invoice.workspace_id, invoice.client_id),
            )
        else:
            computed = Computed(invoice.currency, invoice.lines, invoice.total or Decimal(0))
        changes = tuple(await tx.locked_changes(invoice_id))
        return InvoiceView(invoice, client, computed, _warnings(invoice, changes), changes)


def _warnings(invoice: Invoice, changes: tuple[dict[str, Any], ...]) -> tuple[str, ...]:
    tool = title(invoice.provider)
    found: list[str] = []
    if invoice.amount_changed and invoice.tool_status not in ("deleted", "voided"):
        found.append(
            f"The amount was changed in {tool}: {invoice.tool_total} {invoice.currency} there,"
            f" {invoice.total} {invoice.currency} exported from Timebridge"
        )
    if invoice.status == "exported" and invoice.tool_status in ("deleted", "voided"):
        found.append(
            f"{tool} shows this invoice as {invoice.tool_status}: delete it here to mark its"
            " time entries as uninvoiced"
        )
    if invoice.export_error and invoice.status == "export_failed":
        found.append(f"The export to {tool} failed: {invoice.export_error}")
    for change in changes:
        what = "deleted" if change["deleted"] else f"changed to {change['duration_seconds']} s"
        found.append(f"Time entry {change['entry_id']} was {what} in Core after it was invoiced")
    return tuple(found)


def _draft(invoice: Invoice, client: MirroredClient) -> ExportDraft:
    assert invoice.currency is not None
    return ExportDraft(
        invoice_id=invoice.invoice_id,
        client_external_id=client.external_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        lines=tuple(
            ExportLine(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                kind=line.kind,
                service_date=line.first_date,
            )
            for line in invoice.lines
        ),
        total=invoice.total or Decimal(0),
        note=(
            f"Timebridge invoice {invoice.invoice_id}"
            f" ({invoice.period_start.isoformat()} to {invoice.period_end.isoformat()})"
        ),
    )


def _rounding_version(used: RoundingUsed | None) -> RoundingVersion | None:
    if used is None:
        return None
    return RoundingVersion(
        policy_id=used.policy_id,
        version=used.version,
        increment_minutes=used.increment_minutes,
        applies_to=used.applies_to,
    )
