"""FreshBooks' rules behind the routes: look-ups, changes, serialisation, webhook deliveries."""

import base64
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from decimal import Decimal

import httpx
from fastapi import BackgroundTasks

from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.freshbooks.payments import Payments
from timebridge_sandboxes.freshbooks.state import (
    _STATUSES,
    INVALID_VALUE,
    REQUIRED_FIELD,
    SIGNATURE_HEADER,
    UNKNOWN_RESOURCE,
    Delivery,
    FreshBooksState,
    Json,
    Refused,
    _Callback,
    _Client,
    _eastern,
    _Identity,
    _Invoice,
    _Line,
    _money,
    _next_id,
    not_found,
)
from timebridge_sandboxes.freshbooks.wire import (
    _ClientFields,
    _InvoiceChanges,
    _InvoiceIn,
    _validated,
)


@dataclass
class _Sandbox(Payments):
    """FreshBooks' rules behind the routes: lookups, changes, serialisation, webhooks."""

    state: FreshBooksState
    faults: Faults
    limit: RateLimit
    webhook_transport: httpx.AsyncBaseTransport | None

    def client(self, account_id: str, client_id: int) -> _Client:
        client = self.state.clients.get(client_id)
        if client is None or client.account_id != account_id:
            raise not_found("client", "userid", client_id)
        return client

    def invoice(self, account_id: str, invoice_id: int) -> _Invoice:
        invoice = self.state.invoices.get(invoice_id)
        if invoice is None or invoice.account_id != account_id:
            raise not_found("invoice", "invoiceid", invoice_id)
        return invoice

    def identity_json(self, identity: _Identity) -> Json:
        memberships = []
        for account_id, role in identity.memberships.items():
            business = self.state.businesses[account_id]
            memberships.append(
                {
                    "id": identity.id * 1000 + business.id % 1000,
                    "role": role,
                    "business": {
                        "id": business.id,
                        "business_uuid": f"uuid-{business.id}",
                        "name": business.name,
                        "account_id": business.account_id,
                    },
                }
            )
        return {
            "id": identity.id,
            "identity_id": identity.id,
            "first_name": identity.first_name,
            "last_name": identity.last_name,
            "email": identity.email,
            "business_memberships": memberships,
        }

    @staticmethod
    def client_json(client: _Client) -> Json:
        body = {name: getattr(client, name) for name in _ClientFields.model_fields}
        return {**body, "id": client.id, "userid": client.id, "updated": _eastern(client.updated)}

    def invoice_json(self, invoice: _Invoice, *, lines: bool) -> Json:
        client = self.state.clients[invoice.customerid]
        code = invoice.currency_code
        amount = invoice.amount
        payment = "unpaid" if not invoice.paid else "paid" if invoice.paid >= amount else "partial"
        body: Json = {
            "id": invoice.id,
            "invoiceid": invoice.id,
            "accountid": invoice.account_id,
            "accounting_systemid": invoice.account_id,
            "customerid": invoice.customerid,
            "fname": client.fname,
            "lname": client.lname,
            "organization": client.organization,
            "create_date": invoice.create_date.isoformat(),
            "due_offset_days": invoice.due_offset_days,
            "due_date": (
                invoice.create_date + dt.timedelta(days=invoice.due_offset_days)
            ).isoformat(),
            "invoice_number": invoice.invoice_number,
            "po_number": invoice.po_number,
            "notes": invoice.notes,
            "currency_code": code,
            "status": invoice.status,
            "v3_status": _STATUSES[invoice.status],
            "payment_status": payment,
            "amount": _money(amount, code),
            "paid": _money(invoice.paid, code),
            "outstanding": _money(max(amount - invoice.paid, Decimal(0)), code),
            "date_paid": invoice.date_paid.isoformat() if invoice.date_paid else None,
            "vis_state": invoice.vis_state,
            "created_at": _eastern(invoice.created_at),
            "updated": _eastern(invoice.updated),
        }
        if lines:
            body["lines"] = [
                {
                    "lineid": number,
                    "invoiceid": invoice.id,
                    "type": 0,
                    "name": line.name,
                    "description": line.description,
                    "qty": str(line.qty),
                    "unit_cost": _money(line.unit_cost, code),
                    "amount": _money(line.amount, code),
                }
                for number, line in enumerate(invoice.lines, start=1)
            ]
        return body

    @staticmethod
    def callback_json(callback: _Callback) -> Json:
        return {
            "callbackid": callback.id,
            "event": callback.event,
            "uri": callback.uri,
            "verified": callback.verified,
            "updated_at": callback.updated_at.isoformat().replace("+00:00", "Z"),
        }

    def create_invoice(self, account_id: str, fields: _InvoiceIn) -> _Invoice:
        customer = self.state.clients.get(fields.customerid)
        if customer is None or customer.account_id != account_id or customer.vis_state == 1:
            raise Refused(
                400,
                UNKNOWN_RESOURCE,
                "Client not found.",
                field="customerid",
                object="invoice",
                value=fields.customerid,
            )
        now = self.state.now()
        number = 1 + sum(i.account_id == account_id for i in self.state.invoices.values())
        invoice = _Invoice(
            _next_id(self.state.invoices, 2001),
            account_id,
            fields.customerid,
            fields.create_date,
            fields.invoice_number or f"{number:07d}",
            fields.currency_code or customer.currency_code,
            [],
            now,
            now,
            status=fields.status,
        )
        self.change_invoice(invoice, fields)
        self.state.invoices[invoice.id] = invoice
        return invoice

    def create_client(self, account_id: str, fields: _ClientFields) -> _Client:
        """A new client; FreshBooks needs something to call it by (assumed: a name, an
        organisation or an email)."""
        given = fields.model_dump(exclude_none=True)
        if not any(given.get(name) for name in ("fname", "lname", "organization", "email")):
            raise Refused(
                400,
                REQUIRED_FIELD,
                "A client needs a name, an organization or an email.",
                field="organization",
                object="client",
            )
        client_id = self.state.add_client(account_id, **given)
        return self.state.clients[client_id]

    def change_client(self, client: _Client, fields: Json) -> str:
        """``vis_state`` alone when given (as for invoices), else the fields; the event."""
        if "vis_state" in fields:
            if fields["vis_state"] not in (0, 1, 2):
                raise Refused(400, INVALID_VALUE, "vis_state must be 0, 1 or 2", field="vis_state")
            client.vis_state = fields["vis_state"]
        else:
            changes = _validated(_ClientFields, fields, kind="client")
            for name, value in changes.model_dump(exclude_none=True).items():
                setattr(client, name, value)
        client.updated = self.state.now()
        return "client.delete" if client.vis_state == 1 else "client.update"

    def change_invoice(self, invoice: _Invoice, changes: _InvoiceChanges) -> None:
        for name in ("invoice_number", "create_date", "due_offset_days", "po_number", "notes"):
            value = getattr(changes, name)
            if value is not None:
                setattr(invoice, name, value)
        if changes.lines is not None:
            invoice.lines = [
                _Line(line.name, line.description, line.qty, line.unit_cost.amount)
                for line in changes.lines
            ]
        invoice.updated = self.state.now()

    def announce(
        self,
        background: BackgroundTasks,
        account_id: str,
        event: str,
        object_id: int,
        identity_id: int | None,
    ) -> None:
        """Queue the deliveries of ``event`` to the account's verified callbacks."""
        business = self.state.businesses[account_id]
        form = (
            ("name", event),
            ("object_id", str(object_id)),
            ("account_id", account_id),
            ("business_id", str(business.id)),
            ("identity_id", str(identity_id or "")),
            ("user_id", "1"),
        )
        for callback in self.state.callbacks.values():
            matches = event == callback.event or event.startswith(f"{callback.event}.")
            if callback.verified and callback.account_id == account_id and matches:
                signature = _sign(callback.verifier, form)
                background.add_task(self.post, callback, form, signature)

    def ask_verification(self, background: BackgroundTasks, callback: _Callback) -> None:
        form = (
            ("name", "callback.verify"),
            ("object_id", str(callback.id)),
            ("verifier", callback.verifier),
            ("account_id", callback.account_id),
        )
        background.add_task(self.post, callback, form, None)

    async def post(
        self, callback: _Callback, form: tuple[tuple[str, str], ...], signature: str | None
    ) -> None:
        headers = {} if signature is None else {SIGNATURE_HEADER: signature}
        try:
            async with httpx.AsyncClient(transport=self.webhook_transport, timeout=10) as http:
                answer = await http.post(callback.uri, data=dict(form), headers=headers)
        except httpx.HTTPError as exc:
            outcome = Delivery(callback.id, form, signature, None, type(exc).__name__)
        else:
            outcome = Delivery(callback.id, form, signature, answer.status_code)
        self.state.deliveries.append(outcome)


def _sign(verifier: str, form: tuple[tuple[str, str], ...]) -> str:
    """FreshBooks' signature: what Python's ``json.dumps`` makes of the form, HMAC-SHA256."""
    mac = hmac.new(verifier.encode(), json.dumps(dict(form)).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _result(key: str, value: Json) -> Json:
    return {"response": {"result": {key: value}}}
