"""The QuickBooks Online sandbox driven by python-quickbooks and intuit-oauth, Intuit's Python SDKs
as a new user runs them: connected through the OAuth flow (the discovery document, consent, code
exchange), with only the API's base URL pointed at the sandbox. Every body both sides exchange
is checked against Intuit's official XSD."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient  # type: ignore[import-untyped]
from intuitlib.enums import Scopes  # type: ignore[import-untyped]
from quickbooks import QuickBooks  # type: ignore[import-untyped]
from quickbooks.batch import (  # type: ignore[import-untyped]
    batch_create,
    batch_delete,
    batch_update,
)
from quickbooks.exceptions import (  # type: ignore[import-untyped]
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    UnsupportedException,
    ValidationException,
)
from quickbooks.objects.account import Account  # type: ignore[import-untyped]
from quickbooks.objects.company_info import CompanyInfo  # type: ignore[import-untyped]
from quickbooks.objects.customer import Customer  # type: ignore[import-untyped]
from quickbooks.objects.detailline import (  # type: ignore[import-untyped]
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice  # type: ignore[import-untyped]
from quickbooks.objects.item import Item  # type: ignore[import-untyped]
from quickbooks.objects.payment import Payment, PaymentLine  # type: ignore[import-untyped]
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.quickbooks import QuickBooksState, create_quickbooks_sandbox
from timebridge_sandboxes.quickbooks.xsd import Schema, load
from timebridge_sandboxes.testing import provider_specs, serve_in_thread

CLIENT_ID, CLIENT_SECRET = "ABsdk-client-77", "sdk-secret-31"
REDIRECT = "https://timebridge.test/oauth/quickbooks/callback"
XSD = provider_specs() / "quickbooks-v3-xsd"
QUERY_PARAMETERS = frozenset({"minorversion", "requestid", "operation", "include"})


@dataclass
class Exchange:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    request: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    response: bytes = b""

    def answer(self) -> Any:
        return json.loads(self.response)


class Recorder:
    """Keeps every request and answer the sandbox sees (ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        exchange = Exchange(
            scope["method"],
            scope["path"],
            parse_qs(scope["query_string"].decode()),
            headers.get("content-type", ""),
            b"",
        )

        async def recording_receive() -> Message:
            message = await receive()
            exchange.request += message.get("body", b"")
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                exchange.response += message.get("body", b"")
            await send(message)

        await self.app(scope, recording_receive, recording_send)
        self.exchanges.append(exchange)

    def api(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path.startswith("/v3/")]


@dataclass
class World:
    state: QuickBooksState
    faults: Faults
    recorder: Recorder
    base: str
    realm: str
    item: str
    customer: str

    def auth_client(self) -> Any:
        return AuthClient(
            CLIENT_ID,
            CLIENT_SECRET,
            REDIRECT,
            f"{self.base}/.well-known/openid_sandbox_configuration",
        )

    def connect(self, minorversion: int = 75) -> Any:
        """A QuickBooks client as a new user gets one: consent, code exchange, bearer token."""
        auth = self.auth_client()
        url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="s-1")
        redirect = requests.get(url, allow_redirects=False, timeout=5).headers["location"]
        answer = parse_qs(urlsplit(redirect).query)
        assert answer["state"] == ["s-1"]
        auth.get_bearer_token(answer["code"][0], realm_id=answer["realmId"][0])
        return QuickBooks(
            auth_client=auth,
            refresh_token=auth.refresh_token,
            company_id=answer["realmId"][0],
            minorversion=minorversion,
        )

    def checked(self, xsd: Schema) -> list[str]:
        """Where what was exchanged disagrees with the XSD: every answer, and every entity body
        (those the sandbox refused as unknown elements, Fault 2010 on the body, must stray)."""
        found: list[str] = []
        names = {"customer": "Customer", "item": "Item", "invoice": "Invoice", "payment": "Payment"}
        for e in self.recorder.api():
            entity = e.path.rsplit("/", 1)[1]
            if entity == "pdf":
                found += [] if e.response.startswith(b"%PDF-") else [f"not a PDF: {e.path}"]
                continue
            answer = e.answer()
            found += xsd.mistakes("IntuitResponse", answer, f"answer {e.path}")
            if e.method != "POST" or entity in {"query", "send"}:
                continue
            if entity == "batch":
                found += xsd.mistakes("IntuitBatchRequest", json.loads(e.request), "batch")
                continue
            mistakes = xsd.mistakes(names[entity], json.loads(e.request), f"request {e.path}")
            error = answer.get("Fault", {}).get("Error", [{}])[0]
            if error.get("code") == "2010" and error.get("element") not in QUERY_PARAMETERS:
                found += [] if mistakes else [f"refused {e.path} though the XSD allows it"]
            else:
                found += mistakes
        return found


@pytest.fixture
def xsd() -> Schema:
    if not XSD.is_dir():
        pytest.skip(f"QuickBooks XSD not found at {XSD} (the shared provider-specs folder)")
    return load(XSD.resolve())


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, xsd: Schema) -> Iterator[World]:
    state, faults = QuickBooksState(), Faults()
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    realm = state.add_company("Acme Consulting")
    account = state.add_account(realm, "Services")
    item = state.add_item(realm, "Hours", account, UnitPrice=120)
    customer = state.add_customer(realm, {"DisplayName": "Website Client"})
    state.add_customer(realm, {"DisplayName": "Archived Ltd", "Active": False})
    recorder = Recorder(create_quickbooks_sandbox(state, faults, rate_limit=RateLimit(60, 60.0)))
    with serve_in_thread(recorder) as base:
        monkeypatch.setattr(QuickBooks, "api_url_v3", f"{base}/v3")
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback
        world = World(state, faults, recorder, base, realm, item, customer)
        yield world
    assert world.checked(xsd) == []


def new_invoice(client: Any, world: World, *amounts: tuple[int, str]) -> Any:
    """An invoice as the SDK builds it (its defaults: AllowIPNPayment, Deposit 0, ...)."""
    invoice = Invoice()
    invoice.CustomerRef = Customer.get(world.customer, qb=client).to_ref()
    item = Item.get(world.item, qb=client).to_ref()
    for qty, price in amounts:
        line = SalesItemLine()
        line.Amount = str(Decimal(price) * qty)
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = item
        line.SalesItemLineDetail.Qty = qty
        line.SalesItemLineDetail.UnitPrice = price
        invoice.Line.append(line)
    return invoice.save(qb=client)


def fault(exchange: Exchange) -> tuple[int, str, str]:
    body = exchange.answer()["Fault"]
    return exchange.status, body["type"], body["Error"][0]["code"]


def test_the_sdk_connects_through_intuit_oauth_and_lists_with_post_query(world: World) -> None:
    client = world.connect()
    assert CompanyInfo.get(world.realm, qb=client).CompanyName == "Acme Consulting"
    assert [c.Id for c in CompanyInfo.all(qb=client)] == ["1"]
    names = [c.DisplayName for c in Customer.all(qb=client)]
    assert names == ["Website Client"]  # name lists answer active entities unless asked
    assert [c.Id for c in Customer.filter(DisplayName="Website Client", qb=client)] == ["3"]
    assert [c.DisplayName for c in Customer.where("Active = false", qb=client)] == ["Archived Ltd"]
    assert Customer.count(qb=client) == 1
    assert [i.Name for i in Item.all(qb=client)] == ["Hours"]  # SELECT *, Sku FROM Item
    queries = [e for e in world.recorder.api() if e.path.endswith("/query")]
    assert {(e.method, e.content_type, e.status) for e in queries} == {
        ("POST", "application/text", 200)
    }
    assert all(e.query["minorversion"] == ["75"] for e in world.recorder.api())

    answer = client.get(
        f"{client.api_url}/company/{world.realm}/query",
        params={"query": "select * from Customer where DisplayName LIKE 'Web%'"},
    )
    assert [c["Id"] for c in answer["QueryResponse"]["Customer"]] == ["3"]
    assert world.recorder.api()[-1].method == "GET"


def test_a_refresh_rotates_the_token_and_revocation_ends_it(world: World) -> None:
    client = world.connect()
    auth = client.auth_client
    first = auth.refresh_token
    auth.refresh()
    assert auth.refresh_token != first
    assert world.state.refresh_tokens.keys() == {auth.refresh_token}
    client.session.access_token = auth.access_token
    assert Customer.count(qb=client) == 1
    auth.revoke(token=auth.refresh_token)
    with pytest.raises(AuthorizationException):
        Customer.count(qb=client)
    assert fault(world.recorder.api()[-1]) == (401, "AuthenticationFault", "3200")


def test_customers_are_created_and_invoices_created_read_and_updated(world: World) -> None:
    client = world.connect()
    customer = Customer()
    customer.DisplayName, customer.CompanyName = "Globex", "Globex Corporation"
    customer = customer.save(qb=client)
    assert Customer.get(customer.Id, qb=client).CompanyName == "Globex Corporation"
    item = Item()
    item.Name, item.Type, item.UnitPrice = "Design", "Service", 95
    item.IncomeAccountRef = Account.all(qb=client)[0].to_ref()
    assert Item.get(item.save(qb=client).Id, qb=client).IncomeAccountRef.name == "Services"

    invoice = new_invoice(client, world, (3, "120.00"), (1, "45.50"))
    assert (invoice.TotalAmt, invoice.Balance, invoice.SyncToken) == (405.5, 405.5, "0")
    read = Invoice.get(invoice.Id, qb=client)
    assert (read.AllowIPNPayment, read.Deposit, read.DocNumber) == (True, 0, "1001")
    assert [line.DetailType for line in read.Line][-1] == "SubTotalLineDetail"

    read.Deposit = 100  # the sandbox's own answer sent back whole: a full update
    updated = read.save(qb=client)
    assert (updated.SyncToken, updated.Balance) == ("1", 305.5)
    sparse = {"Id": invoice.Id, "SyncToken": 1, "sparse": True, "PrivateNote": "November"}
    answer = client.update_object("Invoice", json.dumps(sparse))["Invoice"]
    assert (answer["SyncToken"], answer["PrivateNote"], answer["Deposit"]) == ("2", "November", 100)
    assert answer["AllowIPNPayment"] is True
    writes = [e for e in world.recorder.api() if e.method == "POST" and "invoice" in e.path]
    assert [e.status for e in writes] == [200, 200, 200]
    assert json.loads(writes[0].request)["SyncToken"] == 0  # a number, as the SDK sends it
    assert json.loads(writes[0].request)["DueDate"] == ""  # "not given", as the SDK sends it


def test_a_stale_sync_token_is_fault_5010(world: World) -> None:
    client = world.connect()
    invoice = new_invoice(client, world, (1, "10.00"))
    first, second = Invoice.get(invoice.Id, qb=client), Invoice.get(invoice.Id, qb=client)
    first.PrivateNote = "first"
    first.save(qb=client)
    second.PrivateNote = "second"
    with pytest.raises(QuickbooksException) as refused:
        second.save(qb=client)
    assert refused.value.error_code == 5010
    assert fault(world.recorder.api()[-1]) == (400, "ValidationFault", "5010")
    assert Invoice.get(invoice.Id, qb=client).PrivateNote == "first"


def test_invoices_are_voided_and_deleted_customers_are_not(world: World) -> None:
    client = world.connect()
    voided = new_invoice(client, world, (2, "50.00"))
    voided.void(qb=client)
    read = Invoice.get(voided.Id, qb=client)
    assert (read.TotalAmt, read.Balance, read.PrivateNote) == (0, 0, "Voided")
    deleted = new_invoice(client, world, (1, "20.00"))
    answer = deleted.delete(qb=client)["Invoice"]
    assert (answer["status"], answer["Id"]) == ("Deleted", deleted.Id)
    with pytest.raises(ObjectNotFoundException):
        Invoice.get(deleted.Id, qb=client)
    operations = [e.query.get("operation") for e in world.recorder.api() if e.method == "POST"]
    assert [o for o in operations if o] == [["void"], ["delete"]]
    with pytest.raises(UnsupportedException):  # the SDK offers none: customers are archived
        client.delete_object("Customer", json.dumps({"Id": world.customer, "SyncToken": "0"}))
    assert fault(world.recorder.api()[-1]) == (400, "ValidationFault", "500")


def test_payments_are_created_read_and_move_the_invoice_balance(world: World) -> None:
    client = world.connect()
    invoice = new_invoice(client, world, (2, "100.00"))
    payment = Payment()
    payment.CustomerRef = Customer.get(world.customer, qb=client).to_ref()
    payment.TotalAmt = 150
    line = PaymentLine()
    line.Amount = 120
    line.LinkedTxn.append(invoice.to_linked_txn())
    payment.Line.append(line)
    payment = payment.save(qb=client)
    read = Payment.get(payment.Id, qb=client)
    assert (read.TotalAmt, read.UnappliedAmt) == (150, 30)
    paid = Invoice.get(invoice.Id, qb=client)
    assert paid.Balance == 80
    assert [(t.TxnId, t.TxnType) for t in paid.LinkedTxn] == [(payment.Id, "Payment")]
    assert [i.Id for i in Invoice.where("Balance > '50'", qb=client)] == [invoice.Id]
    assert Invoice.where("Balance > '100'", qb=client) == []  # quoted numbers compare as numbers
    assert [i.Id for i in Invoice.choose([paid.DocNumber], field="DocNumber", qb=client)] == [
        invoice.Id
    ]
    read.void(qb=client)  # operation=update&include=void
    assert Invoice.get(invoice.Id, qb=client).Balance == 200
    assert Payment.get(payment.Id, qb=client).TotalAmt == 0


def test_minor_versions_below_75_are_served_and_garbage_is_refused(world: World) -> None:
    with pytest.warns(DeprecationWarning, match="Minor Version 65"):  # the SDK's, not ours
        client = world.connect(minorversion=65)
    assert Customer.count(qb=client) == 1
    assert world.recorder.api()[-1].query["minorversion"] == ["65"]
    url = f"{client.api_url}/company/{world.realm}/customer/{world.customer}"
    answer = client.session.get(
        url, params={"minorversion": "x"}, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["Fault"]["Error"][0]["element"] == "minorversion"


def test_refusals_have_the_documented_fault_shapes(world: World) -> None:
    client = world.connect()
    with pytest.raises(ValidationException) as unknown:
        client.create_object("Invoice", json.dumps({"Total": 1, "CustomerRef": {"value": "3"}}))
    assert unknown.value.error_code == 2010
    assert fault(world.recorder.api()[-1]) == (400, "ValidationFault", "2010")
    with pytest.raises(ValidationException) as missing:
        client.create_object("Customer", json.dumps({"CompanyName": "No name"}))
    assert missing.value.error_code == 2020
    with pytest.raises(QuickbooksException) as duplicate:
        client.create_object("Customer", json.dumps({"DisplayName": "website client"}))
    assert duplicate.value.error_code == 6240
    world.faults.fail_next(1)
    with pytest.raises(QuickbooksException):
        Customer.count(qb=client)
    assert fault(world.recorder.api()[-1]) == (503, "SystemFault", "10000")


def test_throttling_is_429_with_retry_after(world: World) -> None:
    client = world.connect()
    for _ in range(60 - len(world.recorder.api())):
        Customer.count(qb=client)
    with pytest.raises(QuickbooksException) as throttled:
        Customer.count(qb=client)
    assert throttled.value.error_code == 3001
    last = world.recorder.api()[-1]
    assert fault(last) == (429, "ValidationFault", "3001")
    assert int(last.headers["retry-after"]) >= 1


def test_invoices_are_sent_and_batches_answer_item_by_item(world: World) -> None:
    client = world.connect()
    invoice = new_invoice(client, world, (1, "80.00"))
    sent = invoice.send(qb=client, send_to="billing@website.example")["Invoice"]
    assert (sent["EmailStatus"], sent["BillEmail"]) == (
        "EmailSent",
        {"Address": "billing@website.example"},
    )
    assert sent["DeliveryInfo"]["DeliveryType"] == "Email"
    document = invoice.download_pdf(qb=client)
    assert document.startswith(b"%PDF-1.4")
    assert b"(Invoice 1001)" in document

    first, second = Customer(), Customer()
    first.DisplayName, second.DisplayName = "Initech", "website client"  # a duplicate name
    created = batch_create([first, second], qb=client)
    assert [c.DisplayName for c in created.successes] == ["Initech"]
    assert [f.Error[0].code for f in created.faults] == ["6240"]
    archived = created.successes[0]
    archived.Active = False
    updated = batch_update([archived], qb=client)
    assert [(c.Active, c.SyncToken) for c in updated.successes] == [(False, "1")]
    deleted = batch_delete([Invoice.get(invoice.Id, qb=client)], qb=client)
    assert deleted.faults == []
    with pytest.raises(ObjectNotFoundException):
        Invoice.get(invoice.Id, qb=client)
    answer = client.batch_operation(
        json.dumps({"BatchItemRequest": [{"bId": "q1", "Query": "SELECT COUNT(*) FROM Customer"}]})
    )
    assert answer["BatchItemResponse"] == [{"bId": "q1", "QueryResponse": {"totalCount": 1}}]
