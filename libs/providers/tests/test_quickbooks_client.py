"""Timebridge's QuickBooks Online client against the sandbox, and what both send against the XSD."""

import asyncio
import contextlib
import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.quickbooks.client import QuickBooksClient
from timebridge_providers.quickbooks.oauth import QuickBooksTokens, authorize_url
from timebridge_providers.quickbooks.webhooks import EntityChange, parse_webhook, verify_webhook
from timebridge_providers.quickbooks.wire import (
    DraftInvoice,
    DraftLine,
    DuplicateDocNumberError,
    Invoice,
    StaleObjectError,
)

from timebridge_common.outbound.http import (
    AuthenticationError,
    NotFoundError,
    ProviderError,
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import (
    ReauthorizationNeededError,
    TokenManager,
    Tokens,
)
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.quickbooks import (
    RATE_LIMIT,
    QuickBooksState,
    WebhookTarget,
    create_quickbooks_sandbox,
)
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport, provider_specs, serve

BASE = "http://qbo.test"
CLIENT_ID, CLIENT_SECRET = "ABqbo-client-5d1", "qbo-secret-9e2f"
REDIRECT = "https://timebridge.test/oauth/quickbooks/callback"
VERIFIER = "verifier-71c0"
HOOK_URL = "http://timebridge.test/v1/webhooks/quickbooks"
DAY = dt.date(2026, 11, 20)
ITEM = "Consulting hours"
SPECS = provider_specs()


class Receiver:
    """Timebridge's side of QuickBooks webhooks: checks the signature, keeps the changes."""

    def __init__(self) -> None:
        self.changes: list[EntityChange] = []
        self.refused = 0
        self.arrived = asyncio.Event()
        self.app = Starlette(routes=[Route("/v1/webhooks/quickbooks", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        if not verify_webhook(VERIFIER, body, request.headers.get("intuit-signature")):
            self.refused += 1
            return Response(status_code=401)
        self.changes.extend(parse_webhook(body))
        self.arrived.set()
        return Response(status_code=200)

    def seen(self) -> list[tuple[str, str, str]]:
        return [(c.entity, c.entity_id, c.operation) for c in self.changes]


@dataclass
class _Slot:
    store: "MemoryTokens"
    key: str
    tokens: Tokens

    async def save(self, new: Tokens) -> None:
        self.store.tokens[self.key] = self.tokens = new


@dataclass
class MemoryTokens:
    """A TokenStore in memory: what the owning service keeps in Postgres."""

    tokens: dict[str, Tokens] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self, connection_id: str) -> Tokens:
        return self.tokens[connection_id]

    @contextlib.asynccontextmanager
    async def locked(self, connection_id: str) -> AsyncIterator[_Slot]:
        async with self.lock:
            yield _Slot(self, connection_id, self.tokens[connection_id])


@dataclass
class World:
    state: QuickBooksState
    faults: Faults
    fake: FakeTime
    receiver: Receiver
    sandbox: ASGIApp
    realm: str
    account: str
    sent: list[httpx.Request] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)

    def http(self, timeout_s: float = 2.0) -> httpx.AsyncClient:
        """Records every request and every answer (with its body) the client exchanged."""

        async def on_request(request: httpx.Request) -> None:
            self.sent.append(request)

        async def on_response(response: httpx.Response) -> None:
            await response.aread()
            self.answers.append(response)

        return httpx.AsyncClient(
            transport=TimeoutTransport(self.sandbox, timeout_s),
            event_hooks={"request": [on_request], "response": [on_response]},
        )

    @property
    def statuses(self) -> list[int]:
        return [a.status_code for a in self.answers if a.request.url.path.startswith("/v3/")]

    def endpoint(self) -> QuickBooksTokens:
        return QuickBooksTokens(
            CLIENT_ID,
            CLIENT_SECRET,
            token_url=f"{BASE}/oauth2/v1/tokens/bearer",
            http=self.http(),
            clock=self.fake.utcnow,
        )

    def client(
        self,
        token: str | None = None,
        *,
        manager: TokenManager | None = None,
        limit: tuple[int, float] = RATE_LIMIT,
    ) -> QuickBooksClient:
        """A client with a token of its own, the given one, or the manager's."""
        if manager is not None:
            source = manager.access_token("conn-1")
        else:
            bearer = token or self.state.issue_tokens(self.realm, CLIENT_ID)[0]

            async def source() -> str:
                return bearer

        return QuickBooksClient(
            BASE,
            self.realm,
            source,
            http=self.http(),
            budget=RequestBudget(*limit, clock=self.fake.clock, sleep=self.fake.sleep),
            retry=RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow),
        )

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.sandbox), base_url=f"{BASE}/_sandbox"
        )

    async def edit(
        self, path: str, body: dict[str, Any] | None = None, method: str = "PATCH"
    ) -> Any:
        async with self.admin() as api:
            answer = await api.request(method, f"/companies/{self.realm}/{path}", json=body)
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    async def consent(self, state: str = "st-8f2") -> dict[str, str]:
        """The admin clicks Connect: the sandbox's user consents, the browser comes back."""
        url = authorize_url(CLIENT_ID, REDIRECT, state, base_url=f"{BASE}/connect/oauth2")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(self.sandbox)) as browser:
            answer = await browser.get(url)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(REDIRECT + "?")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def world() -> World:
    fake, faults, receiver = FakeTime(), Faults(), Receiver()
    faults.clock = fake.clock
    state = QuickBooksState(now=fake.utcnow)
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    state.add_company("Other Books LLC")
    realm = state.add_company("Acme Consulting")
    state.consent_realm = realm
    account = state.add_account(realm, "Services")
    state.webhook = WebhookTarget(HOOK_URL, VERIFIER)
    sandbox = create_quickbooks_sandbox(
        state,
        faults,
        rate_limit=RateLimit(*RATE_LIMIT, clock=fake.clock),
        webhook_transport=httpx.ASGITransport(receiver.app),
    )
    return World(state, faults, fake, receiver, sandbox, realm, account)


def customer(name: str, **elements: Any) -> dict[str, Any]:
    return {"DisplayName": name, **elements}


def draft(customer_id: str, item_id: str, **fields: Any) -> DraftInvoice:
    """1.5 h at 120.00 and 0.75 h at 99.99: 180.00 + 74.99 (rounded half up) = 254.99."""
    login = DraftLine(
        item_id=item_id,
        description="T-42 Login page (Ann)",
        qty=Decimal("1.5"),
        unit_price=Decimal("120.00"),
        service_date=DAY,
    )
    review = DraftLine(
        item_id=item_id, description="Code review", qty=Decimal("0.75"), unit_price=Decimal("99.99")
    )
    defaults = {"doc_number": "TB-1001", "note": "Timebridge export inv_7"}
    return DraftInvoice(
        customer_id=customer_id, lines=(login, review), txn_date=DAY, **{**defaults, **fields}
    )


async def exported(world: World, client: QuickBooksClient) -> tuple[str, Invoice]:
    """A customer, the service item, and a draft invoice for them."""
    customer_id = world.state.add_customer(world.realm, customer("Globex Corporation"))
    item = await client.find_or_create_service_item(ITEM, income_account_id=world.account)
    invoice = await client.create_invoice(draft(customer_id, item.id), request_id="tb-inv_7-1")
    return customer_id, invoice


async def test_consent_code_exchange_and_refresh_rotation_through_the_token_manager(
    world: World,
) -> None:
    redirect = await world.consent()
    assert (redirect["state"], redirect["realmId"]) == ("st-8f2", world.realm)
    endpoint = world.endpoint()
    tokens = await endpoint.exchange_code(redirect["code"], REDIRECT)
    assert tokens.expires_at == world.fake.utcnow() + dt.timedelta(hours=1)
    with pytest.raises(ReauthorizationNeededError):
        await endpoint.exchange_code(redirect["code"], REDIRECT)
    exchange = world.sent[0]
    assert exchange.headers["Authorization"].startswith("Basic ")
    assert parse_qs(exchange.content.decode())["grant_type"] == ["authorization_code"]

    store = MemoryTokens({"conn-1": tokens})
    manager = TokenManager(endpoint, store, clock=world.fake.utcnow)
    client = world.client(manager=manager)
    assert [c async for c in client.customers()] == []
    assert world.sent[-1].headers["Authorization"] == f"Bearer {tokens.access_token}"

    world.fake.now += 56 * 60  # inside the refresh margin: the manager refreshes first
    assert [c async for c in client.customers()] == []
    rotated = store.tokens["conn-1"]
    assert rotated.refresh_token != tokens.refresh_token
    assert world.sent[-1].headers["Authorization"] == f"Bearer {rotated.access_token}"
    with pytest.raises(ReauthorizationNeededError):
        await endpoint.refresh(tokens.refresh_token)
    assert (await endpoint.refresh(rotated.refresh_token)).access_token != rotated.access_token

    world.fake.now += 3600  # the first access token has expired by now
    with pytest.raises(AuthenticationError) as expired:
        await world.client(tokens.access_token).customer("1")
    assert (expired.value.status, '"code":"3200"' in expired.value.body) == (401, True)


async def test_consent_refuses_unknown_redirects_and_other_scopes(world: World) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(world.sandbox)) as browser:
        foreign = authorize_url(
            CLIENT_ID, "https://evil.test/cb", "s", base_url=f"{BASE}/connect/oauth2"
        )
        assert (await browser.get(foreign)).status_code == 400
        scoped = await browser.get(
            f"{BASE}/connect/oauth2",
            params={
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": "openid",
            },
        )
    assert parse_qs(urlsplit(scoped.headers["location"]).query)["error"] == ["invalid_scope"]
    wrong = QuickBooksTokens(
        CLIENT_ID, "not-the-secret", token_url=f"{BASE}/oauth2/v1/tokens/bearer", http=world.http()
    )
    with pytest.raises(AuthenticationError) as refused:
        await wrong.refresh("AB11-whatever")
    assert refused.value.status == 401
    assert "invalid_client" in refused.value.body


async def test_active_customers_are_read_page_by_page_with_address_and_tax_details(
    world: World,
) -> None:
    address = {
        "Line1": "1 Main St",
        "City": "Springfield",
        "CountrySubDivisionCode": "IL",
        "PostalCode": "62701",
        "Country": "US",
    }
    first = world.state.add_customer(
        world.realm,
        customer(
            "Globex Corporation",
            CompanyName="Globex Corp.",
            BillAddr=address,
            PrimaryEmailAddr={"Address": "ap@globex.test"},
            Taxable=True,
            DefaultTaxCodeRef={"value": "TAX"},
            PrimaryTaxIdentifier="12-3456789",
        ),
    )
    others = []
    for n in range(3):
        world.fake.now += 60
        others.append(world.state.add_customer(world.realm, customer(f"Client {n}")))
    world.state.add_customer(world.realm, customer("Gone Ltd", Active=False))
    client = world.client()

    found = [c async for c in client.customers(page_size=2)]
    assert [c.id for c in found] == [first, *others]
    queries = [r.url.params["query"] for r in world.sent]
    assert queries[0] == (
        "SELECT * FROM Customer WHERE Active = true ORDERBY MetaData.LastUpdatedTime"
        " STARTPOSITION 1 MAXRESULTS 2"
    )
    bounds = [q.split("LastUpdatedTime >= ")[1][:26] for q in queries[1:]]
    assert bounds == [  # each page starts at the last change of the page before
        "'2026-11-21T09:01:00+00:00",
        "'2026-11-21T09:02:00+00:00",
        "'2026-11-21T09:03:00+00:00",
    ]
    assert {r.url.params["minorversion"] for r in world.sent} == {"75"}

    globex = await client.customer(first)
    assert globex == found[0]
    assert (globex.display_name, globex.company_name, globex.active) == (
        "Globex Corporation",
        "Globex Corp.",
        True,
    )
    assert globex.bill_addr is not None
    assert (globex.bill_addr.city, globex.bill_addr.country_sub_division_code) == (
        "Springfield",
        "IL",
    )
    assert globex.primary_email_addr is not None
    assert globex.primary_email_addr.address == "ap@globex.test"
    assert (globex.taxable, globex.primary_tax_identifier) == (True, "12-3456789")
    assert globex.default_tax_code_ref is not None
    assert globex.default_tax_code_ref.value == "TAX"
    assert globex.currency_ref is not None
    assert globex.currency_ref.value == "USD"
    with pytest.raises(NotFoundError) as missing:
        await client.customer("999")
    assert (missing.value.status, '"code":"610"' in missing.value.body) == (400, True)


async def test_paging_by_last_change_skips_nobody_when_customers_change_meanwhile(
    world: World,
) -> None:
    """Offset pages would lose one: the renamed customer moves behind, shifting the rest."""
    same_instant = [world.state.add_customer(world.realm, customer(f"Tie {n}")) for n in range(3)]
    later = []
    for name in ("Later 1", "Later 2", "Later 3"):
        world.fake.now += 60
        later.append(world.state.add_customer(world.realm, customer(name)))
    pages = world.client().customers(page_size=2)
    first = [await anext(pages), await anext(pages)]
    assert [c.id for c in first] == same_instant[:2]

    world.fake.now += 60
    await world.edit(f"customers/{same_instant[0]}", {"DisplayName": "Tie 0 renamed"})
    await world.edit(f"customers/{later[1]}", {"Active": False})
    rest = [(c.id, c.display_name) async for c in pages]
    assert rest == [
        (same_instant[2], "Tie 2"),
        (later[0], "Later 1"),
        (later[2], "Later 3"),
        (same_instant[0], "Tie 0 renamed"),
    ]


async def test_changed_customers_include_renamed_and_archived_ones_and_are_announced(
    world: World,
) -> None:
    kept, renamed, archived = (
        world.state.add_customer(world.realm, customer(name))
        for name in ("Kept", "Initech", "Hooli")
    )
    since = world.fake.utcnow()
    world.fake.now += 3600
    await world.edit(
        f"customers/{renamed}", {"DisplayName": "Initech LLC", "CompanyName": "Initech LLC"}
    )
    await world.edit(f"customers/{archived}", {"Active": False})
    client = world.client()

    changed = [c async for c in client.customers(changed_since=since + dt.timedelta(minutes=1))]
    assert [(c.id, c.display_name, c.active) for c in changed] == [
        (renamed, "Initech LLC", True),
        (archived, "Hooli", False),
    ]
    assert changed[0].sync_token == "1"
    assert changed[0].meta_data is not None
    assert changed[0].meta_data.last_updated_time == world.fake.utcnow()
    assert "Active IN (true, false)" in world.sent[0].url.params["query"]
    assert [c.id async for c in client.customers()] == [kept, renamed]
    assert world.receiver.seen() == [
        ("Customer", renamed, "Update"),
        ("Customer", archived, "Update"),
    ]
    assert {c.realm_id for c in world.receiver.changes} == {world.realm}


async def test_an_invoice_is_exported_as_an_unsent_draft_and_its_changes_are_read_back(
    world: World,
) -> None:
    client = world.client()
    assert [a.name for a in await client.income_accounts()] == ["Services"]
    customer_id, invoice = await exported(world, client)
    assert (invoice.doc_number, invoice.txn_date, invoice.lifecycle) == ("TB-1001", DAY, "draft")
    assert (invoice.total_amt, invoice.balance) == (Decimal("254.99"), Decimal("254.99"))
    assert (invoice.email_status, invoice.print_status) == ("NotSet", "NotSet")
    assert (invoice.customer_ref.value, invoice.customer_ref.name) == (
        customer_id,
        "Globex Corporation",
    )
    assert invoice.currency_ref is not None
    assert invoice.currency_ref.value == "USD"
    assert invoice.private_note == "Timebridge export inv_7"
    sales = [line for line in invoice.line if line.sales_item_line_detail is not None]
    assert [(line.amount, line.description) for line in sales] == [
        (Decimal("180.00"), "T-42 Login page (Ann)"),
        (Decimal("74.99"), "Code review"),
    ]
    detail = sales[0].sales_item_line_detail
    assert detail is not None
    assert (detail.qty, detail.unit_price, detail.service_date) == (
        Decimal("1.5"),
        Decimal("120"),
        DAY,
    )
    assert detail.item_ref.name == "Consulting hours"

    item_id = detail.item_ref.value
    line = {
        "Description": "T-42 Login page (Ann)",
        "Amount": 300,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item_id}, "Qty": 2.5, "UnitPrice": 120},
    }
    edit = {"DocNumber": "1042", "TxnDate": "2026-11-22", "Line": [line]}
    await world.edit(f"invoices/{invoice.id}", edit)
    changed = await client.invoice(invoice.id)
    assert (changed.doc_number, changed.txn_date, changed.total_amt) == (
        "1042",
        dt.date(2026, 11, 22),
        Decimal(300),
    )
    assert int(changed.sync_token) > int(invoice.sync_token)

    await world.edit(f"invoices/{invoice.id}/send", method="POST")
    assert (await client.invoice(invoice.id)).lifecycle == "sent"
    await world.edit(f"invoices/{invoice.id}/payments", {"amount": "100.00"}, "POST")
    partly = await client.invoice(invoice.id)
    assert (partly.lifecycle, partly.balance) == ("partially_paid", Decimal(200))
    assert [t.txn_type for t in partly.linked_txn] == ["Payment"]
    await world.edit(f"invoices/{invoice.id}/payments", {"amount": "200.00"}, "POST")
    assert (await client.invoice(invoice.id)).lifecycle == "paid"

    other = await client.create_invoice(
        draft(customer_id, item_id, doc_number=None), request_id="tb-inv_8"
    )
    assert other.doc_number == "1001"
    await world.edit(f"invoices/{other.id}/void", method="POST")
    voided = await client.invoice(other.id)
    assert (voided.lifecycle, voided.total_amt, voided.private_note) == (
        "voided",
        Decimal(0),
        "Voided - Timebridge export inv_7",
    )


async def test_a_deleted_invoice_is_not_found_and_change_data_capture_reports_it(
    world: World,
) -> None:
    client = world.client()
    since = world.fake.utcnow()
    customer_id, invoice = await exported(world, client)
    world.fake.now += 60
    await world.edit(f"invoices/{invoice.id}", method="DELETE")

    with pytest.raises(NotFoundError) as gone:
        await client.invoice(invoice.id)
    assert "Another user has deleted this transaction" in gone.value.body
    assert [i.id async for i in client.invoices(changed_since=since)] == []
    changes = await client.changes(["Customer", "Item", "Invoice"], since)
    assert [(name, d.id) for name, d in changes.deleted] == [("Invoice", invoice.id)]
    assert [c.id for c in changes.customers] == [customer_id]
    assert [i.name for i in changes.items] == ["Consulting hours"]
    assert changes.invoices == ()
    assert changes.time == world.fake.utcnow()
    assert world.receiver.seen()[-1] == ("Invoice", invoice.id, "Delete")
    with pytest.raises(ProviderError) as too_old:
        await client.changes(["Invoice"], since - dt.timedelta(days=31))
    assert too_old.value.status == 400


async def test_a_create_whose_answer_was_lost_is_repeated_with_its_requestid_and_made_once(
    world: World,
) -> None:
    client = world.client()
    customer_id = world.state.add_customer(world.realm, customer("Globex Corporation"))
    item = await client.find_or_create_service_item(ITEM, income_account_id=world.account)
    world.faults.lose_next_responses(1)
    invoice = await client.create_invoice(draft(customer_id, item.id), request_id="tb-inv_7-1")
    posts = [r for r in world.sent if r.url.path.endswith("/invoice")]
    assert [r.url.params["requestid"] for r in posts] == ["tb-inv_7-1"] * 2
    invoices = world.state.companies[world.realm].all("Invoice")
    assert [r.id for r in invoices] == [invoice.id]
    assert world.fake.sleeps == [0.375]

    again = await client.create_invoice(draft(customer_id, item.id), request_id="tb-inv_7-1")
    assert again == invoice
    with pytest.raises(DuplicateDocNumberError):
        await client.create_invoice(draft(customer_id, item.id), request_id="tb-inv_7-2")
    assert len(world.state.companies[world.realm].all("Invoice")) == 1
    assert [c for c in world.receiver.seen() if c[0] == "Invoice"] == [
        ("Invoice", invoice.id, "Create")
    ]


async def test_an_inactive_item_is_reactivated_on_its_sync_token(world: World) -> None:
    client = world.client()
    created = await client.find_or_create_service_item(ITEM, income_account_id=world.account)
    assert (
        created.type,
        created.active,
        created.income_account_ref and created.income_account_ref.value,
    ) == ("Service", True, world.account)
    assert (
        await client.find_or_create_service_item(ITEM, income_account_id=world.account) == created
    )
    await world.edit(f"items/{created.id}", {"Active": False})
    stale = await client.find_item(ITEM)
    assert stale is not None
    assert (stale.active, stale.sync_token) == (False, "1")
    await world.edit(f"items/{created.id}", {"Description": "Renamed in QuickBooks"})
    with pytest.raises(StaleObjectError) as caught:
        await client.activate_item(stale)
    assert '"code":"5010"' in caught.value.body
    again = await client.find_or_create_service_item(ITEM, income_account_id=world.account)
    assert (again.id, again.active, again.sync_token) == (created.id, True, "3")
    assert len(world.state.companies[world.realm].all("Item")) == 1


async def test_an_invoice_for_an_archived_customer_is_refused(world: World) -> None:
    client = world.client()
    customer_id = world.state.add_customer(world.realm, customer("Hooli", Active=False))
    item = await client.find_or_create_service_item(ITEM, income_account_id=world.account)
    with pytest.raises(NotFoundError) as refused:
        await client.create_invoice(draft(customer_id, item.id), request_id="tb-x")
    assert "made inactive" in refused.value.body
    assert world.state.companies[world.realm].all("Invoice") == []


async def test_webhooks_are_signed_and_a_wrong_signature_is_refused(world: World) -> None:
    client = world.client()
    _, invoice = await exported(world, client)
    assert world.receiver.seen()[-1] == ("Invoice", invoice.id, "Create")
    assert world.receiver.changes[-1].event_id is not None
    body = json.dumps(world.state.deliveries[-1].payload).encode()
    signature = WebhookTarget(HOOK_URL, VERIFIER).signature(body)
    assert verify_webhook(VERIFIER, body, signature)
    assert not verify_webhook(VERIFIER, body + b" ", signature)
    assert not verify_webhook("another-app", body, signature)
    assert not verify_webhook(VERIFIER, body, None)

    world.state.webhook = WebhookTarget(HOOK_URL, VERIFIER, "legacy")
    await world.edit(f"invoices/{invoice.id}/void", method="POST")
    legacy = world.state.deliveries[-1].payload
    assert isinstance(legacy, dict)
    (entity,) = legacy["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert set(entity) == {"name", "id", "operation", "lastUpdated"}
    assert world.receiver.changes[-1] == EntityChange(
        realm_id=world.realm,
        entity="Invoice",
        entity_id=invoice.id,
        operation="Void",
        occurred_at=world.fake.utcnow(),
    )
    world.state.webhook = WebhookTarget(HOOK_URL, "a-rotated-token")
    await world.edit(f"invoices/{invoice.id}", {"DocNumber": "X-1"})
    assert (world.receiver.refused, world.state.deliveries[-1].status) == (1, 401)


async def test_a_429_is_waited_out_for_as_long_as_quickbooks_says(world: World) -> None:
    """A throttled burst waits ``Retry-After``; a budget above the limit waits out the window."""
    world.faults.rate_limit_storm(requests=2, retry_after_s=3)
    client = world.client()
    assert [c async for c in client.customers()] == []
    assert world.statuses == [429, 429, 200]
    assert world.fake.sleeps == [3.0, 3.0]
    throttled = world.answers[0].json()["Fault"]["Error"][0]
    assert throttled["code"] == "3001"

    world.sandbox = create_quickbooks_sandbox(
        world.state, rate_limit=RateLimit(4, 60.0, clock=world.fake.clock)
    )
    world.answers, world.fake.sleeps = [], []
    greedy = world.client(limit=(100, 60.0))
    for _ in range(6):
        assert [c async for c in greedy.customers()] == []
    assert world.statuses == [200] * 4 + [429, 200, 200]
    assert world.fake.sleeps[0] == 60.0


async def test_the_admin_api_seeds_subscribes_and_resets(world: World) -> None:
    seed = {
        "apps": [{"client_id": "other-app", "client_secret": "s", "redirect_uris": [REDIRECT]}],
        "companies": [
            {
                "name": "Beta LLC",
                "items": ["Hours"],
                "customers": [{"DisplayName": "Beta Client", "Taxable": False}],
            }
        ],
    }
    async with world.admin() as api:
        seeded = (await api.post("/seed", json=seed)).json()["companies"][0]
        hook = {"url": HOOK_URL, "verifier_token": VERIFIER, "format": "legacy"}
        assert (await api.put("/webhook", json=hook)).status_code == 200
        refused = await api.post(f"/companies/{seeded['realm_id']}/customers", json={"Nmae": "x"})
        created = await api.post(
            f"/companies/{seeded['realm_id']}/customers", json={"DisplayName": "Gamma"}
        )
        log = (await api.get("/deliveries")).json()
        assert (await api.post("/reset")).status_code == 204
    assert (seeded["accounts"], seeded["items"], seeded["customers"]) == (["1"], ["2"], ["3"])
    assert refused.json()["Fault"]["Error"][0]["code"] == "2010"
    assert created.json()["Customer"]["Id"] == "4"
    assert [d["payload"]["eventNotifications"][0]["realmId"] for d in log] == [seeded["realm_id"]]
    assert (world.state.companies, world.state.apps, world.state.webhook) == ({}, {}, None)


async def test_over_real_http_consent_lost_answer_and_a_signed_webhook() -> None:
    receiver = Receiver()
    state = QuickBooksState()
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    realm = state.add_company("Acme Consulting")
    account = state.add_account(realm, "Services")
    customer_id = state.add_customer(realm, customer("Globex Corporation"))
    faults = Faults()
    async with (
        serve(create_quickbooks_sandbox(state, faults)) as qbo_url,
        serve(receiver.app) as receiver_url,
    ):
        state.webhook = WebhookTarget(f"{receiver_url}/v1/webhooks/quickbooks", VERIFIER)
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(
                authorize_url(CLIENT_ID, REDIRECT, "s1", base_url=f"{qbo_url}/connect/oauth2")
            )
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        tokens = await QuickBooksTokens(
            CLIENT_ID, CLIENT_SECRET, token_url=f"{qbo_url}/oauth2/v1/tokens/bearer"
        ).exchange_code(code, REDIRECT)

        async def bearer() -> str:
            return tokens.access_token

        async with QuickBooksClient(qbo_url, realm, bearer, timeout_s=1.0) as client:
            item = await client.find_or_create_service_item("Hours", income_account_id=account)
            faults.lose_next_responses(1, delay_s=2.5)
            invoice = await client.create_invoice(
                draft(customer_id, item.id), request_id="loopback-1"
            )
            async with asyncio.timeout(5):
                await receiver.arrived.wait()
            assert (await client.invoice(invoice.id)).total_amt == Decimal("254.99")
    assert len(state.companies[realm].all("Invoice")) == 1
    assert ("Invoice", invoice.id, "Create") in receiver.seen()


# ---- the JSON both sides exchange, against the official XSD ----------------------------------

XS = "{http://www.w3.org/2001/XMLSchema}"


@dataclass(frozen=True)
class Xsd:
    """Element and attribute names of the QuickBooks XSD's complex types, inherited ones too."""

    types: dict[str, ET.Element]
    objects: dict[str, str]
    """Elements of the ``IntuitObject`` substitution group (entities) -> their type."""

    def members(self, type_name: str) -> dict[str, str | None]:
        node = self.types[type_name]
        names: dict[str, str | None] = {}
        for extension in node.iter(f"{XS}extension"):
            if extension.get("base") in self.types:
                names |= self.members(str(extension.get("base")))
        if node.find(f"{XS}simpleContent") is not None:
            names["value"] = None
        for element in node.iter(f"{XS}element"):
            if element.get("ref") == "IntuitObject":
                names |= dict(self.objects)
            elif element.get("name"):
                names[str(element.get("name"))] = element.get("type")
        for attribute in node.iter(f"{XS}attribute"):
            names[str(attribute.get("name"))] = None
        return names

    def unknown(self, type_name: str | None, value: Any, path: str) -> list[str]:
        """The JSON keys under ``value`` that are not element or attribute names of its type."""
        if isinstance(value, list):
            return [
                u for n, v in enumerate(value) for u in self.unknown(type_name, v, f"{path}[{n}]")
            ]
        if type_name not in self.types or not isinstance(value, dict):
            return []
        members = self.members(type_name)
        found: list[str] = []
        for key, inner in value.items():
            if key not in members:
                found.append(f"{path}.{key}")
            else:
                found += self.unknown(members[key], inner, f"{path}.{key}")
        return found


@cache
def _load_xsd(folder: Path) -> Xsd:
    types: dict[str, ET.Element] = {}
    objects: dict[str, str] = {}
    for path in sorted(folder.glob("*.xsd")):
        root = ET.parse(path).getroot()  # noqa: S314 - Intuit's published schema, read-only
        types |= {str(n.get("name")): n for n in root.iter(f"{XS}complexType") if n.get("name")}
        objects |= {
            str(e.get("name")): str(e.get("type"))
            for e in root.iter(f"{XS}element")
            if e.get("substitutionGroup") == "IntuitObject"
        }
    return Xsd(types, objects)


@pytest.fixture
def xsd() -> Xsd:
    folder = SPECS / "quickbooks-v3-xsd"
    if not folder.is_dir():
        pytest.skip(f"QuickBooks XSD not found at {folder} (the shared provider-specs folder)")
    return _load_xsd(folder.resolve())


def test_the_xsd_check_catches_a_wrong_name(xsd: Xsd) -> None:
    assert xsd.unknown("Invoice", {"TotalAmt": 1, "CustomerRef": {"value": "1"}}, "Invoice") == []
    assert xsd.unknown("Invoice", {"Total": 1, "CustomerRef": {"id": "1"}}, "Invoice") == [
        "Invoice.Total",
        "Invoice.CustomerRef.id",
    ]
    assert "DisplayName" in xsd.members("Customer")
    assert "ItemRef" in xsd.members("SalesItemLineDetail")


async def test_what_the_client_sends_and_the_sandbox_answers_uses_the_xsd_names(
    world: World, xsd: Xsd
) -> None:
    client = world.client()
    world.state.add_customer(
        world.realm,
        customer(
            "Globex",
            BillAddr={"Line1": "1 Main St", "City": "Springfield"},
            PrimaryEmailAddr={"Address": "a@b.test"},
            Taxable=False,
        ),
    )
    customer_id, invoice = await exported(world, client)
    item = await client.find_item(ITEM)
    assert item is not None
    await world.edit(f"items/{item.id}", {"Active": False})
    await client.find_or_create_service_item(ITEM, income_account_id=world.account)
    await world.edit(f"invoices/{invoice.id}/payments", {"amount": "10.00"}, "POST")
    await world.edit(f"invoices/{invoice.id}/void", method="POST")
    await client.income_accounts()
    [c async for c in client.customers()]
    await client.customer(customer_id)
    await client.invoice(invoice.id)
    await client.changes(
        ["Customer", "Item", "Invoice"], world.fake.utcnow() - dt.timedelta(days=1)
    )
    await world.edit(f"invoices/{invoice.id}", method="DELETE")
    await client.changes(["Invoice"], world.fake.utcnow() - dt.timedelta(days=1))
    with pytest.raises(NotFoundError):
        await client.invoice(invoice.id)

    writes = [r for r in world.sent if r.method == "POST" and r.url.path.startswith("/v3/")]
    assert {r.url.path.rsplit("/", 1)[1] for r in writes} == {"item", "invoice"}
    for request in writes:
        entity = {"item": "Item", "invoice": "Invoice"}[request.url.path.rsplit("/", 1)[1]]
        assert xsd.unknown(entity, json.loads(request.content), entity) == []
    answers = [a for a in world.answers if a.request.url.path.startswith("/v3/")]
    assert len(answers) >= 12
    for answer in answers:
        assert xsd.unknown("IntuitResponse", answer.json(), answer.request.url.path) == []
