"""What invoice-export knows of an accounting tool, in its own words (not any tool's).

The adapters (``adapters/tools.py``) translate QuickBooks Online customers, Xero contacts and
FreshBooks clients into :class:`ToolClient`, their invoices into :class:`ToolInvoice`, and an
:class:`ExportDraft` into each tool's draft invoice. Everything here is plain data.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, get_args

Provider = Literal["quickbooks", "xero", "freshbooks"]
PROVIDERS: tuple[Provider, ...] = get_args(Provider)
PROVIDER_NAMES: dict[str, str] = {
    "quickbooks": "QuickBooks Online",
    "xero": "Xero",
    "freshbooks": "FreshBooks",
}

ToolInvoiceStatus = Literal[
    "draft", "submitted", "sent", "partially_paid", "paid", "voided", "deleted"
]
"""Where an exported invoice stands in the tool. ``deleted``: gone from the tool (QuickBooks
deleted it, Xero status ``DELETED``, FreshBooks ``vis_state`` 1)."""


@dataclass(frozen=True, slots=True)
class Address:
    """A business (billing) address."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class TaxDetails:
    """The client's tax settings, as far as the tool has them."""

    tax_number: str | None = None
    """VAT/GST/ABN/EIN: QuickBooks ``PrimaryTaxIdentifier``, Xero ``TaxNumber``, FreshBooks
    ``vat_number``."""
    taxable: bool | None = None
    tax_code: str | None = None
    """QuickBooks ``DefaultTaxCodeRef``; FreshBooks ``vat_name``."""


@dataclass(frozen=True, slots=True)
class ToolClient:
    """A customer as the tool has it now."""

    external_id: str
    name: str
    email: str | None
    address: Address | None
    tax: TaxDetails
    currency: str | None
    """ISO 4217; None when the tool leaves it to the organisation's base currency."""
    active: bool
    """False: archived (QuickBooks inactive, Xero ``ARCHIVED``, FreshBooks archived or
    deleted). Tools delete no customers that have invoices; Timebridge never deletes them."""
    updated_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ToolInvoice:
    """An invoice as the tool has it now."""

    external_id: str
    client_external_id: str | None
    number: str | None
    issue_date: dt.date | None
    due_date: dt.date | None
    status: ToolInvoiceStatus
    total: Decimal
    """The amount before tax (the sum of the lines), comparable with what Timebridge exported:
    a tool adding its sales tax is not "the amount changed", an edited line is."""
    currency: str | None
    updated_at: dt.datetime | None


def gone_invoice(external_id: str) -> ToolInvoice:
    """What Timebridge knows of an invoice the tool no longer has: only that it is deleted."""
    return ToolInvoice(
        external_id=external_id,
        client_external_id=None,
        number=None,
        issue_date=None,
        due_date=None,
        status="deleted",
        total=Decimal(0),
        currency=None,
        updated_at=None,
    )


@dataclass(frozen=True, slots=True)
class ExportLine:
    description: str
    quantity: Decimal
    """Hours (two decimals) for time, 1 for an expense."""
    unit_price: Decimal
    amount: Decimal
    """``quantity`` x ``unit_price`` rounded to the currency's minor unit: what the tool
    computes, so both agree."""
    kind: Literal["time", "expense"]
    service_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class ExportDraft:
    """The invoice to copy into the tool as a draft, created at most once per ``invoice_id``.

    ``invoice_id`` is the idempotency key and the reference the tool keeps (QuickBooks
    ``requestid``; Xero ``Idempotency-Key`` and ``Reference``; FreshBooks ``po_number``), so a
    repeat after a timeout or a redelivery finds the first copy instead of making a second.
    """

    invoice_id: str
    client_external_id: str
    issue_date: dt.date
    due_date: dt.date | None
    currency: str
    lines: tuple[ExportLine, ...]
    total: Decimal
    note: str


@dataclass(frozen=True, slots=True)
class ToolChanges:
    """What changed in the tool since a cursor: clients (archived ones too) and invoices."""

    clients: tuple[ToolClient, ...]
    invoices: tuple[ToolInvoice, ...]
    deleted_invoice_ids: tuple[str, ...]
    """Invoices the tool reports gone without a record (QuickBooks change data capture)."""
    cursor: dt.datetime | None
    """The next ``since``, in the tool's clock; None keeps the previous one."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """A company the admin may connect: QuickBooks realm, Xero organisation, FreshBooks
    account (``id`` is what the API calls need: realm id, tenant id, accounting account id)."""

    id: str
    name: str
