"""Timebridge's Xero client against the Xero sandbox, and both against Xero's official OpenAPI."""

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft4Validator, Draft202012Validator, FormatChecker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.xero.client import XeroClient
from timebridge_providers.xero.oauth import XeroTokens, authorize_url, connections, select_tenant
from timebridge_providers.xero.webhooks import parse_webhook, verify_webhook
from timebridge_providers.xero.wire import (
    SIGNATURE_HEADER,
    DraftInvoice,
    Invoice,
    LineItem,
    TenantSelectionError,
    WebhookPayload,
)

from timebridge_common.outbound.http import (
    AuthenticationError,
    NotFoundError,
    ProviderError,
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import ReauthorizationNeededError, TokenManager, Tokens
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport, Traffic, provider_specs, serve
from timebridge_sandboxes.xero import RATE_LIMIT, XeroState, create_xero_sandbox

SPECS = provider_specs()
BASE = "http://xero.test"
AUTHORIZE = f"{BASE}/identity/connect/authorize"
CLIENT_ID, CLIENT_SECRET = "xero-client-5e1d", "xero-secret-90a7"
REDIRECT = "http://timebridge.test/oauth/xero/callback"
HOOK_URL = "http://timebridge.test/webhooks/xero"
HOOK_KEY = "xero-webhook-key-3c8f"
DAY = dt.date(2026, 11, 21)


class Receiver:
    """Timebridge's webhook endpoint: ``200`` without body if signed right, ``401`` if not."""

    def __init__(self, key: str = HOOK_KEY) -> None:
        self.key = key
        self.down = False
        self.bodies: list[bytes] = []
        self.payloads: list[WebhookPayload] = []
        self.app = Starlette(routes=[Route("/webhooks/xero", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        if not verify_webhook(self.key, body, request.headers.get(SIGNATURE_HEADER)):
            return Response(status_code=401)
        if self.down:
            return Response(status_code=503)
        self.bodies.append(body)
        self.payloads.append(parse_webhook(body))
        return Response(status_code=200)

    def events(self) -> list[tuple[str, str, str]]:
        return [
            (e.event_category, e.event_type, e.resource_id) for p in self.payloads for e in p.events
        ]


@dataclass
class _Slot:
    store: "MemoryStore"
    connection_id: str
    tokens: Tokens

    async def save(self, new: Tokens) -> None:
        self.tokens = self.store.tokens[self.connection_id] = new


@dataclass
class MemoryStore:
    """The service's token store, in memory (one process, so the lock is the manager's)."""

    tokens: dict[str, Tokens] = field(default_factory=dict)

    async def load(self, connection_id: str) -> Tokens:
        return self.tokens[connection_id]

    @contextlib.asynccontextmanager
    async def locked(self, connection_id: str) -> AsyncIterator[_Slot]:
        yield _Slot(self, connection_id, self.tokens[connection_id])


@dataclass
class World(Traffic):
    state: XeroState
    faults: Faults
    fake: FakeTime
    receiver: Receiver
    sandbox: ASGIApp
    tenant: str
    access: str = ""

    def http(self) -> httpx.AsyncClient:
        return self.recording_client(TimeoutTransport(self.sandbox, 2.0))

    def endpoint(self, secret: str = CLIENT_SECRET) -> XeroTokens:
        return XeroTokens(
            CLIENT_ID,
            secret,
            token_url=f"{BASE}/connect/token",
            http=self.http(),
            clock=self.fake.utcnow,
        )

    def client(
        self, tenant: str | None = None, *, slots: asyncio.Semaphore | None = None, limit: int = 60
    ) -> XeroClient:
        async def bearer() -> str:
            return self.access

        return XeroClient(
            BASE,
            tenant or self.tenant,
            bearer,
            http=self.http(),
            budget=RequestBudget(limit, 60.0, clock=self.fake.clock, sleep=self.fake.sleep),
            slots=slots,
            retry=RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow),
        )

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.sandbox), base_url=f"{BASE}/_sandbox"
        )

    async def connect(self) -> Tokens:
        """Authorise the app as an admin would; the access token then serves :meth:`client`."""
        async with self.http() as http:
            answer = await http.get(authorize_url(CLIENT_ID, REDIRECT, "st-1", base=AUTHORIZE))
        code = httpx.URL(answer.headers["location"]).params["code"]
        tokens = await self.endpoint().exchange_code(code, REDIRECT)
        self.access = tokens.access_token
        return tokens

    def customer(self, name: str = "Acme Corp", **fields: Any) -> str:
        return self.state.add_contact(self.tenant, name, **fields)


@pytest.fixture
async def world() -> World:
    fake, faults, receiver = FakeTime(), Faults(), Receiver()
    faults.clock = fake.clock
    state = XeroState(now=fake.utcnow)
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    tenant = state.add_tenant("Demo Company (NZ)")
    sandbox = create_xero_sandbox(
        state,
        faults,
        rate_limit=RateLimit(*RATE_LIMIT, clock=fake.clock),
        webhook_transport=httpx.ASGITransport(receiver.app),
    )
    world = World(
        state=state, faults=faults, fake=fake, receiver=receiver, sandbox=sandbox, tenant=tenant
    )
    await world.connect()
    world.sent.clear()
    world.answers.clear()
    return world


def draft(contact_id: str, **fields: Any) -> DraftInvoice:
    line = LineItem(
        description="T-42 Fix the login page: 1.5 h",
        quantity=Decimal("1.5"),
        unit_amount=Decimal("120.00"),
        account_code="200",
    )
    values: dict[str, Any] = {
        "contact_id": contact_id,
        "line_items": (line,),
        "date": DAY,
        "due_date": DAY + dt.timedelta(days=14),
        "reference": "TB-7",
        "currency_code": "EUR",
    }
    return DraftInvoice(**(values | fields))


async def test_code_exchange_and_refresh_rotation_through_the_token_manager(world: World) -> None:
    url = authorize_url(CLIENT_ID, REDIRECT, "st-42", base=AUTHORIZE)
    assert "scope=offline_access%20accounting.transactions%20accounting.contacts" in url
    async with world.http() as http:
        redirect = await http.get(url)
    assert redirect.status_code == 302
    back = httpx.URL(redirect.headers["location"])
    assert (back.host, back.path, back.params["state"]) == (
        "timebridge.test",
        "/oauth/xero/callback",
        "st-42",
    )
    endpoint = world.endpoint()
    first = await endpoint.exchange_code(back.params["code"], REDIRECT)
    assert first.expires_at == world.fake.utcnow() + dt.timedelta(minutes=30)
    exchange = world.sent[-1]
    assert (
        exchange.headers["authorization"]
        == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    )
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    with pytest.raises(ReauthorizationNeededError):
        await endpoint.exchange_code(back.params["code"], REDIRECT)

    store = MemoryStore({"xero-1": first})
    manager = TokenManager(endpoint, store, clock=world.fake.utcnow)
    assert await manager.valid("xero-1") == first.access_token
    world.fake.now += 26 * 60
    second = await manager.valid("xero-1")
    rotated = store.tokens["xero-1"]
    assert second == rotated.access_token != first.access_token
    assert rotated.refresh_token != first.refresh_token
    world.access = await manager.access_token("xero-1")()
    assert [c.name async for c in world.client().contacts()] == []

    lost_answer_again = await endpoint.refresh(first.refresh_token)
    assert lost_answer_again.refresh_token == rotated.refresh_token
    world.fake.now += 31 * 60
    with pytest.raises(ReauthorizationNeededError):
        await endpoint.refresh(first.refresh_token)
    assert (await endpoint.refresh(rotated.refresh_token)).refresh_token != rotated.refresh_token
    with pytest.raises(AuthenticationError) as refused:
        await world.endpoint("wrong-secret").refresh(rotated.refresh_token)
    assert refused.value.status == 401
    world.access = first.access_token
    with pytest.raises(AuthenticationError):
        await world.client().contact(world.customer())


async def test_the_organisation_is_chosen_among_the_connected_ones(world: World) -> None:
    globex = world.state.add_tenant("Globex Holdings")
    tokens = await world.connect()
    found = await connections(BASE, tokens.access_token, http=world.http())
    assert sorted((c.tenant_name, c.tenant_type) for c in found) == [
        ("Demo Company (NZ)", "ORGANISATION"),
        ("Globex Holdings", "ORGANISATION"),
    ]
    assert world.sent[-1].url.path == "/connections"
    with pytest.raises(TenantSelectionError, match="choose one"):
        select_tenant(found)
    assert select_tenant(found, globex).tenant_name == "Globex Holdings"
    with pytest.raises(TenantSelectionError, match="not connected"):
        select_tenant(found, str(uuid.uuid4()))
    assert select_tenant(found[:1]) == found[0]
    with pytest.raises(TenantSelectionError, match="no Xero organisation"):
        select_tenant([])

    contact = world.state.add_contact(globex, "Globex customer")
    assert (await world.client(globex).contact(contact)).name == "Globex customer"
    assert world.sent[-1].headers["xero-tenant-id"] == globex
    with pytest.raises(NotFoundError):
        await world.client().contact(contact)
    with pytest.raises(AuthenticationError) as forbidden:
        await world.client(str(uuid.uuid4())).contact(contact)
    assert forbidden.value.status == 403


async def test_active_customers_are_read_page_by_page_then_changes_since(world: World) -> None:
    ids = [world.customer(f"Customer {n}", tax_number=f"GB{n:09d}") for n in range(7)]
    world.state.add_contact(world.tenant, "Paper Supplies", is_customer=False, is_supplier=True)
    gone = world.customer("Former customer")
    async with world.admin() as admin:
        await admin.patch(f"/contacts/{gone}", json={"ContactStatus": "ARCHIVED"})
    client = world.client()

    customers = [c async for c in client.contacts(page_size=3)]
    assert [c.name for c in customers] == [f"Customer {n}" for n in range(7)]
    assert [(c.tax_number, c.is_customer, c.active) for c in customers[:1]] == [
        ("GB000000000", True, True)
    ]
    assert [r.url.params["page"] for r in world.sent] == ["1", "2", "3"]
    assert world.sent[0].url.params["where"] == 'IsCustomer==true AND ContactStatus=="ACTIVE"'
    assert world.sent[0].url.params["order"] == "UpdatedDateUTC ASC"

    world.fake.now += 90.5
    since = world.fake.utcnow()
    address = {"AddressType": "POBOX", "AddressLine1": "1 Main St", "City": "Wellington"}
    async with world.admin() as admin:
        await admin.patch(
            f"/contacts/{ids[2]}", json={"Name": "Acme Renamed", "Addresses": [address]}
        )
        await admin.patch(f"/contacts/{ids[4]}", json={"ContactStatus": "ARCHIVED"})
    world.sent.clear()
    changed = [c async for c in client.contacts(modified_since=since, include_archived=True)]
    assert [(c.contact_id, c.name, c.contact_status) for c in changed] == [
        (ids[2], "Acme Renamed", "ACTIVE"),
        (ids[4], "Customer 4", "ARCHIVED"),
    ]
    assert world.sent[0].headers["If-Modified-Since"] == "2026-11-21T09:01:30Z"
    assert world.sent[0].url.params["includeArchived"] == "true"
    assert changed[0].addresses[0].city == "Wellington"
    assert changed[0].updated_date_utc == since
    with pytest.raises(NotFoundError):
        await client.contact(str(uuid.uuid4()))


async def test_a_draft_whose_answer_was_lost_is_sent_again_with_its_key_and_made_once(
    world: World,
) -> None:
    client = world.client()
    world.faults.lose_next_responses(1, delay_s=6.0)
    invoice = await client.create_invoice(draft(world.customer()), idempotency_key="tb-export-7")
    puts = [r for r in world.sent if r.method == "PUT"]
    assert [r.headers["Idempotency-Key"] for r in puts] == ["tb-export-7", "tb-export-7"]
    assert len(world.state.invoices) == 1
    assert (invoice.status, invoice.invoice_number, invoice.total) == (
        "DRAFT",
        "INV-0001",
        Decimal("180.00"),
    )
    assert [(line.line_amount, line.account_code) for line in invoice.line_items] == [
        (Decimal("180.00"), "200")
    ]

    again = await client.create_invoice(
        draft(invoice.contact.contact_id), idempotency_key="tb-export-7"
    )
    assert again.invoice_id == invoice.invoice_id
    other = draft(invoice.contact.contact_id, reference="TB-8")
    with pytest.raises(ProviderError) as reused:
        await client.create_invoice(other, idempotency_key="tb-export-7")
    assert (reused.value.status, "different request" in reused.value.body) == (400, True)

    world.fake.now += 7 * 60
    later = await client.create_invoice(
        draft(invoice.contact.contact_id), idempotency_key="tb-export-7"
    )
    assert later.invoice_id != invoice.invoice_id
    found = [i.invoice_id async for i in client.invoices(reference="TB-7")]
    assert found == [invoice.invoice_id, later.invoice_id]
    assert world.sent[-1].url.params["where"] == 'Type=="ACCREC" AND Reference=="TB-7"'


async def test_status_number_date_and_amounts_are_read_back_after_changes_in_xero(
    world: World,
) -> None:
    client = world.client()
    created = await client.create_invoice(draft(world.customer()), idempotency_key="tb-9")
    world.fake.now += 60
    since = world.fake.utcnow()
    lines = [{"Description": "T-42: 2 h", "Quantity": 2, "UnitAmount": 120, "AccountCode": "200"}]
    async with world.admin() as admin:
        edit = {"InvoiceNumber": "INV-2026-17", "Date": "2026-11-25", "LineItems": lines}
        assert (await admin.patch(f"/invoices/{created.invoice_id}", json=edit)).status_code == 200
        assert (await admin.post(f"/invoices/{created.invoice_id}/approve")).status_code == 200
        payment = {"Amount": 100, "Date": "2026-11-30"}
        assert (
            await admin.post(f"/invoices/{created.invoice_id}/payments", json=payment)
        ).is_success

    read = await client.invoice(created.invoice_id)
    assert (read.status, read.invoice_number, read.date, read.due_date) == (
        "AUTHORISED",
        "INV-2026-17",
        dt.date(2026, 11, 25),
        DAY + dt.timedelta(days=14),
    )
    assert (read.total, read.amount_paid, read.amount_due, read.currency_code) == (
        Decimal("240.00"),
        Decimal("100.00"),
        Decimal("140.00"),
        "EUR",
    )
    assert read.total != created.total
    async with world.admin() as admin:
        await admin.post(f"/invoices/{created.invoice_id}/payments", json={"Date": "2026-12-01"})
    changed = [i async for i in client.invoices(modified_since=since)]
    assert [(i.invoice_id, i.status, i.amount_due) for i in changed] == [
        (created.invoice_id, "PAID", Decimal(0))
    ]
    assert changed[0].fully_paid_on_date == dt.date(2026, 12, 1)
    assert (await client.contact(created.contact.contact_id)).is_customer


async def test_drafts_are_deleted_approved_invoices_voided_and_both_seen_as_changes(
    world: World,
) -> None:
    client, customer = world.client(), world.customer()
    since = world.fake.utcnow()
    first = await client.create_invoice(draft(customer), idempotency_key="tb-1")
    deleted = await client.delete_invoice(first.invoice_id)
    assert deleted.status == "DELETED"
    assert world.sent[-1].headers["Idempotency-Key"]
    assert json.loads(world.sent[-1].content) == {
        "Invoices": [{"InvoiceID": first.invoice_id, "Status": "DELETED"}]
    }
    second = await client.create_invoice(draft(customer, reference="TB-2"), idempotency_key="tb-2")
    async with world.admin() as admin:
        await admin.post(f"/invoices/{second.invoice_id}/approve")
    with pytest.raises(ProviderError) as refused:
        await client.delete_invoice(second.invoice_id)
    assert refused.value.status == 400
    assert (await client.void_invoice(second.invoice_id)).status == "VOIDED"
    third = await client.create_invoice(draft(customer, reference="TB-3"), idempotency_key="tb-3")
    async with world.admin() as admin:
        assert (await admin.post(f"/invoices/{third.invoice_id}/delete")).status_code == 200

    changed = {i.invoice_id: i.status async for i in client.invoices(modified_since=since)}
    assert changed == {
        first.invoice_id: "DELETED",
        second.invoice_id: "VOIDED",
        third.invoice_id: "DELETED",
    }
    assert "DELETED" in world.sent[-1].url.params["Statuses"].split(",")
    paid = await client.create_invoice(draft(customer, reference="TB-4"), idempotency_key="tb-4")
    async with world.admin() as admin:
        await admin.post(f"/invoices/{paid.invoice_id}/approve")
        await admin.post(f"/invoices/{paid.invoice_id}/payments", json={"Amount": 10})
    with pytest.raises(ProviderError):
        await client.void_invoice(paid.invoice_id)


async def test_intent_to_receive_then_signed_events_kept_until_delivered(world: World) -> None:
    async with world.admin() as admin:
        subscribed = await admin.put("/webhook", json={"url": HOOK_URL, "key": HOOK_KEY})
    assert subscribed.json()["status"] == "OK"
    checks = [(d.kind, d.signed_correctly, d.status) for d in world.state.deliveries]
    assert checks == [("intent_to_receive", True, 200), ("intent_to_receive", False, 401)]
    assert [p.intent_to_receive for p in world.receiver.payloads] == [True]

    client = world.client()
    async with world.admin() as admin:
        created = await admin.post(f"/tenants/{world.tenant}/contacts", json={"Name": "Initech"})
        contact = created.json()["ContactID"]
        invoice = await client.create_invoice(draft(contact), idempotency_key="tb-hook")
        world.receiver.down = True
        await admin.patch(f"/contacts/{contact}", json={"Name": "Initech Ltd"})
        world.receiver.down = False
        await admin.post(f"/invoices/{invoice.invoice_id}/approve")
    assert world.receiver.events() == [
        ("CONTACT", "CREATE", contact),
        ("INVOICE", "CREATE", invoice.invoice_id),
        ("CONTACT", "UPDATE", contact),
        ("INVOICE", "UPDATE", invoice.invoice_id),
    ]
    assert [(p.first_event_sequence, p.last_event_sequence) for p in world.receiver.payloads] == [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 4),
    ]
    last = world.receiver.payloads[-1].events[-1]
    assert (last.tenant_id, last.resource_url) == (
        world.tenant,
        f"https://api.xero.com/api.xro/2.0/Invoices/{invoice.invoice_id}",
    )
    assert last.event_date_utc == world.fake.utcnow()
    body = world.receiver.bodies[-1]
    signature = base64.b64encode(
        hmac.new(HOOK_KEY.encode(), body, hashlib.sha256).digest()
    ).decode()
    assert verify_webhook(HOOK_KEY, body, signature)
    assert not verify_webhook(HOOK_KEY, body + b" ", signature)
    assert not verify_webhook("another-key", body, signature)
    assert not verify_webhook(HOOK_KEY, body, None)

    world.receiver.key = "a-key-from-another-app"
    async with world.admin() as admin:
        refused = await admin.put("/webhook", json={"url": HOOK_URL, "key": HOOK_KEY})
    assert refused.json()["status"] == "INTENT_TO_RECEIVE_FAILED"


async def test_429_is_waited_out_as_told_and_the_budget_keeps_to_60_a_minute(world: World) -> None:
    contact = world.customer()
    client = world.client()
    world.faults.rate_limit_storm(requests=2, retry_after_s=7)
    assert (await client.contact(contact)).contact_id == contact
    assert world.answers == [429, 429, 200]
    assert world.fake.sleeps == [7.0, 7.0]

    world.answers.clear()
    for _ in range(90):
        await client.contact(contact)
    assert 429 not in world.answers
    assert world.fake.now >= 60

    world.answers.clear()
    greedy = world.client(limit=200)
    for _ in range(70):
        await greedy.contact(contact)
    assert world.answers.count(429) > 0
    assert world.answers.count(200) == 70
    async with world.http() as http:
        headers = {"Authorization": f"Bearer {world.access}", "xero-tenant-id": world.tenant}
        headers["Accept"] = "application/json"
        limited = [
            await http.get(f"{BASE}/api.xro/2.0/Contacts", headers=headers) for _ in range(61)
        ]
    assert limited[-1].status_code == 429
    assert limited[-1].headers["X-Rate-Limit-Problem"] == "minute"
    assert int(limited[-1].headers["Retry-After"]) >= 1


async def test_the_client_keeps_to_five_calls_in_progress_per_tenant(world: World) -> None:
    contact = world.customer()
    world.faults.slow_down(0.03)
    tenant_slots = asyncio.Semaphore(5)
    clients = [world.client(slots=tenant_slots) for _ in range(3)]
    await asyncio.gather(*(clients[n % 3].contact(contact) for n in range(12)))
    assert world.answers == [200] * 12
    assert world.state.peak_in_flight[world.tenant] == 5

    headers = {
        "Authorization": f"Bearer {world.access}",
        "xero-tenant-id": world.tenant,
        "Accept": "application/json",
    }
    async with world.http() as http:
        burst = await asyncio.gather(
            *(http.get(f"{BASE}/api.xro/2.0/Contacts/{contact}", headers=headers) for _ in range(7))
        )
    refused = [r for r in burst if r.status_code == 429]
    assert len(refused) == 2
    assert {r.headers["X-Rate-Limit-Problem"] for r in refused} == {"concurrent"}


def test_xero_json_dates_are_read_as_utc() -> None:
    invoice = Invoice.model_validate(
        {
            "Type": "ACCREC",
            "InvoiceID": "046d8a6d-1ae1-4b4d-9340-5601bdf41b87",
            "Status": "PAID",
            "Contact": {"ContactID": "a3675fc4-f8dd-4f03-ba5b-f1870566bcd7", "Name": "Barney"},
            "Date": "/Date(1539993600000+0000)/",
            "DueDate": "2018-12-30T00:00:00",
            "FullyPaidOnDate": "/Date(1543449600000)/",
            "UpdatedDateUTC": "/Date(1541176592690+0000)/",
            "Total": 46.00,
        }
    )
    assert (invoice.date, invoice.due_date, invoice.fully_paid_on_date) == (
        dt.date(2018, 10, 20),
        dt.date(2018, 12, 30),
        dt.date(2018, 11, 29),
    )
    assert invoice.updated_date_utc == dt.datetime(2018, 11, 2, 16, 36, 32, 690000, tzinfo=dt.UTC)
    assert invoice.total == Decimal("46")
    old = Invoice.model_validate(invoice.model_dump(by_alias=True) | {"Date": "/Date(-86400000)/"})
    assert old.date == dt.date(1969, 12, 31)


@pytest.fixture(scope="module")
def specs() -> dict[str, Any]:
    if not SPECS.is_dir():
        pytest.skip(f"Xero's OpenAPI files are not at {SPECS}: spec validation skipped")
    return {
        name: yaml.load((SPECS / name).read_text(), Loader=yaml.CSafeLoader)
        for name in ("xero_accounting.yaml", "xero-webhooks.yaml")
    }


def accounting(specs: dict[str, Any], schema: str) -> Draft4Validator:
    """A validator of ``schema`` whose ``$ref``s resolve against the spec's components."""
    components = specs["xero_accounting.yaml"]["components"]
    root = {"$ref": f"#/components/schemas/{schema}", "components": components}
    return Draft4Validator(root, format_checker=FormatChecker(["uuid"]))


def properties(specs: dict[str, Any], schema: str) -> dict[str, Any]:
    found: dict[str, Any] = specs["xero_accounting.yaml"]["components"]["schemas"][schema][
        "properties"
    ]
    return found


def assert_valid(validator: Draft4Validator | Draft202012Validator, body: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == []


async def test_what_the_client_sends_and_the_sandbox_answers_match_xeros_openapi(
    world: World, specs: dict[str, Any]
) -> None:
    invoices, contacts = accounting(specs, "Invoices"), accounting(specs, "Contacts")
    assert not invoices.is_valid({"Invoices": [{"Total": "180.00"}]})
    assert not contacts.is_valid({"Contacts": [{"ContactID": "not-a-uuid"}]})
    client = world.client()
    customer = world.customer(addresses=[{"AddressType": "STREET", "City": "Auckland"}])
    created = await client.create_invoice(draft(customer), idempotency_key="tb-spec")
    await client.delete_invoice(created.invoice_id)
    [c async for c in client.contacts()]
    await client.contact(customer)
    [i async for i in client.invoices()]
    await client.invoice(created.invoice_id)

    writes = [json.loads(r.content) for r in world.sent if r.method in ("PUT", "POST")]
    read_only = {k for k, v in properties(specs, "Invoice").items() if v.get("readOnly")}
    known = {name: set(properties(specs, name)) for name in ("Invoice", "LineItem", "Contact")}
    for body in writes:
        assert_valid(invoices, body)
        for sent in body["Invoices"]:
            assert set(sent) <= known["Invoice"] - read_only
            assert set(sent.get("Contact", {})) <= known["Contact"]
            for line in sent.get("LineItems", []):
                assert set(line) <= known["LineItem"]

    async with world.http() as http:
        headers = {"Authorization": f"Bearer {world.access}", "xero-tenant-id": world.tenant}
        headers["Accept"] = "application/json"
        duplicate = {"Invoices": [draft(customer, invoice_number="INV-0001").body()]}
        refused = await http.put(f"{BASE}/api.xro/2.0/Invoices", json=duplicate, headers=headers)
    assert refused.status_code == 400
    assert_valid(accounting(specs, "Error"), refused.json())

    answers = [r for r in world.sent if r.url.path.startswith("/api.xro/2.0/")]
    assert len(answers) >= 6
    async with world.http() as http:
        for request in answers:
            if request.method != "GET":
                continue
            answer = await http.get(request.url, headers=request.headers)
            validator = contacts if "/Contacts" in request.url.path else invoices
            assert_valid(validator, answer.json())


async def test_webhook_payloads_match_xeros_webhook_spec(
    world: World, specs: dict[str, Any]
) -> None:
    webhooks = specs["xero-webhooks.yaml"]
    root = {"$ref": "#/components/schemas/WebhookEvent", "components": webhooks["components"]}
    validator = Draft202012Validator(root, format_checker=FormatChecker(["uuid"]))
    async with world.admin() as admin:
        await admin.put("/webhook", json={"url": HOOK_URL, "key": HOOK_KEY})
        contact = world.customer()
        await admin.patch(f"/contacts/{contact}", json={"Name": "Renamed"})
    intent, *deliveries = [json.loads(body) for body in world.receiver.bodies]
    # Xero's guide documents the intent-to-receive sequences as 0, below the spec's minimum 1.
    assert (intent["events"], intent["firstEventSequence"], intent["lastEventSequence"]) == (
        [],
        0,
        0,
    )
    assert deliveries
    for payload in deliveries:
        assert_valid(validator, payload)
    assert not validator.is_valid({**deliveries[0], "firstEventSequence": 0})


async def test_over_real_http_authorise_exchange_choose_and_read() -> None:
    state = XeroState()
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    tenant = state.add_tenant("Demo Company (NZ)")
    contact = state.add_contact(tenant, "Acme Corp")
    async with serve(create_xero_sandbox(state)) as url, httpx.AsyncClient() as http:
        redirect = await http.get(
            authorize_url(CLIENT_ID, REDIRECT, "s", base=f"{url}/identity/connect/authorize")
        )
        code = httpx.URL(redirect.headers["location"]).params["code"]
        endpoint = XeroTokens(CLIENT_ID, CLIENT_SECRET, token_url=f"{url}/connect/token")
        tokens = await endpoint.exchange_code(code, REDIRECT)
        await endpoint.aclose()
        chosen = select_tenant(await connections(url, tokens.access_token))

        async def bearer() -> str:
            return tokens.access_token

        async with XeroClient(url, chosen.tenant_id, bearer) as client:
            assert [c.contact_id async for c in client.contacts()] == [contact]
