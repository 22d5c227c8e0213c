"""An in-memory accounting tool: the accounting port's fake, for fast handler tests.

It keeps what a real tool keeps and behaves as the port promises: a draft is created at most
once per Timebridge invoice id (a repeat returns the first), an invoice it no longer has reads
as ``deleted``, changes are what was touched since a moment, and per-connection webhook
registrations await a verification until it is confirmed. Tests change its state directly
(``put_client``, ``set_status``, ``delete_invoice``, ``put_payment``,
``set_payment_state``) and may make the next calls fail (``fail``).
"""

import datetime as dt
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from timebridge_common.outbound.oauth import BasicAuthTokenEndpoint, TokenEndpoint, Tokens
from timebridge_providers.kit.ports.accounting import (
    Accounting,
    AccountingTool,
    ConsentContext,
    ExportDraft,
    Tenant,
    ToolChanges,
    ToolClient,
    ToolInvoice,
    ToolInvoiceStatus,
    ToolOptions,
    ToolPayment,
    ToolPaymentState,
    gone_invoice,
    gone_payment,
)
from timebridge_providers.kit.session import Session


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class FakeAccountingTool:
    """One company of an in-memory tool (``AccountingTool``)."""

    clock: Callable[[], dt.datetime] = _utcnow
    clients: dict[str, ToolClient] = field(default_factory=dict)
    invoices: dict[str, ToolInvoice] = field(default_factory=dict)
    exported: dict[str, str] = field(default_factory=dict)
    """Timebridge invoice id -> the tool's invoice id (what makes an export happen once)."""
    drafts: list[ExportDraft] = field(default_factory=list)
    """Every draft created (a repeat of one adds nothing)."""
    payments: dict[str, ToolPayment] = field(default_factory=dict)
    """Payment id -> the payment (voided and deleted ones stay, with their state)."""
    registrations: dict[str, bool] = field(default_factory=dict)
    """Webhook registration id -> verified."""
    deleted: set[str] = field(default_factory=set)
    failures: list[Exception] = field(default_factory=list)
    """Raised by the next calls, first first."""
    closed: bool = False
    tax_rate: Decimal = Decimal(0)
    """The sales tax the company adds to an exported invoice (0.10: 10 %)."""
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    # -- what a test does in the tool --

    def put_client(self, client: ToolClient) -> None:
        self.clients[client.external_id] = replace(client, updated_at=self.clock())

    def set_status(self, external_id: str, status: ToolInvoiceStatus) -> None:
        self.invoices[external_id] = replace(
            self.invoices[external_id], status=status, updated_at=self.clock()
        )

    def delete_invoice(self, external_id: str) -> None:
        self.invoices.pop(external_id, None)
        self.deleted.add(external_id)

    def put_payment(self, payment: ToolPayment) -> None:
        """Record (or change) a payment as the tool would, stamped now."""
        self.payments[payment.external_id] = replace(payment, updated_at=self.clock())

    def set_payment_state(self, external_id: str, state: ToolPaymentState) -> None:
        """Void or delete a payment."""
        self.put_payment(replace(self.payments[external_id], state=state))

    def fail(self, error: Exception) -> None:
        self.failures.append(error)

    # -- the port --

    async def active_clients(self) -> list[ToolClient]:
        self._maybe_fail()
        return [c for c in self.clients.values() if c.active]

    async def client(self, external_id: str) -> ToolClient | None:
        self._maybe_fail()
        return self.clients.get(external_id)

    async def changes(self, since: dt.datetime) -> ToolChanges:
        self._maybe_fail()

        def changed(moment: dt.datetime | None) -> bool:
            return moment is not None and moment >= since

        clients = tuple(c for c in self.clients.values() if changed(c.updated_at))
        invoices = tuple(i for i in self.invoices.values() if changed(i.updated_at))
        payments = tuple(p for p in self.payments.values() if changed(p.updated_at))
        moments = [
            m
            for m in (
                *(c.updated_at for c in clients),
                *(i.updated_at for i in invoices),
                *(p.updated_at for p in payments),
            )
            if m
        ]
        return ToolChanges(
            clients=clients,
            invoices=invoices,
            deleted_invoice_ids=tuple(sorted(self.deleted)),
            cursor=max(moments) if moments else None,
            payments=payments,
        )

    async def payment(self, external_id: str) -> ToolPayment | None:
        self._maybe_fail()
        return self.payments.get(external_id) or gone_payment(external_id)

    async def invoice_payments(self, invoice_external_id: str) -> list[ToolPayment]:
        self._maybe_fail()
        return [
            p
            for p in self.payments.values()
            if any(a.invoice_external_id == invoice_external_id for a in p.applications)
        ]

    async def invoice(self, external_id: str) -> ToolInvoice:
        self._maybe_fail()
        return self.invoices.get(external_id) or gone_invoice(external_id)

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        self._maybe_fail()
        known = self.exported.get(draft.invoice_id)
        if known is not None:
            return await self.invoice(known)
        external_id = f"inv-{next(self._ids)}"
        self.exported[draft.invoice_id] = external_id
        self.drafts.append(draft)
        made = ToolInvoice(
            external_id=external_id,
            client_external_id=draft.client_external_id,
            number=None,
            issue_date=draft.issue_date,
            due_date=draft.due_date,
            status="draft",
            total=(total := sum((line.amount for line in draft.lines), Decimal(0))),
            currency=draft.currency,
            updated_at=self.clock(),
            gross_total=total + (total * self.tax_rate).quantize(Decimal("0.01")),
        )
        self.invoices[external_id] = made
        return made

    async def ensure_webhooks(self, url: str) -> list[str]:
        self._maybe_fail()
        key = f"cb-{url}"
        if self.registrations.get(key):
            return []
        self.registrations[key] = False
        return [key]

    async def verify_webhook_registration(self, registration_id: str, verifier: str) -> None:
        self._maybe_fail()
        if registration_id not in self.registrations or not verifier:
            raise LookupError(f"no registration {registration_id} awaits a verification")
        self.registrations[registration_id] = True

    async def aclose(self) -> None:
        self.closed = True

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)


class FakeConsent:
    """A consent whose companies are given (``tenants``); tokens come from the app's token URL."""

    def __init__(self, context: ConsentContext, tenants: list[Tenant]) -> None:
        self._context = context
        self._tenants = tenants
        self.endpoint: TokenEndpoint = BasicAuthTokenEndpoint(
            context.app.client_id,
            context.app.client_secret,
            token_url=context.app.token_url,
            http=context.http,
            clock=context.clock,
        )

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return f"{self._context.app.authorize_url}?redirect_uri={redirect_uri}&state={state}"

    async def tenants(
        self,
        tokens: Tokens,  # noqa: ARG002 - the port's signature
        callback: Mapping[str, str],  # noqa: ARG002
    ) -> list[Tenant]:
        return list(self._tenants)


def fake_accounting(
    tools: dict[str, FakeAccountingTool], tenants: list[Tenant] | None = None
) -> Accounting:
    """An ``Accounting`` capability over in-memory tools, one per tenant (``Access.extra``'s
    ``tenant``), made on first use."""

    def open_tool(session: Session, options: ToolOptions) -> AccountingTool:
        tenant = session.access.extra.get("tenant", "")
        return tools.setdefault(tenant, FakeAccountingTool(clock=options.clock))

    return Accounting(
        open=open_tool, consent=lambda context: FakeConsent(context, list(tenants or []))
    )
