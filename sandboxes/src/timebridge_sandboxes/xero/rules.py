"""Xero's rules behind the routes: limits, contacts, invoices, statuses, payments, idempotency."""

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.faults import ApiError, RateLimit
from timebridge_sandboxes.xero.contacts import Contacts
from timebridge_sandboxes.xero.oauth import Tokens
from timebridge_sandboxes.xero.overpayments import Overpayments
from timebridge_sandboxes.xero.payments import Payments
from timebridge_sandboxes.xero.render import Rendering
from timebridge_sandboxes.xero.state import (
    CENT,
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_TTL,
    Invalid,
    Json,
    XeroState,
    _error_body,
    _Invoice,
    _Line,
    _Stored,
    _Tenant,
    _validation_error,
)
from timebridge_sandboxes.xero.webhooks import Webhooks
from timebridge_sandboxes.xero.wire import _Caller, _InvoiceIn, _LineIn, echo


class _Sandbox(Contacts, Payments, Overpayments, Tokens, Rendering, Webhooks):
    """The Xero behaviour behind the routes: tokens, rules, serialisation, webhooks."""

    def __init__(
        self,
        state: XeroState,
        limit: RateLimit,
        daily: RateLimit,
        webhook_transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.state = state
        self.limit = limit
        self.daily = daily
        self.webhook_transport = webhook_transport
        self._delivering = asyncio.Lock()

    def reset(self) -> None:
        self.state.reset()
        self.daily.forget()

    def admit(self, tenant_id: str) -> None:
        """Count the call against the tenant's minute and day limits (``429`` beyond them)."""
        for limit, problem in ((self.limit, "minute"), (self.daily, "day")):
            try:
                limit.admit(tenant_id)
            except ApiError as exc:
                headers = {**(exc.headers or {}), "X-Rate-Limit-Problem": problem}
                raise ApiError(exc.status, exc.message, headers) from None

    def invoice(self, invoice_id: str, tenant_id: str | None = None) -> _Invoice:
        invoice = self.state.invoices.get(invoice_id.lower())
        if invoice is None or tenant_id not in (None, invoice.tenant_id):
            raise ApiError(404, "The resource you're looking for cannot be found")
        return invoice

    def save_invoice(self, tenant_id: str, body: _InvoiceIn) -> _Invoice:
        """``PUT /Invoices`` creates; ``POST /Invoices`` updates the invoice an element's
        ``InvoiceID`` names and creates the others. A refusal echoes the element."""
        try:
            if body.InvoiceID is not None:
                return self.update_invoice(self.invoice(body.InvoiceID, tenant_id), body)
            return self.create_invoice(tenant_id, body)
        except ApiError as exc:
            if exc.status not in (400, 404):
                raise
            message = exc.message if exc.status == 400 else "Invoice could not be found"
            raise Invalid(message, echo(body)) from None

    def create_invoice(self, tenant_id: str, body: _InvoiceIn) -> _Invoice:
        if body.Type != "ACCREC":
            raise ApiError(400, "Only sales invoices (Type ACCREC) are simulated")
        if body.Contact is None or not (
            body.Contact.ContactID or body.Contact.ContactNumber or body.Contact.Name
        ):
            raise ApiError(400, "A Contact must be specified for this type of transaction")
        contact = self.named_contact(tenant_id, body.Contact)
        if contact is None:
            raise ApiError(400, "The contact could not be found")
        if contact.status != "ACTIVE":
            raise ApiError(400, "The contact has been archived and cannot be used")
        if not body.LineItems:
            raise ApiError(400, "At least one line item is required")
        if body.Status in ("VOIDED", "DELETED"):
            raise ApiError(400, f"An invoice cannot be created as {body.Status}")
        tenant = self.state.tenants[tenant_id]
        invoice = _Invoice(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            contact_id=contact.id,
            lines=[
                self.line(line, tenant.sales_tax_rate, body.LineAmountTypes or "Exclusive")
                for line in body.LineItems
            ],
            number=self.number(tenant, body.InvoiceNumber),
            status="DRAFT",
            date=body.Date or self.state.now().date(),
            due_date=body.DueDate,
            reference=body.Reference or "",
            currency=body.CurrencyCode or tenant.currency,
            line_amount_types=body.LineAmountTypes or "Exclusive",
            updated_at=self.state.stamp(),
        )
        if body.Status in ("SUBMITTED", "AUTHORISED"):
            self.move(invoice, body.Status)
        self.state.invoices[invoice.id] = invoice
        contact.is_customer = True
        self.state.announce("INVOICE", "CREATE", invoice.id, tenant_id)
        return invoice

    @staticmethod
    def line(given: _LineIn, tax_rate: Decimal = Decimal(0), amounts: str = "Exclusive") -> _Line:
        """A line; without a ``TaxAmount`` Xero works the tax out from the rate of the line's
        tax (here the organisation's sales tax rate): on top of the amount (``Exclusive``) or
        included in it (``Inclusive``)."""
        amount = given.LineAmount
        if given.Quantity is not None and given.UnitAmount is not None:
            product = (given.Quantity * given.UnitAmount).quantize(CENT, ROUND_HALF_UP)
            if amount is not None and amount.quantize(CENT, ROUND_HALF_UP) != product:
                raise ApiError(400, "The line amount must equal quantity times unit amount")
            amount = product
        if amount is None and not given.Description:
            raise ApiError(400, "Description needs to be at least 1 char long")
        return _Line(
            id=str(uuid.uuid4()),
            description=given.Description,
            quantity=given.Quantity,
            unit_amount=given.UnitAmount,
            line_amount=(amount or Decimal(0)).quantize(CENT, ROUND_HALF_UP),
            account_code=given.AccountCode,
            item_code=given.ItemCode,
            tax_type=given.TaxType,
            tax_amount=_tax(given.TaxAmount, amount or Decimal(0), tax_rate, amounts),
        )

    def number(self, tenant: _Tenant, given: str | None, invoice: _Invoice | None = None) -> str:
        taken = {
            i.number
            for i in self.state.invoices.values()
            if i.tenant_id == tenant.id and i is not invoice
        }
        if given:
            if given in taken:
                raise ApiError(400, "Invoice # must be unique.")
            return given
        while f"INV-{tenant.next_number:04d}" in taken:
            tenant.next_number += 1
        return f"INV-{tenant.next_number:04d}"

    @staticmethod
    def move(invoice: _Invoice, status: str) -> None:
        """Change the status as Xero allows (payments make an invoice ``PAID`` elsewhere)."""
        allowed = {
            "SUBMITTED": ("DRAFT",),
            "AUTHORISED": ("DRAFT", "SUBMITTED"),
            "DELETED": ("DRAFT", "SUBMITTED"),
            "VOIDED": ("AUTHORISED",),
        }
        if invoice.status not in allowed.get(status, ()) or (
            status == "VOIDED" and (invoice.live_payments or invoice.amount_credited)
        ):
            raise ApiError(400, f"A {invoice.status} invoice cannot become {status}")
        if status == "AUTHORISED" and any(
            line.line_amount and not (line.account_code or line.item_code) for line in invoice.lines
        ):
            raise ApiError(400, "Account code must be specified")
        invoice.status = status

    def update_invoice(self, invoice: _Invoice, body: _InvoiceIn) -> _Invoice:
        """Apply the given fields, then the status; every change is an ``UPDATE`` event."""
        editable = invoice.status in ("DRAFT", "SUBMITTED") or (
            invoice.status == "AUTHORISED"
            and not invoice.live_payments
            and not invoice.amount_credited
        )
        changes_fields = any(
            v is not None
            for v in (body.LineItems, body.Date, body.DueDate, body.Reference, body.InvoiceNumber)
        )
        if changes_fields and not editable:
            raise ApiError(400, f"A {invoice.status} invoice cannot be edited")
        if body.LineItems is not None:
            rate = self.state.tenants[invoice.tenant_id].sales_tax_rate
            invoice.lines = [
                self.line(line, rate, invoice.line_amount_types) for line in body.LineItems
            ]
        if body.InvoiceNumber is not None:
            invoice.number = self.number(
                self.state.tenants[invoice.tenant_id], body.InvoiceNumber, invoice
            )
        invoice.date = body.Date or invoice.date
        invoice.due_date = body.DueDate or invoice.due_date
        invoice.reference = invoice.reference if body.Reference is None else body.Reference
        if body.Status is not None and body.Status != invoice.status:
            self.move(invoice, body.Status)
        invoice.updated_at = self.state.stamp()
        self.state.announce("INVOICE", "UPDATE", invoice.id, invoice.tenant_id)
        return invoice

    async def idempotent(
        self, caller: _Caller, request: Request, key: str | None, run: Callable[[], Json]
    ) -> JSONResponse:
        """Run the write once per key: the same request again gets the first answer."""
        if key is None:
            return JSONResponse(run())
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise ApiError(400, f"Idempotency-Key is longer than {IDEMPOTENCY_KEY_MAX}")
        parts = (request.method, request.url.path, caller.tenant_id)
        fingerprint = hashlib.sha256("\n".join(parts).encode() + await request.body()).hexdigest()
        now = self.state.now()
        stored = self.state.idempotency.get((caller.client_id, key))
        if stored is not None and stored.expires_at > now:
            if stored.fingerprint != fingerprint:
                raise ApiError(400, f"Idempotency key {key} is used with a different request")
            return JSONResponse(stored.body, status_code=stored.status)
        try:
            status, body = 200, run()
        except ApiError as exc:
            status, body = exc.status, _error_body(exc.status, exc.message)
        except Invalid as exc:
            status, body = 400, _validation_error(exc.message, exc.element)
        self.state.idempotency[(caller.client_id, key)] = _Stored(
            fingerprint, status, body, now + IDEMPOTENCY_TTL
        )
        return JSONResponse(body, status_code=status)


def _tax(given: Decimal | None, amount: Decimal, rate: Decimal, amounts: str) -> Decimal:
    if given is not None:
        return given.quantize(CENT, ROUND_HALF_UP)
    if amounts == "NoTax" or rate == 0:
        return Decimal(0)
    tax = amount * rate / (1 + rate) if amounts == "Inclusive" else amount * rate
    return tax.quantize(CENT, ROUND_HALF_UP)
