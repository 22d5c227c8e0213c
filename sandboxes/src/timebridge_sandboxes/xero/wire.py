"""Request bodies as Xero's API and the sandbox's admin API take them."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from timebridge_sandboxes.xero.state import Json


class _LineIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Description: str | None = None
    Quantity: Decimal | None = None
    UnitAmount: Decimal | None = None
    LineAmount: Decimal | None = None
    AccountCode: str | None = None
    ItemCode: str | None = None
    TaxType: str | None = None
    TaxAmount: Decimal | None = None


class _ContactRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ContactID: str | None = None


class _InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Type: str | None = None
    Contact: _ContactRef | None = None
    LineItems: list[_LineIn] | None = None
    Date: dt.date | None = None
    DueDate: dt.date | None = None
    Reference: str | None = None
    CurrencyCode: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    LineAmountTypes: Literal["Exclusive", "Inclusive", "NoTax"] | None = None
    InvoiceNumber: str | None = Field(default=None, max_length=255)
    Status: Literal["DRAFT", "SUBMITTED", "AUTHORISED", "VOIDED", "DELETED"] | None = None


class _InvoicesIn(BaseModel):
    Invoices: list[_InvoiceIn] = Field(min_length=1)


class _TenantIn(BaseModel):
    name: str = Field(min_length=1)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class _ContactIn(BaseModel):
    """A contact as typed in Xero's UI (the fields the sandbox keeps)."""

    Name: str | None = Field(default=None, min_length=1, max_length=255)
    EmailAddress: str | None = None
    TaxNumber: str | None = Field(default=None, max_length=50)
    ContactNumber: str | None = Field(default=None, max_length=50)
    Addresses: list[Json] | None = None
    IsCustomer: bool = True
    IsSupplier: bool = False
    ContactStatus: Literal["ACTIVE", "ARCHIVED"] | None = None


class _PaymentIn(BaseModel):
    Amount: Decimal | None = Field(default=None, gt=0)
    Date: dt.date | None = None


class _WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://")
    key: str = Field(min_length=1)


@dataclass(frozen=True)
class _Caller:
    client_id: str
    tenant_id: str
