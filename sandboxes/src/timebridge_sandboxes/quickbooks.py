"""An in-memory QuickBooks Online: Intuit's OAuth 2.0, the Accounting API routes Timebridge uses,
and signed webhooks.

Written from Intuit's documentation and the official XSD (element names), not from Timebridge's
client. One app serves every route on one host, under the real paths: ``GET /connect/oauth2``
(appcenter.intuit.com), ``POST /oauth2/v1/tokens/bearer`` (oauth.platform.intuit.com) and
``/v3/company/{realmId}/...`` (quickbooks.api.intuit.com).

Documented behaviour simulated here: the authorization-code flow (``code``, ``state``,
``realmId`` on the redirect; HTTP Basic client authentication; one-hour access tokens; rotating
refresh tokens; ``invalid_grant``), entities wrapped in their name, queries (``SELECT * FROM E
[WHERE .. AND ..] [ORDERBY f [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]``, at most 1000 a
page, name lists active-only unless ``Active`` is filtered), change data capture (30 days back,
at most 1000 objects, deleted entities as ``"status": "Deleted"``), ``requestid`` replaying the
first answer, ``SyncToken`` optimistic locking (Fault ``5010``), Fault bodies with the documented
codes (``610`` missing or deleted, ``2020`` required, ``2500`` invalid reference, ``6140``
duplicate ``DocNumber``, ``6240`` duplicate name), voiding (amounts zeroed, "Voided" prepended
to ``PrivateNote``), 500 requests a minute per company (``429``), and webhooks with
``intuit-signature`` = base64 HMAC-SHA256(verifier token, body), in the legacy
``eventNotifications`` payload or the CloudEvents one that replaces it in 2026.

Assumed where the documentation is silent, or simplified:

- A refresh token stops working the moment it is rotated (Intuit's grace period is undocumented;
  being strict catches a client that loses the rotated token). Codes live 5 minutes, once.
- The one seeded user consents at once, to ``QuickBooksState.consent_realm`` (else the first
  company); the sandbox has no login page.
- A ``requestid`` replays successful answers only; a refused request may be corrected and sent
  again with the same id. Request ids are kept for the sandbox's lifetime.
- A body element the sandbox does not simulate is refused with Fault ``2010``, so that a client
  starting to use one is noticed. Only ``SalesItemLineDetail`` lines are accepted; QuickBooks adds
  a ``SubTotalLineDetail`` line; taxes are not computed (``TotalTax`` 0); one currency per company
  (``USD``) unless a customer has another, and an invoice must be in its customer's currency.
- ``Amount`` must equal ``Qty`` x ``UnitPrice`` rounded to cents (Fault ``6000``).
- The API writes items and invoices only (customers come from the admin API, as users create
  them), and only sparse updates (``"sparse": true``). Fault codes ``2010`` (unsupported),
  ``4000`` (query syntax), ``4002`` (CDC beyond 30 days) and ``3100`` (``403``) are assumed.
- A request without ``Accept: application/json`` is ``406`` (QuickBooks would answer XML).
- Timestamps are in the company's zone (UTC-8, as Intuit's Pacific-time sandboxes), at seconds.
- A ``401`` body has QuickBooks' lower-case shape (``{"fault": {"error": [...]}}``), a token of
  another company is ``403``; the 10-concurrent-requests limit is not simulated.
- Webhooks: one notification per change, sent after the answer, not batched nor retried; a
  payment is announced as an ``Update`` of its invoice (no ``Payment`` entity is simulated).

What a QuickBooks user does in QuickBooks' screens goes through the admin API under
``/_sandbox`` (no auth, never rate limited nor faulted), and sends webhooks like API changes:
``POST /_sandbox/seed``, ``PUT|DELETE /_sandbox/webhook``, ``POST /_sandbox/companies/{realm}/
customers``, ``PATCH /_sandbox/companies/{realm}/{customers|items|invoices}/{id}``,
``POST .../invoices/{id}/payments|void|send``, ``DELETE .../invoices/{id}``,
``GET /_sandbox/deliveries``, plus the shared ``/_sandbox/reset`` and ``/_sandbox/faults``.
"""

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, install

RATE_LIMIT = (500, 60.0)
"""Requests per seconds QuickBooks Online allows one app per company."""
SCOPE = "com.intuit.quickbooks.accounting"
SIGNATURE_HEADER = "intuit-signature"
ACCESS_TOKEN_TTL = dt.timedelta(hours=1)
REFRESH_TOKEN_TTL_S = 8_726_400
CODE_TTL = dt.timedelta(minutes=5)
CDC_LOOKBACK = dt.timedelta(days=30)
PAGE_LIMIT = 1000
DEFAULT_PAGE = 100
REQUEST_ID_LIMIT = 50
COMPANY_ZONE = dt.timezone(dt.timedelta(hours=-8))
HOME_CURRENCY = {"value": "USD", "name": "United States Dollar"}
CURRENCY_NAMES = {"USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling"}
KINDS = {"customer": "Customer", "item": "Item", "invoice": "Invoice", "account": "Account"}
"""Resource path segment -> entity name."""
NAME_LISTS = frozenset({"Customer", "Item", "Account"})
"""Entities a query returns active-only unless it filters on ``Active``."""
_NAME_ELEMENTS = {"Customer": "DisplayName", "Item": "Name"}
"""The element that must be unique among an entity's records (inactive ones included)."""
OPERATION_EVENTS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Void": "voided",
    "Emailed": "emailed",
}

Json = dict[str, Any]
_CENT = Decimal("0.01")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(COMPANY_ZONE).isoformat(timespec="seconds")


def _money(value: Decimal) -> float:
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


class Fault(ApiError):
    """A refusal in QuickBooks' shape: HTTP ``status`` with a Fault ``code`` and detail."""

    def __init__(self, status: int, code: str, message: str, detail: str = "") -> None:
        super().__init__(status, message)
        self.code = code
        self.detail = detail or message


def _not_found(what: str = "Another user has deleted this transaction.") -> Fault:
    return Fault(400, "610", "Object Not Found", f"Object Not Found : {what}")


def _invalid(detail: str) -> Fault:
    return Fault(400, "2010", "Request has invalid or unsupported property", detail)


def _required(name: str) -> Fault:
    return Fault(
        400,
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
    )


def _fault_body(status: int, code: str, message: str, detail: str, at: dt.datetime) -> Json:
    if status == 401:
        error = {"message": message, "detail": detail, "code": code, "element": None}
        return {"fault": {"error": [error], "type": "AUTHENTICATION"}, "time": _stamp(at)}
    kind = "SystemFault" if status >= 500 else "ValidationFault"
    error = {"Message": message, "Detail": detail, "code": code, "element": ""}
    return {"Fault": {"Error": [error], "type": kind}, "time": _stamp(at)}


_STATUS_FAULTS = {
    401: ("3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401"),
    403: ("3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403"),
    429: ("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429"),
}


@dataclass
class _App:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class _Grant:
    """What a code, access token or refresh token stands for."""

    client_id: str
    realm_id: str
    expires_at: dt.datetime
    redirect_uri: str = ""


@dataclass
class _Record:
    """One entity: its QuickBooks elements besides ``Id``, ``SyncToken`` and ``MetaData``."""

    kind: str
    id: str
    fields: Json
    created: dt.datetime
    updated: dt.datetime
    version: int = 0
    deleted: bool = False


@dataclass
class _Company:
    realm_id: str
    name: str
    records: dict[tuple[str, str], _Record] = field(default_factory=dict)
    replies: dict[str, Json] = field(default_factory=dict)
    """``requestid`` -> the first successful answer."""
    sequence: int = 0
    last_doc_number: int = 1000

    def all(self, kind: str) -> list[_Record]:
        return [r for (k, _), r in self.records.items() if k == kind]

    def live(self, kind: str, record_id: str) -> _Record:
        record = self.records.get((kind, record_id))
        if record is None or record.deleted:
            raise _not_found()
        return record


@dataclass
class WebhookTarget:
    """The app's webhook endpoint (one for every connected company) and its verifier token."""

    url: str
    verifier_token: str
    format: Literal["cloudevents", "legacy"] = "cloudevents"

    def signature(self, body: bytes) -> str:
        mac = hmac.new(self.verifier_token.encode(), body, hashlib.sha256).digest()
        return base64.b64encode(mac).decode()


@dataclass(frozen=True)
class Delivery:
    """One webhook the sandbox sent and what came back."""

    payload: Json | list[Json]
    status: int | None
    error: str | None = None


@dataclass
class QuickBooksState:
    """The sandbox's data. Entity ids count up per company, so a seed always yields the same ids."""

    now: Callable[[], dt.datetime] = _utcnow
    apps: dict[str, _App] = field(default_factory=dict)
    companies: dict[str, _Company] = field(default_factory=dict)
    consent_realm: str | None = None
    """The company the seeded user picks at consent (default: the first one)."""
    codes: dict[str, _Grant] = field(default_factory=dict)
    access_tokens: dict[str, _Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, _Grant] = field(default_factory=dict)
    webhook: WebhookTarget | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    _realms: int = 0

    def reset(self) -> None:
        for table in (self.apps, self.companies, self.codes, self.access_tokens):
            table.clear()
        self.refresh_tokens.clear()
        self.deliveries.clear()
        self.webhook = None
        self.consent_realm = None
        self._realms = 0

    def add_app(self, client_id: str, client_secret: str, redirect_uris: Iterable[str]) -> None:
        self.apps[client_id] = _App(client_id, client_secret, list(redirect_uris))

    def add_company(self, name: str, realm_id: str | None = None) -> str:
        self._realms += 1
        realm = realm_id or str(9_130_350_000_000_000 + self._realms)
        self.companies[realm] = _Company(realm, name)
        return realm

    def issue_tokens(self, realm_id: str, client_id: str) -> tuple[str, str]:
        """A fresh access and refresh token of ``client_id`` for the company, as after consent."""
        now = self.now()
        access, refresh = secrets.token_urlsafe(32), f"AB11{secrets.token_urlsafe(32)}"
        self.access_tokens[access] = _Grant(client_id, realm_id, now + ACCESS_TOKEN_TTL)
        expires = now + dt.timedelta(seconds=REFRESH_TOKEN_TTL_S)
        self.refresh_tokens[refresh] = _Grant(client_id, realm_id, expires)
        return access, refresh

    def add_customer(self, realm_id: str, elements: Json) -> str:
        """A customer as a user creates it in QuickBooks (``DisplayName`` at least)."""
        body = _conform("Customer", elements)
        _check_unique(self.companies[realm_id], "Customer", body, None)
        return self.insert(realm_id, "Customer", _customer_fields(body))

    def add_account(self, realm_id: str, name: str) -> str:
        """An income account, where service items post their sales."""
        fields = {
            "Name": name,
            "FullyQualifiedName": name,
            "AccountType": "Income",
            "Active": True,
            "Classification": "Revenue",
            "CurrencyRef": HOME_CURRENCY,
        }
        return self.insert(realm_id, "Account", fields)

    def add_item(self, realm_id: str, name: str, income_account_id: str, **elements: Any) -> str:
        """A service item (more QuickBooks elements in ``elements``)."""
        company = self.companies[realm_id]
        body = {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": income_account_id}}
        body = _conform("Item", {**body, **elements})
        _check_unique(company, "Item", body, None)
        return self.insert(realm_id, "Item", _item_fields(company, body))

    def insert(self, realm_id: str, kind: str, fields: Json) -> str:
        company = self.companies[realm_id]
        company.sequence += 1
        now = self.now()
        record = _Record(kind, str(company.sequence), fields, now, now)
        company.records[(kind, record.id)] = record
        return record.id


# The writable elements the sandbox simulates, by shape: an element's value is a scalar kind,
# another shape's name, or a one-element list for a repeated element.
_SHAPES: dict[str, dict[str, str | list[str]]] = {
    "Ref": {"value": "string", "name": "string"},
    "Memo": {"value": "string"},
    "Email": {"Address": "string"},
    "Address": {
        "Id": "string",
        "Line1": "string",
        "Line2": "string",
        "Line3": "string",
        "City": "string",
        "Country": "string",
        "CountrySubDivisionCode": "string",
        "PostalCode": "string",
    },
    "Customer": {
        "Id": "string",
        "SyncToken": "string",
        "sparse": "boolean",
        "DisplayName": "string",
        "CompanyName": "string",
        "GivenName": "string",
        "FamilyName": "string",
        "PrintOnCheckName": "string",
        "Active": "boolean",
        "Taxable": "boolean",
        "BillAddr": "Address",
        "ShipAddr": "Address",
        "PrimaryEmailAddr": "Email",
        "DefaultTaxCodeRef": "Ref",
        "PrimaryTaxIdentifier": "string",
        "ResaleNum": "string",
        "TaxExemptionReasonId": "string",
        "CurrencyRef": "Ref",
        "Notes": "string",
    },
    "Item": {
        "Id": "string",
        "SyncToken": "string",
        "sparse": "boolean",
        "Name": "string",
        "Type": "string",
        "Active": "boolean",
        "Description": "string",
        "IncomeAccountRef": "Ref",
        "UnitPrice": "decimal",
        "Taxable": "boolean",
    },
    "Invoice": {
        "Id": "string",
        "SyncToken": "string",
        "sparse": "boolean",
        "CustomerRef": "Ref",
        "Line": ["Line"],
        "TxnDate": "date",
        "DueDate": "date",
        "DocNumber": "string",
        "CurrencyRef": "Ref",
        "PrivateNote": "string",
        "CustomerMemo": "Memo",
        "EmailStatus": "string",
        "PrintStatus": "string",
        "BillEmail": "Email",
    },
    "Line": {
        "Id": "string",
        "LineNum": "integer",
        "Description": "string",
        "Amount": "decimal",
        "DetailType": "string",
        "SalesItemLineDetail": "SalesItemLineDetail",
    },
    "SalesItemLineDetail": {
        "ItemRef": "Ref",
        "Qty": "decimal",
        "UnitPrice": "decimal",
        "ServiceDate": "date",
        "TaxCodeRef": "Ref",
    },
}
_SCALARS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "decimal": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "date": lambda v: isinstance(v, str) and bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)),
}
_STATUSES = {
    "EmailStatus": {"NotSet", "NeedToSend", "EmailSent"},
    "PrintStatus": {"NotSet", "NeedToPrint", "PrintComplete"},
}


def _conform(shape: str, value: Any, path: str = "") -> Any:
    """``value`` checked against a shape: every element known and of its kind."""
    where = path or shape
    kind = _SHAPES.get(shape)
    if kind is None:
        if not _SCALARS[shape](value):
            raise _invalid(f"{where} is not a valid {shape}")
        return value
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object")
    for name, element in value.items():
        spec = kind.get(name)
        if spec is None:
            raise _invalid(f"Property Name:{name} specified is unsupported or invalid ({where})")
        inner = f"{where}.{name}"
        if isinstance(spec, list):
            if not isinstance(element, list):
                raise _invalid(f"{inner} must be a list")
            for n, entry in enumerate(element):
                _conform(spec[0], entry, f"{inner}[{n}]")
        else:
            _conform(spec, element, inner)
    for name in _STATUSES.keys() & value.keys():
        if value[name] not in _STATUSES[name]:
            raise _invalid(f"Invalid Enumeration : {value[name]} for {where}.{name}")
    return value


def _customer_fields(body: Json) -> Json:
    fields = {k: v for k, v in body.items() if k not in {"Id", "SyncToken", "sparse"}}
    name = fields.get("DisplayName")
    if not name:
        raise _required("DisplayName")
    fields.setdefault("Active", True)
    fields.setdefault("PrintOnCheckName", name)
    fields["FullyQualifiedName"] = name
    fields["CurrencyRef"] = _currency(fields.get("CurrencyRef", HOME_CURRENCY)["value"])
    fields.setdefault("Balance", 0)
    fields.setdefault("Job", False)
    fields.setdefault("BillWithParent", False)
    return fields


def _item_fields(company: _Company, body: Json) -> Json:
    fields = {k: v for k, v in body.items() if k not in {"Id", "SyncToken", "sparse"}}
    name = fields.get("Name")
    if not name:
        raise _required("Name")
    if len(name) > 100 or re.search(r"[:\t\n]", name):
        raise _invalid("Name: at most 100 characters, without colons, tabs or new lines")
    if "Type" not in fields:
        raise _required("Type")
    if fields["Type"] not in {"Service", "NonInventory"}:
        raise _invalid(f"Type {fields['Type']}: only Service and NonInventory are simulated")
    account = fields.get("IncomeAccountRef")
    if account is None:
        raise _required("IncomeAccountRef")
    found = company.records.get(("Account", account["value"]))
    if found is None or found.fields.get("AccountType") != "Income":
        raise Fault(400, "2500", "Invalid Reference Id", "Invalid Reference Id : Accounts")
    account["name"] = found.fields["Name"]
    fields.setdefault("Active", True)
    fields["FullyQualifiedName"] = name
    return fields


def _check_unique(company: _Company, kind: str, body: Json, current: _Record | None) -> None:
    """Names of customers and items are unique, case-insensitively, inactive ones included."""
    element = _NAME_ELEMENTS.get(kind)
    if element is None:
        return
    name = str(body.get(element, "")).lower()
    if any(
        r.fields[element].lower() == name and r is not current and not r.deleted
        for r in company.all(kind)
    ):
        raise Fault(
            400,
            "6240",
            "Duplicate Name Exists Error",
            f"The name supplied already exists. : Another {kind.lower()} is already using this "
            "name. Please use a different name.",
        )


def _currency(code: str) -> Json:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


class _Sandbox:
    """QuickBooks' rules behind the routes: tokens, entities, queries, changes, webhooks."""

    def __init__(
        self,
        state: QuickBooksState,
        limit: RateLimit,
        webhook_transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.state = state
        self.limit = limit
        self.webhook_transport = webhook_transport

    def company(self, realm_id: str) -> _Company:
        company = self.state.companies.get(realm_id)
        if company is None:
            raise _not_found("Company not found")
        return company

    def render(self, record: _Record) -> Json:
        meta = {"LastUpdatedTime": _stamp(record.updated)}
        if record.deleted:
            return {"domain": "QBO", "status": "Deleted", "Id": record.id, "MetaData": meta}
        meta = {"CreateTime": _stamp(record.created), **meta}
        head = {"domain": "QBO", "sparse": False, "Id": record.id, "SyncToken": str(record.version)}
        return {**head, "MetaData": meta, **record.fields}

    def create(self, company: _Company, kind: str, body: Json) -> _Record:
        if kind == "Invoice" and body.get("DocNumber", "AUTO_GENERATE") == "AUTO_GENERATE":
            company.last_doc_number += 1  # the company numbers invoices (no custom numbers)
            body = {**body, "DocNumber": str(company.last_doc_number)}
        fields = self.validate(company, kind, body, None)
        record_id = self.state.insert(company.realm_id, kind, fields)
        return company.records[(kind, record_id)]

    def update(self, company: _Company, record: _Record, body: Json) -> _Record:
        """A new version of ``record`` with ``body``'s elements changed (a sparse update)."""
        record.fields = self.validate(company, record.kind, {**record.fields, **body}, record)
        record.version += 1
        record.updated = self.state.now()
        return record

    def validate(self, company: _Company, kind: str, body: Json, current: _Record | None) -> Json:
        """The stored elements of a new version, or the Fault that refuses it."""
        _check_unique(company, kind, body, current)
        if kind == "Customer":
            return _customer_fields(body)
        if kind == "Item":
            return _item_fields(company, body)
        return self.invoice_fields(company, body, current)

    def invoice_fields(self, company: _Company, body: Json, current: _Record | None) -> Json:
        fields = {k: v for k, v in body.items() if k not in {"Id", "SyncToken", "sparse"}}
        customer_ref = fields.get("CustomerRef")
        if customer_ref is None:
            raise _required("CustomerRef")
        customer = self.active(company, "Customer", customer_ref["value"])
        customer_ref["name"] = customer.fields["DisplayName"]
        currency = customer.fields["CurrencyRef"]["value"]
        if fields.get("CurrencyRef", {"value": currency})["value"] != currency:
            raise Fault(400, "6000", "A business validation error has occurred", "Currency")
        fields["CurrencyRef"] = _currency(currency)
        number = fields.get("DocNumber")
        if number is not None:
            if len(number) > 21:
                raise _invalid("DocNumber: at most 21 characters")
            if any(
                r.fields.get("DocNumber") == number and r is not current and not r.deleted
                for r in company.all("Invoice")
            ):
                raise Fault(400, "6140", "Duplicate Document Number Error", f"DocNumber={number}")
        lines = [line for line in fields.get("Line", []) if "SubTotalLineDetail" not in line]
        if not lines:
            raise _required("Line")
        total = sum(
            (self.sales_line(company, line, n) for n, line in enumerate(lines, 1)), Decimal(0)
        )
        paid = Decimal(0) if current is None else self.paid(current)
        today = self.state.now().astimezone(COMPANY_ZONE).date()
        txn_date = fields.setdefault("TxnDate", today.isoformat())
        fields.setdefault(
            "DueDate", (dt.date.fromisoformat(txn_date) + dt.timedelta(30)).isoformat()
        )
        fields.setdefault("EmailStatus", "NotSet")
        fields.setdefault("PrintStatus", "NotSet")
        fields.setdefault("LinkedTxn", [])
        subtotal = {"Amount": _money(total), "DetailType": "SubTotalLineDetail"}
        fields["Line"] = [*lines, {**subtotal, "SubTotalLineDetail": {}}]
        fields["TxnTaxDetail"] = {"TotalTax": 0}
        fields["TotalAmt"] = _money(total)
        fields["Balance"] = _money(max(Decimal(0), total - paid))
        return fields

    def sales_line(self, company: _Company, line: Json, number: int) -> Decimal:
        """Check and complete one sales line; its amount."""
        if line.get("DetailType") != "SalesItemLineDetail" or "SalesItemLineDetail" not in line:
            raise _invalid(f"Line {number}: only SalesItemLineDetail lines are simulated")
        if "Amount" not in line:
            raise _required("Amount")
        detail = line["SalesItemLineDetail"]
        if "ItemRef" not in detail:
            raise _required("ItemRef")
        item = self.active(company, "Item", detail["ItemRef"]["value"])
        detail["ItemRef"]["name"] = item.fields["Name"]
        detail.setdefault("TaxCodeRef", {"value": "NON"})
        amount = Decimal(str(line["Amount"]))
        if "Qty" in detail and "UnitPrice" in detail:
            product = Decimal(str(detail["Qty"])) * Decimal(str(detail["UnitPrice"]))
            if product.quantize(_CENT, rounding=ROUND_HALF_UP) != amount:
                raise Fault(
                    400,
                    "6000",
                    "A business validation error has occurred while processing your request",
                    f"Business Validation Error: Line {number}: Amount is not equal to "
                    "UnitPrice * Qty",
                )
        line["Id"], line["LineNum"] = str(number), number
        return amount

    @staticmethod
    def paid(record: _Record) -> Decimal:
        return Decimal(str(record.fields["TotalAmt"])) - Decimal(str(record.fields["Balance"]))

    def active(self, company: _Company, kind: str, record_id: str) -> _Record:
        record = company.records.get((kind, record_id))
        if record is None or record.deleted:
            raise Fault(400, "2500", "Invalid Reference Id", f"Invalid Reference Id : {kind}")
        if not record.fields.get("Active", True):
            raise _not_found(
                "Something you're trying to use has been made inactive. Check the fields with "
                "accounts, customers, items, vendors or employees."
            )
        return record

    def announce(
        self, background: BackgroundTasks, company: _Company, record: _Record, operation: str
    ) -> None:
        """Queue the webhook of a change; it goes out after the answer."""
        target = self.state.webhook
        if target is not None:
            payload = _notification(target, company.realm_id, record, operation)
            background.add_task(self.deliver, target, payload)

    async def deliver(self, target: WebhookTarget, payload: Json | list[Json]) -> None:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: target.signature(body)}
        try:
            async with httpx.AsyncClient(transport=self.webhook_transport, timeout=10) as client:
                answer = await client.post(target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.state.deliveries.append(Delivery(payload, None, type(exc).__name__))
        else:
            self.state.deliveries.append(Delivery(payload, answer.status_code))


def _notification(
    target: WebhookTarget, realm_id: str, record: _Record, operation: str
) -> Json | list[Json]:
    if target.format == "legacy":
        entity = {
            "name": record.kind,
            "id": record.id,
            "operation": operation,
            "lastUpdated": record.updated.astimezone(dt.UTC).isoformat(timespec="milliseconds"),
        }
        return {
            "eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": [entity]}}]
        }
    return [
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "intuit.sandbox",
            "type": f"qbo.{record.kind.lower()}.{OPERATION_EVENTS[operation]}.v1",
            "datacontenttype": "application/json",
            "time": record.updated.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "intuitentityid": record.id,
            "intuitaccountid": realm_id,
            "data": {},
        }
    ]


# ---- queries --------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<symbol><=|>=|=|<|>|\(|\)|,|\*)|(?P<word>[A-Za-z_][\w.]*))"
)
_OPERATORS = frozenset({"=", "<", ">", "<=", ">=", "IN", "LIKE"})


@dataclass(frozen=True)
class _Query:
    entity: str
    where: tuple[tuple[str, str, Any], ...]
    order_by: str | None
    descending: bool
    start: int
    limit: int


def _query_error(detail: str) -> Fault:
    return Fault(400, "4000", "Error parsing query", f"QueryParserError: {detail}")


class _Parser:
    """The query language's select statement, as far as the sandbox needs it."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise _query_error(f"Encountered an unexpected character at {position}")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, kind: str | None = None) -> str:
        if self.at >= len(self.tokens) or kind not in (None, self.tokens[self.at][0]):
            raise _query_error(f"Encountered unexpected end or token after {self.peek()!r}")
        self.at += 1
        return self.tokens[self.at - 1][1]

    def keyword(self, *words: str) -> bool:
        if (self.peek() or "").upper() in words:
            self.at += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            raise _query_error(f"Expected {word}, found {self.peek()!r}")

    def value(self) -> Any:
        kind, token = self.tokens[self.at] if self.at < len(self.tokens) else ("", "")
        self.at += 1
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", token[1:-1])
        if kind == "number":
            return Decimal(token)
        if token.lower() in {"true", "false"}:
            return token.lower() == "true"
        raise _query_error(f"Unexpected value {token!r}")

    def statement(self) -> _Query:
        self.expect("SELECT")
        if self.take() != "*":
            raise _query_error("only SELECT * is simulated")
        self.expect("FROM")
        entity = self.take("word")
        where: list[tuple[str, str, Any]] = []
        if self.keyword("WHERE"):
            where.append(self.condition())
            while self.keyword("AND"):
                where.append(self.condition())
        order_by, descending = None, False
        if self.keyword("ORDERBY"):
            order_by = self.take("word")
            descending = self.keyword("DESC")
            if not descending:
                self.keyword("ASC")
        start = int(self.take("number")) if self.keyword("STARTPOSITION") else 1
        limit = int(self.take("number")) if self.keyword("MAXRESULTS") else DEFAULT_PAGE
        if self.peek() is not None:
            raise _query_error(f"Encountered {self.peek()!r} after the statement")
        if start < 1 or not 1 <= limit <= PAGE_LIMIT:
            raise _query_error(f"STARTPOSITION from 1, MAXRESULTS 1 to {PAGE_LIMIT}")
        return _Query(entity, tuple(where), order_by, descending, start, limit)

    def condition(self) -> tuple[str, str, Any]:
        name = self.take("word")
        operator = self.take().upper()
        if operator not in _OPERATORS:
            raise _query_error(f"Unsupported operator {operator!r}")
        if operator != "IN":
            return name, operator, self.value()
        if self.take() != "(":
            raise _query_error("IN needs a parenthesised list")
        values = [self.value()]
        while self.peek() == ",":
            self.take()
            values.append(self.value())
        if self.take() != ")":
            raise _query_error("IN list not closed")
        return name, operator, tuple(values)


def _path(row: Json, name: str) -> Any:
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _comparable(name: str, value: Any) -> Any:
    """A value as QuickBooks compares it: timestamps as instants, numbers as numbers."""
    if isinstance(value, bool) or value is None:
        return value
    if name.endswith("Time"):
        moment = dt.datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=COMPANY_ZONE)
    if name == "Id" or isinstance(value, int | float | Decimal):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return str(value)
    return str(value)


def _matches(row: Json, name: str, operator: str, wanted: Any) -> bool:
    actual = _comparable(name, _path(row, name))
    if actual is None:
        return False
    if operator == "IN":
        return actual in {_comparable(name, w) for w in wanted}
    if operator == "LIKE":
        pattern = ".*".join(re.escape(part) for part in str(wanted).split("%"))
        return re.fullmatch(pattern, str(actual), re.IGNORECASE) is not None
    expected = _comparable(name, wanted)
    try:
        return bool(
            {
                "=": actual == expected,
                "<": actual < expected,
                ">": actual > expected,
                "<=": actual <= expected,
                ">=": actual >= expected,
            }[operator]
        )
    except TypeError:
        raise _query_error(f"cannot compare {name} with {wanted!r}") from None


def _run_query(sandbox: _Sandbox, company: _Company, text: str) -> Json:
    query = _Parser(text).statement()
    if query.entity not in KINDS.values():
        raise _query_error(f"Invalid entity {query.entity!r}")
    where = list(query.where)
    if query.entity in NAME_LISTS and not any(name == "Active" for name, _, _ in where):
        where.append(("Active", "=", True))
    try:
        rows = [
            row
            for row in (sandbox.render(r) for r in company.all(query.entity) if not r.deleted)
            if all(_matches(row, *condition) for condition in where)
        ]
        order = query.order_by or "Id"

        def key(row: Json) -> tuple[bool, Any]:
            value = _comparable(order, _path(row, order))
            return value is None, value

        rows.sort(key=key, reverse=query.descending)
    except ValueError as exc:
        raise _query_error(str(exc)) from None
    page = rows[query.start - 1 : query.start - 1 + query.limit]
    if not page:
        return {"QueryResponse": {}, "time": _stamp(sandbox.state.now())}
    found = {query.entity: page, "startPosition": query.start, "maxResults": len(page)}
    return {"QueryResponse": found, "time": _stamp(sandbox.state.now())}


# ---- routes ---------------------------------------------------------------------------------


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _caller(
    sandbox: Sandbox,
    realm_id: str,
    authorization: Annotated[str | None, Header()] = None,
    accept: Annotated[str | None, Header()] = None,
) -> _Company:
    """The company of a valid bearer token, after the per-company rate limit."""
    scheme, _, token = (authorization or "").partition(" ")
    grant = sandbox.state.access_tokens.get(token) if scheme.lower() == "bearer" else None
    if grant is None:
        raise Fault(401, *_STATUS_FAULTS[401], "Token revoked or unknown")
    if grant.expires_at <= sandbox.state.now():
        raise Fault(401, *_STATUS_FAULTS[401], "Token expired")
    if grant.realm_id != realm_id:
        raise Fault(403, *_STATUS_FAULTS[403], "The token is not for this company")
    sandbox.limit.admit(realm_id)
    if "application/json" not in (accept or ""):
        raise Fault(406, "4001", "Not Acceptable", "this sandbox answers JSON only (Accept)")
    return sandbox.company(realm_id)


Company = Annotated[_Company, Depends(_caller)]

oauth = APIRouter(tags=["oauth"])
api = APIRouter(prefix="/v3/company/{realm_id}")
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


def _kind(resource: str) -> str:
    kind = KINDS.get(resource.lower())
    if kind is None:
        raise Fault(400, "2010", "Unsupported Operation", f"Resource {resource} not simulated")
    return kind


@oauth.get("/connect/oauth2")
async def authorize(
    sandbox: Sandbox,
    *,
    client_id: str,
    redirect_uri: str,
    response_type: str = "",
    scope: str = "",
    state: str = "",
) -> Response:
    """The seeded user consents at once and Intuit sends the browser back with a code."""
    app = sandbox.state.apps.get(client_id)
    if app is None or redirect_uri not in app.redirect_uris:
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    answer: dict[str, str] = {"state": state}
    realm = sandbox.state.consent_realm or next(iter(sandbox.state.companies), None)
    if response_type != "code":
        answer["error"] = "unsupported_response_type"
    elif SCOPE not in scope.split():
        answer["error"] = "invalid_scope"
    elif realm is None:
        answer["error"] = "access_denied"
    else:
        code = f"AB11{secrets.token_urlsafe(24)}"
        expires = sandbox.state.now() + CODE_TTL
        sandbox.state.codes[code] = _Grant(client_id, realm, expires, redirect_uri)
        answer |= {"code": code, "realmId": realm}
    return RedirectResponse(f"{redirect_uri}?{urlencode(answer)}", status_code=302)


def _client(sandbox: _Sandbox, authorization: str | None) -> _App | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    app = sandbox.state.apps.get(client_id)
    if scheme.lower() != "basic" or app is None:
        return None
    return app if hmac.compare_digest(app.client_secret, secret) else None


@oauth.post("/oauth2/v1/tokens/bearer")
async def token(
    sandbox: Sandbox,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Code exchange and refresh; a refresh token works once, then its successor does."""
    app = _client(sandbox, authorization)
    if app is None:
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
    state, now = sandbox.state, sandbox.state.now()
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        grant = state.codes.pop(form.get("code", ""), None)
        valid = grant is not None and grant.redirect_uri == form.get("redirect_uri")
    elif grant_type == "refresh_token":
        grant = state.refresh_tokens.pop(form.get("refresh_token", ""), None)
        valid = grant is not None
    else:
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    if not valid or grant is None or grant.client_id != app.client_id or grant.expires_at <= now:
        return JSONResponse({"error": "invalid_grant"}, status_code=400)
    access, refresh = state.issue_tokens(grant.realm_id, app.client_id)
    return JSONResponse(
        {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "refresh_token": refresh,
            "x_refresh_token_expires_in": REFRESH_TOKEN_TTL_S,
        },
        headers={"Cache-Control": "no-store"},
    )


@api.get("/query")
async def query(sandbox: Sandbox, company: Company, query: str) -> Json:
    return _run_query(sandbox, company, query)


@api.get("/cdc")
async def change_data_capture(
    sandbox: Sandbox,
    company: Company,
    entities: str,
    changed_since: Annotated[str, Query(alias="changedSince")],
) -> Json:
    now = sandbox.state.now()
    try:
        since = dt.datetime.fromisoformat(changed_since)
    except ValueError:
        raise _invalid(f"changedSince {changed_since!r} is not an ISO date-time") from None
    since = since if since.tzinfo else since.replace(tzinfo=COMPANY_ZONE)
    if since < now - CDC_LOOKBACK:
        raise Fault(400, "4002", "Invalid changedSince", "changedSince is more than 30 days ago")
    kinds = [_kind(name.strip()) for name in entities.split(",")]
    groups: list[Json] = []
    budget = PAGE_LIMIT
    for kind in kinds:
        changed = sorted(
            (r for r in company.all(kind) if r.updated >= since), key=lambda r: r.updated
        )[:budget]
        budget -= len(changed)
        found = [sandbox.render(r) for r in changed]
        groups.append({kind: found, "startPosition": 1, "maxResults": len(found)} if found else {})
    return {"CDCResponse": [{"QueryResponse": groups}], "time": _stamp(now)}


@api.get("/{resource}/{record_id}")
async def read(sandbox: Sandbox, company: Company, resource: str, record_id: str) -> Json:
    kind = _kind(resource)
    return {
        kind: sandbox.render(company.live(kind, record_id)),
        "time": _stamp(sandbox.state.now()),
    }


@api.post("/{resource}")
async def write(
    sandbox: Sandbox,
    *,
    company: Company,
    resource: str,
    request: Request,
    background: BackgroundTasks,
    requestid: str | None = None,
) -> Json:
    """Create (no ``Id``) or update (``Id`` and ``SyncToken``) an item or invoice."""
    kind = _kind(resource)
    if kind not in {"Item", "Invoice"}:
        raise Fault(400, "2010", "Unsupported Operation", f"{kind} writes are not simulated")
    if requestid is not None:
        if not 0 < len(requestid) <= REQUEST_ID_LIMIT:
            raise _invalid(f"requestid: 1 to {REQUEST_ID_LIMIT} characters")
        if requestid in company.replies:
            return company.replies[requestid]
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise _invalid("the body is not JSON") from None
    body = _conform(kind, body)
    if "Id" in body:
        record = company.live(kind, body["Id"])
        if body.get("SyncToken") is None:
            raise _required("SyncToken")
        if body["SyncToken"] != str(record.version):
            raise Fault(
                400,
                "5010",
                "Stale Object Error",
                f"Stale Object Error : You and another user were working on the same thing. "
                f"SyncToken {body['SyncToken']} is not the latest ({record.version}).",
            )
        if body.get("sparse") is not True:
            raise _invalid('only sparse updates ("sparse": true) are simulated')
        record = sandbox.update(company, record, body)
        operation = "Update"
    else:
        record = sandbox.create(company, kind, body)
        operation = "Create"
    sandbox.announce(background, company, record, operation)
    answer = {kind: sandbox.render(record), "time": _stamp(sandbox.state.now())}
    if requestid is not None:
        company.replies[requestid] = answer
    return answer


# ---- admin API: what a QuickBooks user does in QuickBooks' screens --------------------------


class _SeedApp(BaseModel):
    client_id: str
    client_secret: str
    redirect_uris: list[str] = Field(min_length=1)


class _SeedCompany(BaseModel):
    name: str
    realm_id: str | None = None
    income_accounts: list[str] = ["Services"]
    items: list[str] = []
    """Service item names, posting to the first income account."""
    customers: list[Json] = []
    """QuickBooks ``Customer`` elements, at least ``DisplayName``."""


class _Seed(BaseModel):
    apps: list[_SeedApp] = []
    companies: list[_SeedCompany] = []
    consent_realm: str | None = None


class _WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://")
    verifier_token: str = Field(min_length=1)
    format: Literal["cloudevents", "legacy"] = "cloudevents"


class _PaymentIn(BaseModel):
    amount: Decimal = Field(gt=0)


@admin.post("/seed")
async def seed(sandbox: Sandbox, body: _Seed) -> Json:
    state = sandbox.state
    for app in body.apps:
        state.add_app(app.client_id, app.client_secret, app.redirect_uris)
    companies: list[Json] = []
    for c in body.companies:
        realm = state.add_company(c.name, c.realm_id)
        accounts = [state.add_account(realm, name) for name in c.income_accounts]
        items = [state.add_item(realm, name, accounts[0]) for name in c.items]
        customers = [state.add_customer(realm, elements) for elements in c.customers]
        companies.append(
            {"realm_id": realm, "accounts": accounts, "items": items, "customers": customers}
        )
    state.consent_realm = body.consent_realm or state.consent_realm
    return {"companies": companies}


@admin.put("/webhook")
async def subscribe(sandbox: Sandbox, body: _WebhookIn) -> Json:
    sandbox.state.webhook = WebhookTarget(body.url, body.verifier_token, body.format)
    return {"url": body.url, "format": body.format}


@admin.delete("/webhook", status_code=204)
async def unsubscribe(sandbox: Sandbox) -> Response:
    sandbox.state.webhook = None
    return Response(status_code=204)


@admin.post("/companies/{realm_id}/customers", status_code=201)
async def ui_create_customer(
    sandbox: Sandbox, realm_id: str, body: Json, background: BackgroundTasks
) -> Json:
    company = sandbox.company(realm_id)
    record = sandbox.create(company, "Customer", _conform("Customer", body))
    sandbox.announce(background, company, record, "Create")
    return {"Customer": sandbox.render(record)}


@admin.patch("/companies/{realm_id}/{resource}/{record_id}")
async def ui_edit(
    sandbox: Sandbox,
    *,
    realm_id: str,
    resource: str,
    record_id: str,
    body: Json,
    background: BackgroundTasks,
) -> Json:
    """A user edits an entity: rename or archive a customer (``{"Active": false}``), change an
    invoice's number, date or lines; no ``SyncToken`` needed, but it moves on."""
    company = sandbox.company(realm_id)
    kind = _kind(resource.removesuffix("s"))
    record = sandbox.update(company, company.live(kind, record_id), _conform(kind, body))
    sandbox.announce(background, company, record, "Update")
    return {kind: sandbox.render(record)}


def _ui_invoice_change(
    sandbox: _Sandbox,
    realm_id: str,
    invoice_id: str,
    background: BackgroundTasks,
    *,
    operation: str,
    change: Callable[[_Company, _Record], None],
) -> Json:
    """What a user does to an invoice outside editing it: a new version, announced."""
    company = sandbox.company(realm_id)
    record = company.live("Invoice", invoice_id)
    change(company, record)
    record.version += 1
    record.updated = sandbox.state.now()
    sandbox.announce(background, company, record, operation)
    return {"Invoice": sandbox.render(record)}


def _void(_: _Company, record: _Record) -> None:
    """Amounts and quantities zeroed, "Voided" before the private note; the invoice stays."""
    for line in record.fields["Line"]:
        line["Amount"] = 0
        if "SalesItemLineDetail" in line:
            line["SalesItemLineDetail"]["Qty"] = 0
    note = record.fields.get("PrivateNote")
    record.fields["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    record.fields["TotalAmt"] = record.fields["Balance"] = 0


def _sent(_: _Company, record: _Record) -> None:
    record.fields["EmailStatus"] = "EmailSent"


def _deleted(_: _Company, record: _Record) -> None:
    record.deleted = True


@admin.post("/companies/{realm_id}/invoices/{invoice_id}/payments")
async def ui_receive_payment(
    sandbox: Sandbox, realm_id: str, invoice_id: str, body: _PaymentIn, background: BackgroundTasks
) -> Json:
    """The customer pays part or all of the balance (a payment linked to the invoice)."""

    def pay(company: _Company, record: _Record) -> None:
        balance = Decimal(str(record.fields["Balance"]))
        if body.amount > balance:
            raise Fault(400, "6000", "A business validation error has occurred", "Overpayment")
        company.sequence += 1
        record.fields["LinkedTxn"].append({"TxnId": str(company.sequence), "TxnType": "Payment"})
        record.fields["Balance"] = _money(balance - body.amount)

    return _ui_invoice_change(
        sandbox, realm_id, invoice_id, background, operation="Update", change=pay
    )


_ACTIONS = {"send": ("Emailed", _sent), "void": ("Void", _void)}


@admin.post("/companies/{realm_id}/invoices/{invoice_id}/{action}")
async def ui_act(
    sandbox: Sandbox,
    realm_id: str,
    invoice_id: str,
    action: Literal["send", "void"],
    background: BackgroundTasks,
) -> Json:
    """A user emails the invoice to the customer, or voids it."""
    operation, change = _ACTIONS[action]
    return _ui_invoice_change(
        sandbox, realm_id, invoice_id, background, operation=operation, change=change
    )


@admin.delete("/companies/{realm_id}/invoices/{invoice_id}", status_code=204)
async def ui_delete(
    sandbox: Sandbox, realm_id: str, invoice_id: str, background: BackgroundTasks
) -> Response:
    _ui_invoice_change(
        sandbox, realm_id, invoice_id, background, operation="Delete", change=_deleted
    )
    return Response(status_code=204)


@admin.get("/deliveries")
async def deliveries(sandbox: Sandbox) -> list[Json]:
    return [
        {"payload": d.payload, "status": d.status, "error": d.error}
        for d in sandbox.state.deliveries
    ]


def create_quickbooks_sandbox(
    state: QuickBooksState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The sandbox app; ``webhook_transport`` lets tests receive webhooks without a socket."""
    sandbox = _Sandbox(
        state if state is not None else QuickBooksState(),
        rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT),
        webhook_transport,
    )

    def error_body(status: int, message: str) -> Json:
        code, text = _STATUS_FAULTS.get(status, ("10000", "An application error has occurred"))
        return _fault_body(status, code, text, message, sandbox.state.now())

    def answer(exc: Fault) -> JSONResponse:
        body = _fault_body(exc.status, exc.code, exc.message, exc.detail, sandbox.state.now())
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    async def fault(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Fault)
        return answer(exc)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return answer(_invalid("; ".join(f"{e['loc']}: {e['msg']}" for e in exc.errors())))

    app = FastAPI(title="QuickBooks Online sandbox")
    app.state.sandbox = sandbox
    faults = faults if faults is not None else Faults()
    install(app, faults, sandbox.limit, sandbox.state.reset, error_body)
    app.add_exception_handler(Fault, fault)
    app.add_exception_handler(RequestValidationError, invalid)
    app.include_router(oauth)
    app.include_router(api)
    app.include_router(admin)
    return app
