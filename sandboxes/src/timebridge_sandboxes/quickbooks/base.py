"""What every part of the QuickBooks sandbox shares: its limits, Fault refusals, entity records."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from timebridge_sandboxes.faults import ApiError

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
MINOR_VERSION = 75
"""The minor version every request is served at: Intuit serves 1-74 as 75 since August 2025."""
COMPANY_ZONE = dt.timezone(dt.timedelta(hours=-8))
HOME_CURRENCY = {"value": "USD", "name": "United States Dollar"}
CURRENCY_NAMES = {"USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling"}
KINDS = {
    "customer": "Customer",
    "item": "Item",
    "invoice": "Invoice",
    "account": "Account",
    "payment": "Payment",
    "companyinfo": "CompanyInfo",
}
"""Resource path segment -> entity name."""
WRITABLE = frozenset({"Customer", "Item", "Invoice", "Payment"})
DELETABLE = frozenset({"Invoice", "Payment"})
"""Transactions are deleted; name-list entities are made inactive (``Active`` false) instead."""
NAME_LISTS = frozenset({"Customer", "Item", "Account"})
"""Entities a query returns active-only unless it filters on ``Active``."""
OPERATION_EVENTS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Void": "voided",
    "Emailed": "emailed",
}

Json = dict[str, Any]
CENT = Decimal("0.01")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(COMPANY_ZONE).isoformat(timespec="seconds")


def money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def currency(code: str) -> Json:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


class Fault(ApiError):
    """A refusal in QuickBooks' shape: HTTP ``status`` with a Fault ``code`` and detail."""

    def __init__(
        self, status: int, code: str, message: str, detail: str = "", element: str = ""
    ) -> None:
        super().__init__(status, message)
        self.code = code
        self.detail = detail or message
        self.element = element


def not_found(what: str = "Another user has deleted this transaction.") -> Fault:
    return Fault(400, "610", "Object Not Found", f"Object Not Found : {what}")


def invalid(detail: str, element: str = "") -> Fault:
    return Fault(400, "2010", "Request has invalid or unsupported property", detail, element)


def required(name: str) -> Fault:
    return Fault(
        400,
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        name,
    )


def business(detail: str) -> Fault:
    return Fault(400, "6000", "A business validation error has occurred", detail)


def unsupported(detail: str) -> Fault:
    """Code ``500`` "Unsupported Operation" (HTTP 400), e.g. deleting a customer."""
    return Fault(400, "500", "Unsupported Operation", detail)


def stale(sync_token: str, current: int) -> Fault:
    return Fault(
        400,
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and another user were working on the same thing. "
        f"SyncToken {sync_token} is not the latest ({current}).",
    )


STATUS_FAULTS = {
    401: ("3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401"),
    403: ("3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403"),
    429: ("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429"),
}
FAULT_TYPES = {401: "AuthenticationFault", 403: "AuthorizationFault"}
"""The documented fault types besides ``ValidationFault`` (4xx) and ``SystemFault`` (5xx)."""


def fault_body(
    status: int, code: str, message: str, detail: str, at: dt.datetime, *, element: str = ""
) -> Json:
    """An ``IntuitResponse`` with a ``Fault`` of one ``Error``, as the error-codes page shows."""
    kind = "SystemFault" if status >= 500 else FAULT_TYPES.get(status, "ValidationFault")
    error = {"Message": message, "Detail": detail, "code": code, "element": element}
    return {"Fault": {"Error": [error], "type": kind}, "time": stamp(at)}


@dataclass
class Record:
    """One entity: its QuickBooks elements besides ``Id``, ``SyncToken`` and ``MetaData``."""

    kind: str
    id: str
    fields: Json
    created: dt.datetime
    updated: dt.datetime
    version: int = 0
    deleted: bool = False


@dataclass
class Company:
    realm_id: str
    name: str
    records: dict[tuple[str, str], Record] = field(default_factory=dict)
    replies: dict[str, Json] = field(default_factory=dict)
    """``requestid`` -> the first successful answer."""
    sequence: int = 0
    last_doc_number: int = 1000
    created: dt.datetime = field(default_factory=utcnow)

    def all(self, kind: str) -> list[Record]:
        return [r for (k, _), r in self.records.items() if k == kind]

    def live(self, kind: str, record_id: str) -> Record:
        record = self.records.get((kind, str(record_id)))
        if record is None or record.deleted:
            raise not_found()
        return record

    def insert(self, kind: str, fields: Json, now: Callable[[], dt.datetime]) -> Record:
        self.sequence += 1
        moment = now()
        record = Record(kind, str(self.sequence), fields, moment, moment)
        self.records[(kind, record.id)] = record
        return record
