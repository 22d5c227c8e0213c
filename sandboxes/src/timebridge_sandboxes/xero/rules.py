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
from timebridge_sandboxes.xero.oauth import Tokens
from timebridge_sandboxes.xero.render import Rendering
from timebridge_sandboxes.xero.state import (
    CENT,
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_TTL,
    Json,
    XeroState,
    _Contact,
    _error_body,
    _Invoice,
    _Line,
    _Payment,
    _Stored,
    _Tenant,
)
from timebridge_sandboxes.xero.webhooks import Webhooks
from timebridge_sandboxes.xero.wire import _Caller, _ContactIn, _InvoiceIn, _LineIn, _PaymentIn


class _Sandbox(Tokens, Rendering, Webhooks):
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

    def contact(self, contact_id: str, tenant_id: str | None = None) -> _Contact:
        contact = self.state.contacts.get(contact_id)
        if contact is None or tenant_id not in (None, contact.tenant_id):
            raise ApiError(404, "The resource you're looking for cannot be found")
        return contact

    def invoice(self, invoice_id: str, tenant_id: str | None = None) -> _Invoice:
        invoice = self.state.invoices.get(invoice_id)
        if invoice is None or tenant_id not in (None, invoice.tenant_id):
            raise ApiError(404, "The resource you're looking for cannot be found")
        return invoice

    def change_contact(self, contact: _Contact, body: _ContactIn) -> _Contact:
        if body.Name is not None:
            contact.name = body.Name
        if body.EmailAddress is not None:
            contact.email = body.EmailAddress
        if body.TaxNumber is not None:
            contact.tax_number = body.TaxNumber
        if body.ContactNumber is not None:
            contact.contact_number = body.ContactNumber
        if body.Addresses is not None:
            contact.addresses = body.Addresses
        if body.ContactStatus is not None:
            contact.status = body.ContactStatus
        contact.updated_at = self.state.stamp()
        self.state.announce("CONTACT", "UPDATE", contact.id, contact.tenant_id)
        return contact

    def create_invoice(self, tenant_id: str, body: _InvoiceIn) -> _Invoice:
        if body.Type != "ACCREC":
            raise ApiError(400, "Only sales invoices (Type ACCREC) are simulated")
        if body.Contact is None or body.Contact.ContactID is None:
            raise ApiError(400, "A Contact must be specified for this type of transaction")
        contact = self.state.contacts.get(body.Contact.ContactID)
        if contact is None or contact.tenant_id != tenant_id:
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
            lines=[self.line(line) for line in body.LineItems],
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
    def line(given: _LineIn) -> _Line:
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
            tax_amount=(given.TaxAmount or Decimal(0)).quantize(CENT, ROUND_HALF_UP),
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
            status == "VOIDED" and invoice.payments
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
            invoice.status == "AUTHORISED" and not invoice.payments
        )
        changes_fields = any(
            v is not None
            for v in (body.LineItems, body.Date, body.DueDate, body.Reference, body.InvoiceNumber)
        )
        if changes_fields and not editable:
            raise ApiError(400, f"A {invoice.status} invoice cannot be edited")
        if body.LineItems is not None:
            invoice.lines = [self.line(line) for line in body.LineItems]
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

    def pay(self, invoice: _Invoice, body: _PaymentIn) -> _Invoice:
        due = invoice.total - invoice.amount_paid
        amount = due if body.Amount is None else body.Amount.quantize(CENT, ROUND_HALF_UP)
        if invoice.status != "AUTHORISED" or amount > due:
            raise ApiError(400, "Payments go to approved invoices, up to the amount due")
        date = body.Date or self.state.now().date()
        invoice.payments.append(_Payment(str(uuid.uuid4()), date, amount))
        if amount == due:
            invoice.status = "PAID"
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
        self.state.idempotency[(caller.client_id, key)] = _Stored(
            fingerprint, status, body, now + IDEMPOTENCY_TTL
        )
        return JSONResponse(body, status_code=status)
