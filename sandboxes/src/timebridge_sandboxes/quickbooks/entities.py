"""QuickBooks' rules for the entities the sandbox writes: what a new version of a customer, item,
invoice or payment stores, or the Fault that refuses it. Pure functions over one company.

Read-only elements a client sends back (``TotalAmt``, ``Balance``, ``MetaData``, ...; an SDK
sends the whole entity it read) are ignored, as QuickBooks ignores them; QuickBooks computes
them. Invoice lines: ``SalesItemLineDetail`` (``Amount`` = ``Qty`` x ``UnitPrice`` when both are
given and not zero), ``DescriptionOnly``, ``DiscountLineDetail`` (an amount, or a percent of the
subtotal) and the ``SubTotalLineDetail`` line QuickBooks adds (recomputed); other line kinds are
refused with Fault ``2010``. ``Balance`` = total - ``Deposit`` - what payments apply to it.
"""

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from timebridge_sandboxes.quickbooks.base import (
    CENT,
    COMPANY_ZONE,
    HOME_CURRENCY,
    Company,
    Fault,
    Json,
    Record,
    business,
    currency,
    decimal,
    invalid,
    money,
    required,
)
from timebridge_sandboxes.quickbooks.elements import compact

_IDENTITY = frozenset({"Id", "SyncToken", "MetaData", "domain", "status", "sparse"})
READ_ONLY = {
    "Customer": _IDENTITY
    | {"FullyQualifiedName", "Level", "Balance", "BalanceWithJobs", "OverDueBalance"},
    "Item": _IDENTITY | {"FullyQualifiedName", "Level"},
    "Invoice": _IDENTITY
    | {
        "TotalAmt",
        "HomeTotalAmt",
        "Balance",
        "HomeBalance",
        "LinkedTxn",
        "TxnTaxDetail",
        "InvoiceLink",
        "EInvoiceStatus",
        "invoiceStatus",
        "invoiceStatusLog",
        "callToAction",
        "TotalCostAmount",
        "HomeTotalCostAmount",
    },
    "Payment": _IDENTITY | {"UnappliedAmt", "LinkedTxn", "TotalCostAmount", "HomeTotalCostAmount"},
    "Account": _IDENTITY | {"FullyQualifiedName", "CurrentBalance"},
}
_NAME_ELEMENTS = {"Customer": "DisplayName", "Item": "Name"}
"""The element that must be unique among an entity's records (inactive ones included)."""
_LINE_KINDS = frozenset({"SalesItemLineDetail", "DescriptionOnly", "DiscountLineDetail"})


def writable(kind: str, body: Json) -> Json:
    """The elements of ``body`` a client may set (read-only ones dropped), without empties."""
    kept: Json = compact({k: v for k, v in body.items() if k not in READ_ONLY[kind]})
    return kept


def merged(kind: str, current: Json, change: Json) -> Json:
    """A sparse update: ``current``'s writable elements with ``change``'s (``None`` clears)."""
    fields = {k: v for k, v in current.items() if k not in READ_ONLY[kind]}
    for name, value in change.items():
        if name in READ_ONLY[kind]:
            continue
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return writable(kind, fields)


def check_unique(company: Company, kind: str, body: Json, current: Record | None) -> None:
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


def customer_fields(body: Json) -> Json:
    fields = writable("Customer", body)
    name = fields.get("DisplayName")
    if not name:
        raise required("DisplayName")
    fields.setdefault("Active", True)
    fields.setdefault("PrintOnCheckName", name)
    fields["FullyQualifiedName"] = name
    fields["CurrencyRef"] = currency(fields.get("CurrencyRef", HOME_CURRENCY)["value"])
    fields["Balance"] = fields["BalanceWithJobs"] = 0
    fields.setdefault("Job", False)
    fields.setdefault("BillWithParent", False)
    return fields


def item_fields(company: Company, body: Json) -> Json:
    fields = writable("Item", body)
    name = fields.get("Name")
    if not name:
        raise required("Name")
    if len(name) > 100 or re.search(r"[:\t\n]", name):
        raise invalid("Name: at most 100 characters, without colons, tabs or new lines", "Name")
    if "Type" not in fields:
        raise required("Type")
    if fields["Type"] not in {"Service", "NonInventory"}:
        raise invalid(f"Type {fields['Type']}: only Service and NonInventory are simulated")
    account = fields.get("IncomeAccountRef")
    if account is None:
        raise required("IncomeAccountRef")
    found = company.records.get(("Account", account["value"]))
    if found is None or found.fields.get("AccountType") != "Income":
        raise Fault(400, "2500", "Invalid Reference Id", "Invalid Reference Id : Accounts")
    account["name"] = found.fields["Name"]
    fields.setdefault("Active", True)
    fields["FullyQualifiedName"] = name
    return fields


def active(company: Company, kind: str, record_id: Any) -> Record:
    """A referenced entity, which must exist and be active (else ``2500`` / ``610``)."""
    record = company.records.get((kind, str(record_id)))
    if record is None or record.deleted:
        raise Fault(400, "2500", "Invalid Reference Id", f"Invalid Reference Id : {kind}")
    if not record.fields.get("Active", True):
        raise Fault(
            400,
            "610",
            "Object Not Found",
            "Object Not Found : Something you're trying to use has been made inactive. Check "
            "the fields with accounts, customers, items, vendors or employees.",
        )
    return record


def _ref(fields: Json, name: str) -> Json:
    ref = fields.get(name)
    if not isinstance(ref, dict) or "value" not in ref:
        raise required(name)
    return ref


def _today(now: dt.datetime) -> str:
    return now.astimezone(COMPANY_ZONE).date().isoformat()


def applied(company: Company, invoice_id: str, *, besides: str | None = None) -> Decimal:
    """What live payments (but ``besides``) apply to the invoice."""
    total = Decimal(0)
    for payment in company.all("Payment"):
        if payment.deleted or payment.id == besides:
            continue
        for line in payment.fields.get("Line", []):
            if any(_links_invoice(t, invoice_id) for t in line.get("LinkedTxn", [])):
                total += decimal(line.get("Amount"))
    return total


def _links_invoice(link: Json, invoice_id: str) -> bool:
    return bool(link.get("TxnType") == "Invoice" and str(link.get("TxnId")) == invoice_id)


def settle(company: Company, invoice: Record) -> None:
    """The invoice's ``Balance`` and payment links after payments changed."""
    due = decimal(invoice.fields["TotalAmt"]) - decimal(invoice.fields.get("Deposit"))
    invoice.fields["Balance"] = money(max(Decimal(0), due - applied(company, invoice.id)))
    invoice.fields["LinkedTxn"] = [
        {"TxnId": p.id, "TxnType": "Payment"}
        for p in company.all("Payment")
        if not p.deleted
        and any(
            _links_invoice(t, invoice.id)
            for line in p.fields.get("Line", [])
            for t in line.get("LinkedTxn", [])
        )
    ]


def invoice_fields(company: Company, body: Json, current: Record | None, now: dt.datetime) -> Json:
    fields = writable("Invoice", body)
    customer_ref = _ref(fields, "CustomerRef")
    customer = active(company, "Customer", customer_ref["value"])
    customer_ref["name"] = customer.fields["DisplayName"]
    code = customer.fields["CurrencyRef"]["value"]
    if fields.get("CurrencyRef", {"value": code}).get("value") != code:
        raise business("Currency: an invoice is in its customer's currency")
    fields["CurrencyRef"] = currency(code)
    number = fields.get("DocNumber")
    if number is not None:
        if len(number) > 21:
            raise invalid("DocNumber: at most 21 characters", "DocNumber")
        if any(
            r.fields.get("DocNumber") == number and r is not current and not r.deleted
            for r in company.all("Invoice")
        ):
            raise Fault(400, "6140", "Duplicate Document Number Error", f"DocNumber={number}")
    lines = [x for x in fields.get("Line", []) if x.get("DetailType") != "SubTotalLineDetail"]
    if not any(x.get("DetailType") == "SalesItemLineDetail" for x in lines):
        raise required("Line")
    subtotal = Decimal(0)
    for n, line in enumerate(lines, 1):
        kind = line.get("DetailType")
        if kind not in _LINE_KINDS:
            raise invalid(f"Line {n}: {kind} lines are not simulated", "DetailType")
        if kind == "SalesItemLineDetail":
            subtotal += _sales_line(company, line, n)
        line["Id"], line["LineNum"] = str(n), n
    discount = sum((_discount(line, subtotal) for line in lines), Decimal(0))
    total = subtotal - discount
    deposit = decimal(fields.get("Deposit"))
    if deposit > total:
        raise business("Deposit: more than the invoice's total")
    txn_date = fields.setdefault("TxnDate", _today(now))
    due = dt.date.fromisoformat(txn_date) + dt.timedelta(30)
    fields.setdefault("DueDate", due.isoformat())
    fields.setdefault("EmailStatus", "NotSet")
    fields.setdefault("PrintStatus", "NotSet")
    fields.setdefault("Deposit", 0)
    subtotal_line = {"Amount": money(subtotal), "DetailType": "SubTotalLineDetail"}
    fields["Line"] = [*lines, {**subtotal_line, "SubTotalLineDetail": {}}]
    fields["TxnTaxDetail"] = {"TotalTax": 0}
    fields["TotalAmt"] = money(total)
    fields["Balance"], fields["LinkedTxn"] = money(total - deposit), []
    if current is not None:
        record = Record("Invoice", current.id, fields, current.created, current.updated)
        settle(company, record)
    return fields


def _sales_line(company: Company, line: Json, number: int) -> Decimal:
    """Check and complete one sales line; its amount."""
    detail = line.get("SalesItemLineDetail")
    if not isinstance(detail, dict):
        raise required("SalesItemLineDetail")
    if "Amount" not in line:
        raise required("Amount")
    item = active(company, "Item", _ref(detail, "ItemRef")["value"])
    detail["ItemRef"]["name"] = item.fields["Name"]
    detail.setdefault("TaxCodeRef", {"value": "NON"})
    amount = decimal(line["Amount"])
    qty, price = detail.get("Qty"), detail.get("UnitPrice")
    if qty is not None and price is not None and (qty, price) != (0, 0):
        product = decimal(qty) * decimal(price)
        if product.quantize(CENT, rounding=ROUND_HALF_UP) != amount:
            raise Fault(
                400,
                "6070",
                "A business validation error has occurred while processing your request",
                f"Business Validation Error: Line {number}: Amount is not equal to UnitPrice * Qty",
            )
    return amount


def _discount(line: Json, subtotal: Decimal) -> Decimal:
    detail = line.get("DiscountLineDetail")
    if line.get("DetailType") != "DiscountLineDetail":
        return Decimal(0)
    if not isinstance(detail, dict):
        raise required("DiscountLineDetail")
    if detail.get("PercentBased"):
        amount = subtotal * decimal(detail.get("DiscountPercent")) / 100
        line["Amount"] = money(amount)
    amount = decimal(line.get("Amount"))
    if amount < 0 or amount > subtotal:
        raise business("Discount: between zero and the subtotal")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def void_invoice(record: Record) -> None:
    """Amounts and quantities zeroed, "Voided" before the private note; the invoice stays."""
    for line in record.fields["Line"]:
        line["Amount"] = 0
        if "SalesItemLineDetail" in line:
            line["SalesItemLineDetail"]["Qty"] = 0
    note = record.fields.get("PrivateNote")
    record.fields["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    record.fields["TotalAmt"] = record.fields["Balance"] = 0
    record.fields["Deposit"] = 0


def payment_fields(
    company: Company, body: Json, current: Record | None, now: dt.datetime
) -> tuple[Json, set[str]]:
    """A payment's stored elements and the invoices it applies to (their balances move)."""
    fields = writable("Payment", body)
    customer = active(company, "Customer", _ref(fields, "CustomerRef")["value"])
    fields["CustomerRef"]["name"] = customer.fields["DisplayName"]
    if "TotalAmt" not in fields:
        raise required("TotalAmt")
    total = decimal(fields["TotalAmt"])
    if total < 0:
        raise business("TotalAmt: not negative")
    owed: dict[str, Decimal] = {}
    for n, line in enumerate(fields.get("Line", []), 1):
        links = line.get("LinkedTxn") or []
        if "Amount" not in line or not links:
            raise required("Line.Amount" if "Amount" not in line else "Line.LinkedTxn")
        for link in links:
            if link.get("TxnType") != "Invoice":
                raise invalid(f"Line {n}: payments of {link.get('TxnType')} are not simulated")
            invoice = company.live("Invoice", str(link.get("TxnId")))
            if invoice.fields["CustomerRef"]["value"] != customer.id:
                raise business(f"Line {n}: the invoice is another customer's")
            owed[invoice.id] = owed.get(invoice.id, Decimal(0)) + decimal(line["Amount"])
    for invoice_id, amount in owed.items():
        invoice = company.live("Invoice", invoice_id)
        besides = current.id if current else None
        due = decimal(invoice.fields["TotalAmt"]) - decimal(invoice.fields.get("Deposit"))
        if amount > due - applied(company, invoice_id, besides=besides):
            raise business(f"Invoice {invoice_id}: the payment exceeds its open balance")
    if sum(owed.values(), Decimal(0)) > total:
        raise business("Line: the lines apply more than TotalAmt")
    fields["UnappliedAmt"] = money(total - sum(owed.values(), Decimal(0)))
    fields["CurrencyRef"] = currency(customer.fields["CurrencyRef"]["value"])
    fields.setdefault("TxnDate", _today(now))
    fields.setdefault("ProcessPayment", False)
    before = {
        str(t["TxnId"])
        for x in (current.fields if current else {}).get("Line", [])
        for t in x.get("LinkedTxn", [])
        if t.get("TxnType") == "Invoice"
    }
    return fields, set(owed) | before


def void_payment(record: Record) -> None:
    """A voided payment applies nothing: amounts zeroed, "Voided" before its note."""
    for line in record.fields.get("Line", []):
        line["Amount"] = 0
    record.fields["TotalAmt"] = record.fields["UnappliedAmt"] = 0
    note = record.fields.get("PrivateNote")
    record.fields["PrivateNote"] = f"Voided - {note}" if note else "Voided"
