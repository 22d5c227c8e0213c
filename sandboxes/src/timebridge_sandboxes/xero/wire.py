"""Request bodies as Xero's API and the sandbox's admin API take them.

Xero reads dates in any of the forms its SDKs and users send: ``/Date(1700000000000+0000)/``
(xero-python's date-times), ``/Date(1700000000000)/`` (its dates), ``2023-11-14`` and
``2023-11-14T00:00:00``; a date-time given for a date keeps its UTC day.
"""

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from timebridge_sandboxes.xero.state import Invalid, Json, _ms_day

M = TypeVar("M", bound=BaseModel)
_MS = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_date(value: Any) -> Any:
    """A Xero date in any documented form as a ``date`` (other values left to pydantic)."""
    if isinstance(value, str):
        match = _MS.match(value.strip())
        if match:
            return dt.datetime.fromtimestamp(int(match[1]) / 1000, dt.UTC).date()
        if "T" in value:
            try:
                return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
            except ValueError:
                return value
    return value


XeroDate = Annotated[dt.date, BeforeValidator(parse_date)]


class _In(BaseModel):
    """Xero ignores the fields it does not take (read-only ones sent back, SDK defaults)."""

    model_config = ConfigDict(extra="ignore")


class _LineIn(_In):
    Description: str | None = None
    Quantity: Decimal | None = None
    UnitAmount: Decimal | None = None
    LineAmount: Decimal | None = None
    AccountCode: str | None = None
    ItemCode: str | None = None
    TaxType: str | None = None
    TaxAmount: Decimal | None = None


class _ContactRef(_In):
    """A contact named in a document: by ``ContactID``, ``ContactNumber`` or ``Name``."""

    ContactID: str | None = None
    ContactNumber: str | None = None
    Name: str | None = None


class _InvoiceIn(_In):
    InvoiceID: str | None = None
    Type: str | None = None
    Contact: _ContactRef | None = None
    LineItems: list[_LineIn] | None = None
    Date: XeroDate | None = None
    DueDate: XeroDate | None = None
    Reference: str | None = None
    CurrencyCode: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    LineAmountTypes: Literal["Exclusive", "Inclusive", "NoTax"] | None = None
    InvoiceNumber: str | None = Field(default=None, max_length=255)
    Status: Literal["DRAFT", "SUBMITTED", "AUTHORISED", "VOIDED", "DELETED"] | None = None


class _InvoicesIn(_In):
    Invoices: list[_InvoiceIn] = Field(min_length=1)


class _TenantIn(BaseModel):
    name: str = Field(min_length=1)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class _ContactIn(_In):
    """A contact as the API or Xero's UI takes it (the fields the sandbox keeps)."""

    ContactID: str | None = None
    Name: str | None = Field(default=None, min_length=1, max_length=255)
    EmailAddress: str | None = None
    TaxNumber: str | None = Field(default=None, max_length=50)
    ContactNumber: str | None = Field(default=None, max_length=50)
    Addresses: list[Json] | None = None
    IsCustomer: bool | None = None
    IsSupplier: bool | None = None
    ContactStatus: Literal["ACTIVE", "ARCHIVED"] | None = None


class _ContactsIn(_In):
    Contacts: list[_ContactIn] = Field(min_length=1)


class _PaymentIn(_In):
    """A payment from the admin API (the amount due when ``Amount`` is left out)."""

    Amount: Decimal | None = Field(default=None, gt=0)
    Date: XeroDate | None = None


class _InvoiceRef(_In):
    InvoiceID: str | None = None
    InvoiceNumber: str | None = None


class _AccountRef(_In):
    AccountID: str | None = None
    Code: str | None = None


class _ApiPaymentIn(_In):
    """A payment as ``PUT|POST /Payments`` takes it: against an invoice, into an account."""

    Invoice: _InvoiceRef | None = None
    Account: _AccountRef | None = None
    Date: XeroDate | None = None
    Amount: Decimal | None = None
    Reference: str | None = None
    Status: Literal["AUTHORISED", "DELETED"] | None = None


class _PaymentChange(_In):
    Status: Literal["DELETED"]


class _WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://")
    key: str = Field(min_length=1)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return _ms_day(value)
    raise TypeError(type(value).__name__)


def echo(model: BaseModel) -> Json:
    """An element as Xero echoes it in a ``ValidationException``: numbers, ``/Date()/`` dates."""
    plain: Json = json.loads(json.dumps(model.model_dump(exclude_none=True), default=_plain))
    return plain


def validated(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or Xero's ``ValidationException`` naming what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Invalid(problems, data if isinstance(data, dict) else None) from None


@dataclass(frozen=True)
class _Caller:
    client_id: str
    tenant_id: str
