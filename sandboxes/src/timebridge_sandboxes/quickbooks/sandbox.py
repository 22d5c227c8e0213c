"""QuickBooks' behaviour behind the routes: creating, updating (sparse or full), voiding and
deleting entities with ``SyncToken`` locking, their rendering, and the webhooks they send."""

import datetime as dt
import json
import uuid
from typing import Any

import httpx
from fastapi import BackgroundTasks

from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.quickbooks.base import (
    DELETABLE,
    OPERATION_EVENTS,
    SIGNATURE_HEADER,
    WRITABLE,
    Company,
    Json,
    Record,
    invalid,
    not_found,
    required,
    stale,
    stamp,
    unsupported,
)
from timebridge_sandboxes.quickbooks.elements import conform
from timebridge_sandboxes.quickbooks.entities import (
    check_unique,
    customer_fields,
    invoice_fields,
    item_fields,
    merged,
    payment_fields,
    settle,
    void_invoice,
    void_payment,
    writable,
)
from timebridge_sandboxes.quickbooks.state import Delivery, QuickBooksState, WebhookTarget

Changes = list[tuple[Record, str]]
"""What a request changed: records and their webhook operation (``Create``, ``Update``, ...)."""


class Sandbox:
    """QuickBooks' rules behind the routes: entities, their versions, and webhooks."""

    def __init__(
        self,
        state: QuickBooksState,
        limit: RateLimit,
        webhook_transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.state = state
        self.limit = limit
        self.webhook_transport = webhook_transport

    def company(self, realm_id: str) -> Company:
        company = self.state.companies.get(realm_id)
        if company is None:
            raise not_found("Company not found")
        return company

    def render(self, record: Record) -> Json:
        meta = {"LastUpdatedTime": stamp(record.updated)}
        if record.deleted:
            return {"domain": "QBO", "status": "Deleted", "Id": record.id, "MetaData": meta}
        meta = {"CreateTime": stamp(record.created), **meta}
        head = {"domain": "QBO", "sparse": False, "Id": record.id, "SyncToken": str(record.version)}
        return {**head, "MetaData": meta, **record.fields}

    def company_info(self, company: Company) -> Json:
        """The company's ``CompanyInfo`` (Id 1), from what the sandbox knows of it."""
        created = stamp(company.created)
        return {
            "domain": "QBO",
            "sparse": False,
            "Id": "1",
            "SyncToken": "0",
            "MetaData": {"CreateTime": created, "LastUpdatedTime": created},
            "CompanyName": company.name,
            "LegalName": company.name,
            "CompanyStartDate": created[:10],
            "FiscalYearStartMonth": "January",
            "Country": "US",
            "SupportedLanguages": "en",
            "DefaultTimeZone": "America/Los_Angeles",
        }

    def rows(self, company: Company, kind: str) -> list[Json]:
        """Every live entity of ``kind``, rendered (what a query selects from)."""
        if kind == "CompanyInfo":
            return [self.company_info(company)]
        return [self.render(r) for r in company.all(kind) if not r.deleted]

    # ---- the API's write operations (POST /v3/company/{realm}/{entity}) ----------------------

    def write(
        self, company: Company, kind: str, given: Any, operation: str | None, include: str | None
    ) -> tuple[Record, Changes]:
        """One write of the JSON ``given``: create, update, ``operation=void|delete``, or
        ``include=void``."""
        if kind not in WRITABLE:
            raise unsupported(f"Operation {operation or 'Create'} is not supported for {kind}")
        body = conform(kind, given)
        if operation == "delete":
            if kind not in DELETABLE:
                raise unsupported(f"Operation Delete is not supported for {kind}")
            return self.delete(company, self.current(company, kind, body))
        if operation == "void" or include == "void":
            if (kind, operation) not in {("Invoice", "void"), ("Payment", "update")}:
                raise unsupported(f"Void of {kind} with operation={operation}")
            return self.void(company, self.current(company, kind, body))
        if operation not in {None, "create", "update"}:
            raise invalid(f"operation {operation!r} is not supported", "operation")
        if body.get("Id") is None:
            if operation == "update":
                raise required("Id")
            return self.create(company, kind, body)
        record = self.current(company, kind, body)
        return self.update(company, record, body, sparse=body.get("sparse") is True)

    @staticmethod
    def current(company: Company, kind: str, body: Json) -> Record:
        """The entity ``body`` names, if its ``SyncToken`` is the latest (else Fault ``5010``)."""
        if body.get("Id") is None:
            raise required("Id")
        record = company.live(kind, str(body["Id"]))
        if body.get("SyncToken") is None:
            raise required("SyncToken")
        if str(body["SyncToken"]) != str(record.version):
            raise stale(str(body["SyncToken"]), record.version)
        return record

    def create(self, company: Company, kind: str, body: Json) -> tuple[Record, Changes]:
        if kind == "Invoice" and body.get("DocNumber", "AUTO_GENERATE") == "AUTO_GENERATE":
            company.last_doc_number += 1  # the company numbers invoices (no custom numbers)
            body = {**body, "DocNumber": str(company.last_doc_number)}
        fields, invoices = self.validate(company, kind, writable(kind, body), None)
        record = company.insert(kind, fields, self.state.now)
        return record, [(record, "Create"), *self.settle(company, invoices)]

    def update(
        self, company: Company, record: Record, body: Json, *, sparse: bool
    ) -> tuple[Record, Changes]:
        """A new version: a sparse update changes the elements given, a full one replaces all
        writable elements (those left out are cleared), as QuickBooks documents."""
        change = merged(record.kind, record.fields, body) if sparse else writable(record.kind, body)
        fields, invoices = self.validate(company, record.kind, change, record)
        record.fields = fields
        self.touch(record)
        return record, [(record, "Update"), *self.settle(company, invoices)]

    def void(self, company: Company, record: Record) -> tuple[Record, Changes]:
        if record.kind == "Invoice":
            void_invoice(record)
            self.touch(record)
            return record, [(record, "Void")]
        void_payment(record)
        self.touch(record)
        return record, [(record, "Update"), *self.settle(company, _paid_invoices(record))]

    def delete(self, company: Company, record: Record) -> tuple[Record, Changes]:
        record.deleted = True
        self.touch(record)
        invoices = _paid_invoices(record) if record.kind == "Payment" else set()
        return record, [(record, "Delete"), *self.settle(company, invoices)]

    def touch(self, record: Record) -> None:
        record.version += 1
        record.updated = self.state.now()

    def validate(
        self, company: Company, kind: str, body: Json, current: Record | None
    ) -> tuple[Json, set[str]]:
        """The stored elements of a new version and the invoices whose balance it moves."""
        check_unique(company, kind, body, current)
        if kind == "Customer":
            return customer_fields(body), set()
        if kind == "Item":
            return item_fields(company, body), set()
        if kind == "Payment":
            return payment_fields(company, body, current, self.state.now())
        return invoice_fields(company, body, current, self.state.now()), set()

    def settle(self, company: Company, invoice_ids: set[str]) -> Changes:
        """Invoices whose payments changed: new balances, new versions."""
        changed: Changes = []
        for invoice_id in sorted(invoice_ids, key=int):
            invoice = company.records.get(("Invoice", invoice_id))
            if invoice is not None and not invoice.deleted:
                settle(company, invoice)
                self.touch(invoice)
                changed.append((invoice, "Update"))
        return changed

    # ---- webhooks -------------------------------------------------------------------------

    def announce(
        self, background: BackgroundTasks, company: Company, record: Record, operation: str
    ) -> None:
        """Queue the webhook of a change; it goes out after the answer."""
        target = self.state.webhook
        if target is not None:
            payload = _notification(target, company.realm_id, record, operation)
            background.add_task(self.deliver, target, payload)

    def announce_all(self, background: BackgroundTasks, company: Company, changes: Changes) -> None:
        for record, operation in changes:
            self.announce(background, company, record, operation)

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


def _paid_invoices(payment: Record) -> set[str]:
    return {
        str(link.get("TxnId"))
        for line in payment.fields.get("Line", [])
        for link in line.get("LinkedTxn", [])
        if link.get("TxnType") == "Invoice"
    }


def _notification(
    target: WebhookTarget, realm_id: str, record: Record, operation: str
) -> Json | list[Json]:
    if target.format == "legacy":
        entity: dict[str, Any] = {
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
