"""Request bodies as FreshBooks' API takes them, validated into its error shape."""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timebridge_sandboxes.freshbooks.state import (
    INVALID_VALUE,
    REQUIRED_FIELD,
    Json,
    M,
    Refused,
    _events_error,
)


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _ClientFields(_In):
    fname: str | None = None
    lname: str | None = None
    organization: str | None = None
    email: str | None = None
    p_street: str | None = None
    p_street2: str | None = None
    p_city: str | None = None
    p_code: str | None = None
    p_province: str | None = None
    p_country: str | None = None
    currency_code: str | None = None
    vat_name: str | None = None
    vat_number: str | None = None
    vis_state: Literal[0, 1, 2] | None = None


class _MoneyIn(_In):
    amount: Decimal
    code: str | None = None


class _LineIn(_In):
    name: str = ""
    description: str = ""
    qty: Decimal = Decimal(1)
    unit_cost: _MoneyIn


class _InvoiceChanges(_In):
    """The regular fields a PUT (or a user in FreshBooks' UI) may change."""

    invoice_number: str | None = None
    create_date: dt.date | None = None
    due_offset_days: int | None = Field(default=None, ge=0)
    po_number: str | None = None
    notes: str | None = None
    lines: list[_LineIn] | None = None


class _InvoiceIn(_InvoiceChanges):
    customerid: int
    create_date: dt.date
    currency_code: str | None = None
    status: Literal[1, 2] = 1


class _PaymentIn(_In):
    """A payment as ``POST .../payments/payments`` takes it (api/payments)."""

    invoiceid: int
    amount: _MoneyIn
    date: dt.date
    type: str = "Check"
    note: str = ""


class _PaymentChanges(_In):
    amount: _MoneyIn | None = None
    date: dt.date | None = None
    type: str | None = None
    note: str | None = None


class _CallbackIn(_In):
    event: str
    uri: str


class _CallbackBody(_In):
    callback: Json


def _problems(errors: Sequence[Any]) -> list[str]:
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors]


def _validated(model: type[M], fields: Json, *, events: bool = False, kind: str = "") -> M:
    """A JSON body's inner object as ``model``, refused in the API's error shape: the first
    problem's field, errno 1001 (RequiredField) for a missing one, 1004 (InvalidValue) else."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = _problems(exc.errors())
        if events:
            raise _events_error(422, "The request was unable to be followed.", problems) from None
        first = exc.errors()[0]
        missing = first["type"] == "missing"
        raise Refused(
            400,
            REQUIRED_FIELD if missing else INVALID_VALUE,
            "; ".join(problems),
            field=".".join(map(str, first["loc"])) or None,
            object=kind or None,
            value=None if missing else first.get("input"),
        ) from None


def inner(body: Any, key: str) -> Json:
    """``{"<key>": {...}}``'s object, as every FreshBooks write wraps it."""
    found = body.get(key) if isinstance(body, dict) else None
    if not isinstance(found, dict):
        raise Refused(400, REQUIRED_FIELD, f"{key}: Field required", field=key, object=key)
    return found
