"""Timebridge's FreshBooks client against the FreshBooks sandbox, in-process and over real HTTP."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.freshbooks.client import FreshBooksClient
from timebridge_providers.freshbooks.oauth import FreshBooksTokens, authorize_url
from timebridge_providers.freshbooks.webhooks import verify_webhook, webhook_signature
from timebridge_providers.freshbooks.wire import (
    SIGNATURE_HEADER,
    InvoiceDraft,
    InvoiceStatus,
    Line,
    Money,
    VisState,
    WebhookDelivery,
)

from timebridge_common.outbound.http import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    ProviderError,
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import ReauthorizationNeededError, TokenManager, Tokens
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.freshbooks import RATE_LIMIT, FreshBooksState, create_freshbooks_sandbox
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport, Traffic, serve

CLIENT_ID, CLIENT_SECRET = "fb-app-7c1", "fb-secret-93e"
REDIRECT = "https://timebridge.test/oauth/freshbooks/callback"
BASE = "http://freshbooks.test"
HOOK = "http://receiver.test/hooks/freshbooks/4f0a"
DAY = dt.date(2026, 11, 20)
HOUR = 3600.0


class MemoryTokenStore:
    """A :class:`~timebridge_common.outbound.oauth.TokenStore` in a dict, one lock for all."""

    def __init__(self, tokens: dict[str, Tokens]) -> None:
        self.tokens = tokens
        self._lock = asyncio.Lock()

    async def load(self, connection_id: str) -> Tokens:
        return self.tokens[connection_id]

    @asynccontextmanager
    async def locked(self, connection_id: str) -> AsyncIterator["_Slot"]:
        async with self._lock:
            yield _Slot(self, connection_id)


class _Slot:
    def __init__(self, store: MemoryTokenStore, connection_id: str) -> None:
        self.store = store
        self.connection_id = connection_id
        self.tokens = store.tokens[connection_id]

    async def save(self, new: Tokens) -> None:
        self.store.tokens[self.connection_id] = new


class Receiver:
    """Timebridge's side of FreshBooks webhooks: keeps each form (in order) and its signature."""

    def __init__(self) -> None:
        self.posts: list[tuple[list[tuple[str, str]], str | None]] = []
        self.arrived = asyncio.Event()
        self.app = Starlette(
            routes=[Route("/hooks/freshbooks/{token}", self.hook, methods=["POST"])]
        )

    async def hook(self, request: Request) -> Response:
        fields = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        self.posts.append((fields, request.headers.get(SIGNATURE_HEADER)))
        self.arrived.set()
        return Response(status_code=200)

    def verifications(self) -> list[WebhookDelivery]:
        return [d for d in self.parsed() if d.verifier is not None]

    def events(self) -> list[tuple[WebhookDelivery, list[tuple[str, str]], str | None]]:
        return [
            (WebhookDelivery.model_validate(dict(fields)), fields, signature)
            for fields, signature in self.posts
            if "verifier" not in dict(fields)
        ]

    def parsed(self) -> list[WebhookDelivery]:
        return [WebhookDelivery.model_validate(dict(fields)) for fields, _ in self.posts]


def _constant(token: str) -> Callable[[], Awaitable[str]]:
    async def get() -> str:
        return token

    return get


@dataclass
class World(Traffic):
    state: FreshBooksState
    faults: Faults
    fake: FakeTime
    receiver: Receiver
    sandbox: ASGIApp
    account: str
    employee_account: str
    foreign_account: str
    identity: int
    customer: int

    def transport(self, timeout_s: float | None = None) -> httpx.AsyncBaseTransport:
        if timeout_s is None:
            return httpx.ASGITransport(self.sandbox)
        return TimeoutTransport(self.sandbox, timeout_s)

    def budget(self, limit: int = RATE_LIMIT[0]) -> RequestBudget:
        return RequestBudget(limit, RATE_LIMIT[1], clock=self.fake.clock, sleep=self.fake.sleep)

    def retry(self) -> RetryPolicy:
        return RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow)

    def client(
        self,
        token: Callable[[], Awaitable[str]] | None = None,
        *,
        account: str | None = "",
        limit: int = RATE_LIMIT[0],
        timeout_s: float | None = None,
    ) -> FreshBooksClient:
        """A client of the main account ("" ) with a freshly issued token unless told otherwise."""
        if token is None:
            token = _constant(self.state.issue_tokens(self.identity)["access_token"])
        return FreshBooksClient(
            BASE,
            self.account if account == "" else account,
            token,
            http=self.recording_client(self.transport(timeout_s)),
            budget=self.budget(limit),
            retry=self.retry(),
        )

    def tokens(self, secret: str = CLIENT_SECRET) -> FreshBooksTokens:
        return FreshBooksTokens(
            CLIENT_ID,
            secret,
            redirect_uri=REDIRECT,
            base_url=BASE,
            http=self.recording_client(self.transport()),
            budget=self.budget(),
            retry=self.retry(),
            clock=self.fake.utcnow,
        )

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport(), base_url=f"{BASE}/_sandbox")

    def draft(self, reference: str = "tb-inv-42", qty: str = "1.5") -> InvoiceDraft:
        cost = Money(amount=Decimal("120.00"), code="USD")
        line = Line(
            name="Website", description="T-1 Fix the login page", qty=Decimal(qty), unit_cost=cost
        )
        return InvoiceDraft(
            customerid=self.customer,
            create_date=DAY,
            currency_code="USD",
            po_number=reference,
            lines=(line,),
            notes="Exported by Timebridge",
        )


@pytest.fixture
def world() -> World:
    fake, receiver, faults = FakeTime(), Receiver(), Faults(clock=FakeTime().clock)
    faults.clock = fake.clock
    state = FreshBooksState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, now=fake.utcnow)
    account = state.add_business("Acme Studio")
    employee_account = state.add_business("Bayern Corporation")
    foreign_account = state.add_business("Somebody Else")
    identity = state.add_identity(
        "Ann", "Admin", "ann@acme.test", {account: "owner", employee_account: "business_employee"}
    )
    state.add_identity("Sam", "Other", "sam@else.test", {foreign_account: "owner"})
    customer = state.add_client(
        account,
        fname="Gordon",
        lname="Shumway",
        organization="American Cyanamid",
        email="gordon@cyanamid.test",
        p_street="123 Huron St",
        p_city="Toronto",
        p_code="M5T 2B3",
        p_province="ON",
        p_country="Canada",
        currency_code="USD",
    )
    sandbox = create_freshbooks_sandbox(
        state,
        faults,
        rate_limit=RateLimit(*RATE_LIMIT, clock=fake.clock),
        webhook_transport=httpx.ASGITransport(receiver.app),
    )
    return World(
        state,
        faults,
        fake,
        receiver,
        sandbox,
        account,
        employee_account,
        foreign_account,
        identity,
        customer,
    )


async def test_oauth_code_exchange_and_refresh_rotation_through_the_token_manager(
    world: World,
) -> None:
    url = authorize_url(CLIENT_ID, REDIRECT, state="st-81", base_url=f"{BASE}/oauth/authorize")
    async with httpx.AsyncClient(transport=world.transport()) as browser:
        consent = await browser.get(url)
    assert consent.status_code == 302
    landing = httpx.URL(consent.headers["location"])
    assert (str(landing.copy_with(query=None)), landing.params["state"]) == (REDIRECT, "st-81")

    endpoint = world.tokens()
    tokens = await endpoint.exchange_code(landing.params["code"], REDIRECT)
    assert tokens.expires_at == world.fake.utcnow() + dt.timedelta(hours=12)
    with pytest.raises(ReauthorizationNeededError):
        await endpoint.exchange_code(landing.params["code"], REDIRECT)
    sent = world.sent[0]
    assert (sent.url.path, sent.headers["content-type"]) == (
        "/auth/oauth/token",
        "application/json",
    )

    store = MemoryTokenStore({"fb-1": tokens})
    manager = TokenManager(endpoint, store, clock=world.fake.utcnow)
    client = world.client(manager.access_token("fb-1"))
    assert (await client.me()).identity_id == world.identity
    assert store.tokens["fb-1"] == tokens

    world.fake.now += 12 * HOUR - 60
    assert (await client.me()).identity_id == world.identity
    rotated = store.tokens["fb-1"]
    assert rotated.refresh_token != tokens.refresh_token
    assert rotated.expires_at == world.fake.utcnow() + dt.timedelta(hours=12)
    assert world.sent[-1].headers["authorization"] == f"Bearer {rotated.access_token}"

    with pytest.raises(ReauthorizationNeededError):
        await endpoint.refresh(tokens.refresh_token)
    with pytest.raises(AuthenticationError) as revoked:
        await world.client(_constant(tokens.access_token)).me()
    assert revoked.value.status == 401
    with pytest.raises(AuthenticationError) as wrong_secret:
        await world.tokens("not-the-secret").refresh(rotated.refresh_token)
    assert wrong_secret.value.status == 401
    assert store.tokens["fb-1"] == rotated


async def test_the_account_id_addresses_accounting_and_the_business_id_is_kept(
    world: World,
) -> None:
    me = await world.client(account=None).me()
    assert (me.email, me.first_name) == ("ann@acme.test", "Ann")
    assert [(m.role, m.business.name) for m in me.business_memberships] == [
        ("owner", "Acme Studio"),
        ("business_employee", "Bayern Corporation"),
    ]
    acme = me.business(world.account)
    assert acme is not None
    assert (acme.account_id, acme.id) == (world.account, world.state.businesses[world.account].id)
    assert me.business(world.foreign_account) is None

    employee = me.business(world.employee_account)
    assert employee is not None
    assert [c async for c in world.client(account=employee.account_id).clients()] == []
    with pytest.raises(AuthenticationError) as foreign:
        await world.client(account=world.foreign_account).client(world.customer)
    assert foreign.value.status == 403
    with pytest.raises(ValueError, match="account"):
        await world.client(account=None).client(world.customer)


async def test_clients_are_read_page_by_page_active_only_and_changed_since(world: World) -> None:
    for n in range(5):
        world.state.add_client(world.account, organization=f"Client {n}", email=f"c{n}@x.test")
    archived = world.state.add_client(world.account, organization="Archived", vis_state=2)
    world.state.add_client(world.account, organization="Deleted", vis_state=1)
    world.state.add_client(world.foreign_account, organization="Not ours")
    client = world.client()

    world.sent.clear()
    active = [c async for c in client.clients(page_size=2)]
    assert [c.name for c in active] == ["American Cyanamid"] + [f"Client {n}" for n in range(5)]
    assert [(r.url.params["page"], r.url.params["per_page"]) for r in world.sent] == [
        ("1", "2"),
        ("2", "2"),
        ("3", "2"),
    ]
    assert {r.url.params["search[vis_state]"] for r in world.sent} == {"0"}
    visible = [c.id async for c in client.clients(vis_state=None)]
    assert len(visible) == 7
    assert archived in visible

    gordon = await client.client(world.customer)
    assert (gordon.fname, gordon.p_street, gordon.p_country, gordon.vis_state) == (
        "Gordon",
        "123 Huron St",
        "Canada",
        VisState.ACTIVE,
    )
    assert gordon.updated == world.fake.utcnow()

    since = world.fake.utcnow() + dt.timedelta(minutes=30)
    world.fake.now += HOUR
    async with world.admin() as admin:
        renamed = await admin.patch(f"/clients/{world.customer}", json={"organization": "Cyanamid"})
        assert renamed.status_code == 200
        await admin.patch(f"/clients/{archived}", json={"vis_state": 1})
    world.sent.clear()
    changed = [c async for c in client.clients(vis_state=None, updated_since=since)]
    assert [(c.id, c.name) for c in changed] == [(world.customer, "Cyanamid")]
    assert world.sent[0].url.params["search[updated_min]"] == "2026-11-21"
    deleted = [c.id async for c in client.clients(vis_state=VisState.DELETED, updated_since=since)]
    assert deleted == [archived]

    world.sent.clear()
    late_evening_in_toronto = dt.datetime(2026, 11, 21, 3, tzinfo=dt.UTC)
    assert len([c async for c in client.clients(updated_since=late_evening_in_toronto)]) == 6
    assert world.sent[0].url.params["search[updated_min]"] == "2026-11-20"


async def test_a_draft_invoice_is_created_once_when_its_answer_is_lost(world: World) -> None:
    client = world.client(timeout_s=2.0)
    world.faults.lose_next_responses(1, delay_s=6.0)
    invoice = await client.ensure_invoice(world.draft())

    assert list(world.state.invoices) == [invoice.id]
    assert [r.method for r in world.sent].count("POST") == 1
    assert (invoice.status, invoice.v3_status, invoice.po_number) == (
        InvoiceStatus.DRAFT,
        "draft",
        "tb-inv-42",
    )
    assert (invoice.customerid, invoice.create_date, invoice.currency_code) == (
        world.customer,
        DAY,
        "USD",
    )
    assert invoice.amount == Money(amount=Decimal("180.00"), code="USD")
    (line,) = invoice.lines
    assert (line.name, line.qty, line.unit_cost.amount) == ("Website", Decimal("1.5"), Decimal(120))
    assert invoice.invoice_number == "0000001"

    again = await client.ensure_invoice(world.draft())
    assert again.id == invoice.id
    assert [r.method for r in world.sent].count("POST") == 1
    lookups = {r.url.params.get("search[vis_state]") for r in world.sent if r.method == "GET"}
    assert lookups == {None, "1"}


async def test_a_create_failed_by_a_5xx_is_raised_and_the_retry_looks_up_first(
    world: World,
) -> None:
    client = world.client()
    world.faults.fail_next(1, status=502)
    with pytest.raises(OutcomeUnknownError):
        await client.create_invoice(world.draft())
    assert world.state.invoices == {}
    assert world.answers == [502]

    created = await client.ensure_invoice(world.draft())
    other = await client.ensure_invoice(world.draft("tb-inv-43", qty="2"))
    assert (created.po_number, other.po_number) == ("tb-inv-42", "tb-inv-43")
    assert len(world.state.invoices) == 2
    assert await client.find_invoice_by_reference(world.customer, "tb-inv-44") is None


async def test_number_date_amount_and_status_changes_are_read_back(world: World) -> None:
    client = world.client()
    exported = await client.ensure_invoice(world.draft())
    since = world.fake.utcnow() + dt.timedelta(seconds=1)
    world.fake.now += 600
    async with world.admin() as admin:
        edit = {
            "invoice_number": "INV-2026-007",
            "create_date": "2026-11-22",
            "lines": [{"name": "Website", "qty": 2, "unit_cost": {"amount": "130.00"}}],
        }
        assert (await admin.patch(f"/invoices/{exported.id}", json=edit)).status_code == 200
        assert (await admin.post(f"/invoices/{exported.id}/sent")).status_code == 200
        sent = await client.invoice(exported.id)
        assert (sent.status, sent.v3_status) == (InvoiceStatus.SENT, "sent")
        assert (await admin.post(f"/invoices/{exported.id}/paid")).status_code == 200

    current = await client.invoice(exported.id)
    assert (current.invoice_number, current.create_date) == ("INV-2026-007", dt.date(2026, 11, 22))
    assert current.amount.amount == Decimal("260.00") != exported.amount.amount
    assert (current.status, current.v3_status, current.payment_status) == (
        InvoiceStatus.PAID,
        "paid",
        "paid",
    )
    assert current.outstanding == Money(amount=Decimal(0), code="USD")
    assert [i.id async for i in client.invoices(updated_since=since)] == [exported.id]
    later = world.fake.utcnow() + dt.timedelta(seconds=1)
    assert [i.id async for i in client.invoices(updated_since=later)] == []


async def test_deleted_invoices_read_as_deleted_and_are_never_exported_again(
    world: World,
) -> None:
    client = world.client()
    first = await client.ensure_invoice(world.draft("tb-inv-1"))
    second = await client.ensure_invoice(world.draft("tb-inv-2"))
    since = world.fake.utcnow()
    world.fake.now += 60
    async with world.admin() as admin:
        assert (await admin.delete(f"/invoices/{first.id}")).status_code == 200
    deleted = await client.delete_invoice(second.id)
    assert deleted.deleted
    assert (await client.delete_invoice(second.id)).vis_state == VisState.DELETED

    changed = {i.id: i.vis_state async for i in client.invoices(updated_since=since)}
    assert changed == {first.id: VisState.DELETED, second.id: VisState.DELETED}
    assert (await client.invoice(first.id)).deleted
    assert (await client.ensure_invoice(world.draft("tb-inv-1"))).id == first.id
    assert len(world.state.invoices) == 2
    with pytest.raises(NotFoundError):
        await client.invoice(999)
    with pytest.raises(ProviderError) as unknown_client:
        await client.create_invoice(world.draft().model_copy(update={"customerid": 4242}))
    assert (unknown_client.value.status, "Client not found" in unknown_client.value.body) == (
        400,
        True,
    )


async def test_a_put_with_vis_state_drops_its_other_fields_as_freshbooks_does(
    world: World,
) -> None:
    invoice = await world.client().ensure_invoice(world.draft())
    token = world.state.issue_tokens(world.identity)["access_token"]
    path = f"/accounting/account/{world.account}/invoices/invoices/{invoice.id}"
    async with httpx.AsyncClient(
        transport=world.transport(), base_url=BASE, headers={"Authorization": f"Bearer {token}"}
    ) as raw:
        await raw.put(path, json={"invoice": {"vis_state": 1, "notes": "dropped"}})
        restored = await raw.put(path, json={"invoice": {"vis_state": 0, "notes": "dropped"}})
        noted = await raw.put(path, json={"invoice": {"notes": "kept"}})
        sent = await raw.put(path, json={"invoice": {"action_mark_as_sent": True, "notes": "x"}})
    assert [r.status_code for r in (restored, noted, sent)] == [200, 200, 200]
    assert restored.json()["response"]["result"]["invoice"]["notes"] == "Exported by Timebridge"
    assert noted.json()["response"]["result"]["invoice"]["notes"] == "kept"
    current = await world.client().invoice(invoice.id)
    assert (current.vis_state, current.notes, current.status) == (VisState.ACTIVE, "kept", 2)


async def test_a_callback_is_verified_then_deliveries_are_signed(world: World) -> None:
    client = world.client()
    callback = await client.create_callback("invoice", HOOK)
    assert (callback.event, callback.uri, callback.verified) == ("invoice", HOOK, False)
    (verification,) = world.receiver.verifications()
    assert verification.object_id == callback.callbackid
    assert verification.verifier is not None
    verifier = verification.verifier

    await client.ensure_invoice(world.draft())
    assert world.receiver.events() == []
    with pytest.raises(ProviderError) as wrong:
        await client.verify_callback(callback.callbackid, "not-it")
    assert wrong.value.status == 422
    await client.resend_verification(callback.callbackid)
    assert [v.verifier for v in world.receiver.verifications()] == [verifier, verifier]
    assert (await client.verify_callback(callback.callbackid, verifier)).verified
    assert [(c.callbackid, c.verified) for c in await client.callbacks()] == [
        (callback.callbackid, True)
    ]

    created = await client.ensure_invoice(world.draft("tb-inv-2"))
    async with world.admin() as admin:
        await admin.post(f"/invoices/{created.id}/sent")
    events = world.receiver.events()
    assert [(d.name, d.object_id) for d, _, _ in events] == [
        ("invoice.create", created.id),
        ("invoice.update", created.id),
    ]
    delivery, fields, signature = events[0]
    business = world.state.businesses[world.account]
    assert (delivery.account_id, delivery.business_id, delivery.identity_id) == (
        world.account,
        business.id,
        world.identity,
    )
    assert [key for key, _ in fields] == [
        "name",
        "object_id",
        "account_id",
        "business_id",
        "identity_id",
        "user_id",
    ]
    assert verify_webhook(verifier, fields, signature)
    assert not verify_webhook("another-verifier", fields, signature)
    assert not verify_webhook(verifier, [*fields[:1], ("object_id", "1"), *fields[2:]], signature)
    assert not verify_webhook(verifier, list(reversed(fields)), signature)
    assert not verify_webhook(verifier, fields, None)

    await client.delete_callback(callback.callbackid)
    assert await client.callbacks() == []
    with pytest.raises(ProviderError) as bad_event:
        await client.create_callback("invoice.explode", HOOK)
    assert bad_event.value.status == 422


def test_the_signature_is_freshbooks_documented_one() -> None:
    """A known answer of FreshBooks' Python snippet, with the SDK docs' example form."""
    fields = {
        "name": "invoice.create",
        "object_id": "1234567",
        "account_id": "6BApk",
        "business_id": "6543",
        "identity_id": "1234",
        "user_id": "1",
    }
    expected = "tTJRodOET/n9SiZYWDOAp/2V8SYeFhS9HRr+HKqJEh8="
    assert webhook_signature("s3cr3t-verifier", fields) == expected
    assert verify_webhook("s3cr3t-verifier", list(fields.items()), expected)


async def test_a_429_storm_is_waited_out_as_told(world: World) -> None:
    world.faults.rate_limit_storm(requests=2, retry_after_s=7)
    client = world.client()
    assert (await client.me()).identity_id == world.identity
    assert world.answers == [429, 429, 200]
    assert world.fake.sleeps == [7.0, 7.0]


async def test_the_sandbox_limits_each_user_and_the_budget_stays_under_it(world: World) -> None:
    client = world.client()
    for _ in range(70):
        await client.client(world.customer)
    assert 429 not in world.answers
    assert world.fake.now >= 70.0

    greedy = world.client(limit=300)
    for _ in range(70):
        await greedy.client(world.customer)
    assert world.answers.count(429) > 0
    assert world.answers.count(200) == 140


async def test_over_real_http_consent_verification_and_a_signed_delivery() -> None:
    state, receiver = FreshBooksState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET), Receiver()
    account = state.add_business("Acme Studio")
    state.add_identity("Ann", "Admin", "ann@acme.test", {account: "owner"})
    customer = state.add_client(account, organization="American Cyanamid")
    async with (
        serve(create_freshbooks_sandbox(state)) as freshbooks_url,
        serve(receiver.app) as receiver_url,
        httpx.AsyncClient(base_url=freshbooks_url) as http,
    ):
        consent = await http.get(authorize_url(CLIENT_ID, REDIRECT, base_url="/oauth/authorize"))
        code = httpx.URL(consent.headers["location"]).params["code"]
        tokens = await FreshBooksTokens(
            CLIENT_ID, CLIENT_SECRET, base_url=freshbooks_url
        ).exchange_code(code, REDIRECT)
        async with FreshBooksClient(
            freshbooks_url, account, _constant(tokens.access_token)
        ) as client:
            callback = await client.create_callback(
                "invoice.update", f"{receiver_url}/hooks/freshbooks/a1"
            )
            async with asyncio.timeout(5):
                await receiver.arrived.wait()
            (verification,) = receiver.verifications()
            assert verification.verifier is not None
            await client.verify_callback(callback.callbackid, verification.verifier)

            receiver.arrived.clear()
            invoice = await client.ensure_invoice(
                InvoiceDraft(
                    customerid=customer,
                    create_date=DAY,
                    currency_code="USD",
                    po_number="tb-inv-9",
                    lines=(Line(name="Work", unit_cost=Money(amount=Decimal(90), code="USD")),),
                )
            )
            assert (await http.post(f"/_sandbox/invoices/{invoice.id}/viewed")).status_code == 200
            async with asyncio.timeout(5):
                await receiver.arrived.wait()
        ((delivery, fields, signature),) = receiver.events()
        assert (delivery.name, delivery.object_id) == ("invoice.update", invoice.id)
        assert verify_webhook(verification.verifier, fields, signature)
        deliveries = (await http.get("/_sandbox/deliveries")).json()
        assert [(d["form"]["name"], d["signed"], d["status"]) for d in deliveries] == [
            ("callback.verify", False, 200),
            ("invoice.update", True, 200),
        ]
