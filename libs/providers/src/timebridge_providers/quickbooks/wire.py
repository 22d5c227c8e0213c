"""QuickBooks Online Accounting API client: customers, service items, invoices, changes, OAuth.

What each fact rests on (V = verified in Intuit's own material: developer.intuit.com pages, the
Intuit developer blog, Intuit's SDKs, or the official XSD in ``provider-specs/quickbooks-v3-xsd``;
S = seen in public integrations and captures of the real API; A = assumed):

- V OAuth 2.0 authorization code flow: the user is sent to ``https://appcenter.intuit.com/connect/
  oauth2`` with ``client_id``, ``response_type=code``, ``scope=com.intuit.quickbooks.accounting``,
  ``redirect_uri`` and ``state``; Intuit redirects back with ``code``, ``state`` and ``realmId``
  (the company chosen at consent). The code and refresh tokens go to ``POST https://oauth.platform.
  intuit.com/oauth2/v1/tokens/bearer`` as a form, with HTTP Basic ``client_id:client_secret``
  (discovery document, intuit/oauth-pythonclient ``intuitlib/client.py``). The answer has
  ``access_token``, ``refresh_token``, ``expires_in`` (3600: access tokens live one hour),
  ``x_refresh_token_expires_in`` and ``token_type`` (authorization FAQ).
- V Refresh tokens rotate: always keep the latest ``refresh_token`` of an answer; a refused one is
  ``400 {"error": "invalid_grant"}`` and needs the user to connect again (FAQ; Intuit blog
  2025-11-12: refresh tokens now expire after at most five years). A When exactly the previous
  refresh token stops working is not documented; storage follows ``providers/oauth.py``.
- V Base URLs ``https://quickbooks.api.intuit.com`` (``sandbox-quickbooks.api.intuit.com`` for
  Intuit's sandbox companies); reads ``GET /v3/company/{realmId}/{entity}/{id}``, creates and
  updates ``POST /v3/company/{realmId}/{entity}``, queries ``GET .../query?query=<SELECT>``
  (REST quick reference). JSON uses the XSD's element names; answers wrap the entity in its name,
  ``{"Invoice": {...}, "time": ...}``. A JSON is returned only for ``Accept: application/json``
  (XML otherwise), so every request sends it.
- V ``minorversion``: from 2025-08-01 every request is answered as minor version 75 whatever is
  asked (Intuit blog 2025-01-21); this client asks for 75 so the answer shape is explicit.
- V Queries: ``SELECT * FROM <Entity> [WHERE a AND b] [ORDERBY f] [STARTPOSITION n] [MAXRESULTS
  n]``, no ``OR``, operators ``= < > <= >= IN LIKE``, strings in single quotes with backslash
  escapes, at most 1000 results a page; ``SELECT * FROM Customer`` returns only *active*
  customers (data-queries page; Intuit blog "Deep dive into data queries"). S ``Active IN (true,
  false)`` includes inactive ones (used by several integrations); this client uses it for
  changes so that an archived customer is seen. S An empty result is ``{"QueryResponse": {}}``;
  the last page is the one shorter than ``MAXRESULTS``; ``ORDERBY MetaData.LastUpdatedTime`` and
  ``MetaData.LastUpdatedTime >= '<ISO>'`` filters work (the latter is in Intuit's own example).
  Pages therefore start at the previous page's last change rather than at an offset, so that a
  record changing during a listing cannot shift another one out of it.
- V Change data capture ``GET .../cdc?entities=A,B&changedSince=<ISO>``: full entities changed
  since, at most 30 days back and 1000 objects an answer; deleted entities come back with
  ``"status": "Deleted"`` (CDC page). S The answer is ``{"CDCResponse": [{"QueryResponse":
  [{"Invoice": [...], ...}, ...]}]}``.
- V Idempotent creates: a ``requestid`` query parameter (at most 50 characters, unique per
  company) makes Intuit answer a repeated request with the first answer instead of acting again
  (Intuit blog 2015-04-06 "Request ID"). So a create with a ``requestid`` may be repeated after a
  lost answer, and this client marks it idempotent for the retry layer.
- V Optimistic locking: updates carry ``Id`` and the ``SyncToken`` read; a stale token is refused
  with Fault code ``5010`` "Stale Object Error". Errors are ``{"Fault": {"Error": [{"Message",
  "Detail", "code", "element"}], "type"}, "time"}`` (handling-common-errors page); ``610``
  "Object Not Found" (also for a deleted transaction) and ``6240`` "Duplicate Name Exists" are
  answered with HTTP 400 (Intuit blog 2017-06-08 "Top QuickBooks Online API errors"). ``401``
  means the access token expired or was revoked (FAQ). S The ``401`` body is lower case
  (``{"fault": {"error": [{"code": "3200", ...}]}}``).
- V Throttling: 500 requests a minute and 10 concurrent requests per company and app, ``429``
  beyond (Intuit blog 2016-08-08). Hence :data:`RATE_LIMIT`; a client sends one request at a time.
  A Whether a ``429`` carries ``Retry-After`` is not documented; without it the retry layer backs
  off exponentially.
- V Customers: ``DisplayName`` (unique across customers, vendors and employees), ``CompanyName``,
  ``BillAddr``, ``PrimaryEmailAddr``, ``Active``, ``Taxable``, ``DefaultTaxCodeRef``,
  ``PrimaryTaxIdentifier``, ``ResaleNum``, ``TaxExemptionReasonId``, ``CurrencyRef`` (fixed once
  set) (XSD ``Customer``/``NameBase``; Customer reference). S Customers are not deleted but made
  inactive (``Active`` false, a sparse update), which is how they are archived.
- V Items: ``Name`` unique (at most 100 characters), ``Type`` ``Service``; an ``IncomeAccountRef``
  is required for service items (Item create reference).
- V Invoices: ``CustomerRef``, ``Line`` (``DetailType`` ``SalesItemLineDetail`` with ``ItemRef``,
  ``Qty``, ``UnitPrice``; ``Amount`` and ``Description`` on the line), ``TxnDate``, ``DocNumber``,
  ``CurrencyRef``, ``PrivateNote``, ``EmailStatus``/``PrintStatus`` (``NotSet``, ``NeedToSend``,
  ``EmailSent`` / ``NeedToPrint``, ``PrintComplete``), read-only ``TotalAmt`` and ``Balance``
  (XSD ``Invoice``, ``SalesTransaction``, ``Line``, ``SalesItemLineDetail``). ``DocNumber`` has
  at most 21 characters; ``AUTO_GENERATE`` makes QuickBooks number the invoice even where the
  company types its own numbers (.NET SDK reference, ``Transaction.DocNumber``).
- V Voiding keeps the invoice, zeroes its amounts and quantities and prepends "Voided" to
  ``PrivateNote`` (Intuit blog 2016-04-06 "Voiding invoice objects"). S The REST answer has no
  void flag, so :attr:`Invoice.lifecycle` recognises a voided invoice by ``TotalAmt`` 0 and that
  note (intuit/QuickBooks-V3-PHP-SDK issue 167). A The XSD's newer ``invoiceStatus`` (``VOIDED``,
  ``PARTIALLY_PAID``, ...) is not relied on: nothing says REST answers carry it.
- V Webhooks: one endpoint per app for every connected company; ``intuit-signature`` is the
  base64 HMAC-SHA256 of the raw body keyed with the app's verifier token; the legacy payload is
  ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
  "operation", "lastUpdated"}]}}]}`` with ids only (managing-webhooks-notifications page).
  Intuit moves every app to a CloudEvents payload, a JSON array of ``{"specversion", "id",
  "type": "qbo.<entity>.<operation>.v1", "time", "intuitentityid", "intuitaccountid", "data"}``,
  mandatory in 2026 (Intuit blog 2025-11-12 "Upcoming change to webhooks payload structure"); the
  signature is unchanged. :func:`parse_webhook` reads both. A Operation words other than
  ``created`` in CloudEvents types (``updated``, ``deleted``, ``voided``, ``merged``) are assumed
  from the legacy operations.

**Draft invoices.** QuickBooks Online's Accounting API has no draft state: every invoice it stores
is posted to accounts receivable (Intuit's separate GraphQL API has ``createInvoiceDraft``, but it
is a different product and not used here). Timebridge's "draft" is therefore an invoice that was
never sent: :meth:`QuickBooksClient.create_invoice` sets ``EmailStatus`` and ``PrintStatus`` to
``NotSet``, adds no ``BillEmail`` and never calls ``/send``, and writes the caller's note to
``PrivateNote`` (internal, not printed) so that bookkeepers see where it came from. It stays a
draft (:attr:`Invoice.lifecycle` ``"draft"``) until someone sends, prints, pays or voids it.
"""

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
)
from pydantic.alias_generators import to_pascal

from timebridge_common.outbound.http import (
    NotFoundError,
    ProviderError,
)

QBO_API_URL = "https://quickbooks.api.intuit.com"
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL
SCOPE = "com.intuit.quickbooks.accounting"
MINOR_VERSION = "75"
RATE_LIMIT = (500, 60.0)
"""Requests per seconds QuickBooks Online allows one app per company."""
PAGE_LIMIT = 1000
"""The most ``MAXRESULTS`` a query may ask for."""
REQUEST_ID_LIMIT = 50
SIGNATURE_HEADER = "intuit-signature"

T = TypeVar("T")
Json = dict[str, Any]

_CODE = re.compile(r'"code"\s*:\s*"?(\d+)')
_CLOUD_OPERATIONS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "voided": "Void",
    "merged": "Merge",
    "emailed": "Emailed",
}
_ENTITY_NAMES = {
    "customer": "Customer",
    "invoice": "Invoice",
    "item": "Item",
    "payment": "Payment",
    "creditmemo": "CreditMemo",
    "timeactivity": "TimeActivity",
}
"""CloudEvents types name entities in lower case; QuickBooks' own spelling, where it differs."""
_CENT = Decimal("0.01")

Amount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
"""A decimal read exactly and written as a JSON number, as QuickBooks expects."""


class _Model(BaseModel):
    """QuickBooks' element names (``DisplayName``) as snake_case attributes; unknown ignored."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_pascal, populate_by_name=True
    )


class Ref(_Model):
    """A ``ReferenceType``: the id in ``value``, and the referenced entity's ``name``."""

    value: str = Field(alias="value")
    name: str | None = Field(default=None, alias="name")


class MetaData(_Model):
    create_time: dt.datetime | None = None
    last_updated_time: dt.datetime | None = None


class PhysicalAddress(_Model):
    id: str | None = None
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    city: str | None = None
    country: str | None = None
    country_sub_division_code: str | None = None
    """State or province."""
    postal_code: str | None = None


class EmailAddress(_Model):
    address: str | None = None


class _Entity(_Model):
    """What every QuickBooks entity has: its id and when it last changed."""

    id: str
    meta_data: MetaData | None = None

    @property
    def changed_at(self) -> dt.datetime | None:
        return self.meta_data.last_updated_time if self.meta_data else None


E = TypeVar("E", bound=_Entity)


class Customer(_Entity):
    """A customer as Timebridge mirrors it: name, billing details and tax settings."""

    sync_token: str
    display_name: str
    company_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    fully_qualified_name: str | None = None
    active: bool = True
    """Inactive customers are QuickBooks' archived (it deletes none)."""
    bill_addr: PhysicalAddress | None = None
    primary_email_addr: EmailAddress | None = None
    taxable: bool | None = None
    default_tax_code_ref: Ref | None = None
    primary_tax_identifier: str | None = None
    resale_num: str | None = None
    tax_exemption_reason_id: str | None = None
    currency_ref: Ref | None = None
    notes: str | None = None


class Account(_Entity):
    name: str
    account_type: str | None = None
    active: bool = True
    fully_qualified_name: str | None = None


class Item(_Entity):
    sync_token: str
    name: str
    type: str | None = None
    active: bool = True
    description: str | None = None
    income_account_ref: Ref | None = None
    unit_price: Amount | None = None


class SalesItemLineDetail(_Model):
    item_ref: Ref
    qty: Amount | None = None
    unit_price: Amount | None = None
    service_date: dt.date | None = None
    tax_code_ref: Ref | None = None


class Line(_Model):
    """One invoice line; Timebridge writes sales item lines, QuickBooks adds a subtotal line."""

    id: str | None = None
    line_num: int | None = None
    description: str | None = None
    amount: Amount
    detail_type: str
    sales_item_line_detail: SalesItemLineDetail | None = None


class LinkedTxn(_Model):
    txn_id: str
    txn_type: str


InvoiceLifecycle = Literal["draft", "sent", "partially_paid", "paid", "voided"]


class Invoice(_Entity):
    sync_token: str
    doc_number: str | None = None
    txn_date: dt.date | None = None
    due_date: dt.date | None = None
    customer_ref: Ref
    currency_ref: Ref | None = None
    line: tuple[Line, ...] = ()
    total_amt: Amount
    balance: Amount
    private_note: str | None = None
    email_status: str | None = None
    print_status: str | None = None
    linked_txn: tuple[LinkedTxn, ...] = ()

    @property
    def lifecycle(self) -> InvoiceLifecycle:
        """Where the invoice stands, from its amounts and delivery state (deleted ones are gone:
        :meth:`QuickBooksClient.invoice` raises :class:`NotFoundError`, CDC lists them)."""
        if self.total_amt == 0 and (self.private_note or "").startswith("Voided"):
            return "voided"
        if self.balance == 0 and self.total_amt > 0:
            return "paid"
        if self.balance < self.total_amt:
            return "partially_paid"
        if self.email_status == "EmailSent" or self.print_status == "PrintComplete":
            return "sent"
        return "draft"


class PaymentLine(_Model):
    """What a payment applies to the transactions it links (Timebridge reads invoices)."""

    amount: Amount
    linked_txn: tuple[LinkedTxn, ...] = ()


class Payment(_Entity):
    """A customer payment; voiding zeroes its amounts and puts "Voided" before its note."""

    txn_date: dt.date | None = None
    currency_ref: Ref | None = None
    total_amt: Amount
    unapplied_amt: Amount | None = None
    private_note: str | None = None
    line: tuple[PaymentLine, ...] = ()

    @property
    def voided(self) -> bool:
        return self.total_amt == 0 and (self.private_note or "").startswith("Voided")


class DeletedEntity(_Entity):
    """What change data capture says of a deleted entity: its id and when, nothing else."""

    entity_status: Literal["Deleted"] = Field(alias="status")


class DraftLine(BaseModel):
    """One billed line of a draft: ``qty`` (hours) of a service item at ``unit_price``."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    description: str
    qty: Decimal = Field(gt=0)
    unit_price: Decimal = Field(ge=0)
    service_date: dt.date | None = None

    @property
    def amount(self) -> Decimal:
        return (self.qty * self.unit_price).quantize(_CENT, rounding=ROUND_HALF_UP)


class DraftInvoice(BaseModel):
    """What Timebridge exports; see the module docstring for how "draft" maps to QuickBooks."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    lines: tuple[DraftLine, ...] = Field(min_length=1)
    txn_date: dt.date
    due_date: dt.date | None = None
    """``DueDate``; ``None``: QuickBooks derives it from the customer's terms."""
    doc_number: str | None = Field(default=None, max_length=21)
    """``None``: QuickBooks gives the next number of its own sequence."""
    currency: str | None = None
    """ISO code; ``None`` is the customer's currency."""
    note: str | None = Field(default=None, max_length=4000)
    """Internal memo (``PrivateNote``), never shown to the customer."""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class Changes:
    """What change data capture reported: live entities in full, deleted ones by id."""

    customers: tuple[Customer, ...]
    items: tuple[Item, ...]
    invoices: tuple[Invoice, ...]
    deleted: tuple[tuple[str, DeletedEntity], ...]
    """(entity name, tombstone) pairs."""
    time: dt.datetime | None
    """The server's time of the answer: the next ``since``."""
    payments: tuple[Payment, ...] = ()


CdcEntity = Literal["Customer", "Item", "Invoice", "Payment"]


class StaleObjectError(ProviderError):
    """Fault ``5010``: the entity changed since its ``SyncToken`` was read."""


class DuplicateNameError(ProviderError):
    """Fault ``6240``: another entity of that kind already has the name."""


class DuplicateDocNumberError(ProviderError):
    """Fault ``6140``: another invoice already has the ``DocNumber``."""


_FAULTS: dict[str, type[ProviderError]] = {
    "610": NotFoundError,
    "5010": StaleObjectError,
    "6140": DuplicateDocNumberError,
    "6240": DuplicateNameError,
}


class _QueryAnswer(_Model, Generic[T]):
    query_response: dict[str, list[T] | int] = {}


class _CdcBlock(_Model):
    query_response: list[dict[str, list[Json] | int]] = []


class _CdcAnswer(_Model):
    cdc_response: list[_CdcBlock] = Field(default=[], alias="CDCResponse")
    time: dt.datetime | None = Field(default=None, alias="time")


_ENTITY_MODELS: dict[str, type[_Entity]] = {
    "Customer": Customer,
    "Item": Item,
    "Invoice": Invoice,
    "Payment": Payment,
}
