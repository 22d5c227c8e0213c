"""The Xero sandbox driven by Xero's own Python SDK (xero-python), as a new user would drive Xero.

Every Accounting request and answer is checked against Xero's OpenAPI file (``SpecChecked``);
webhook payloads against ``xero-webhooks.yaml``. The SDK talks HTTP to a real loopback server:
only its hosts are overridden (``base_url``, ``TokenApi.refresh_token_url``).
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from xero_python.accounting import (  # type: ignore[import-untyped]
    Account,
    AccountingApi,
    Contact,
    Contacts,
    Invoice,
    Invoices,
    LineItem,
    Payment,
    PaymentDelete,
    Payments,
)
from xero_python.api_client import ApiClient, Configuration  # type: ignore[import-untyped]
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi  # type: ignore[import-untyped]
from xero_python.exceptions import (  # type: ignore[import-untyped]
    ApiException,
    BadRequestException,
    NotFoundException,
    RateLimitException,
)
from xero_python.identity import IdentityApi  # type: ignore[import-untyped]

from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import provider_specs, serve_in_thread
from timebridge_sandboxes.xero import XeroState, create_xero_sandbox
from timebridge_sandboxes.xero.spec import ACCOUNTING_SPEC, SpecChecked, webhook_problems

SPECS = provider_specs()
pytestmark = pytest.mark.skipif(
    not (SPECS / ACCOUNTING_SPEC).exists(), reason=f"Xero's OpenAPI files are not in {SPECS}"
)
CLIENT_ID, CLIENT_SECRET = "sdk-client-71c2", "sdk-secret-4be0"
REDIRECT = "http://127.0.0.1:9/callback"
SCOPES = [
    "offline_access",
    "accounting.transactions",
    "accounting.contacts",
    "accounting.settings.read",
]
HOOK_URL, HOOK_KEY = "http://receiver.test/xero", "hook-key-5d1f"


@dataclass
class World:
    base: str
    state: XeroState
    tenant: str
    checked: SpecChecked
    tokens: dict[str, Any]
    client: ApiClient
    accounting: AccountingApi
    identity: IdentityApi
    hooks: list[tuple[bytes, str]] = field(default_factory=list)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10)

    def bearer(self, tenant: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens['access_token']}",
            "xero-tenant-id": tenant or self.tenant,
            "Accept": "application/json",
        }

    def exchanges(self, path: str) -> list[Any]:
        return [e for e in self.checked.exchanges if e.path == path]


def _connect(base: str) -> dict[str, Any]:
    """The user consents in the browser; the app exchanges the code (Basic client auth)."""
    with httpx.Client(base_url=base, timeout=10) as http:
        consent = http.get(
            "/identity/connect/authorize",
            params={
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT,
                "scope": " ".join(SCOPES),
                "state": "s1",
            },
        )
        code = httpx.URL(consent.headers["location"]).params["code"]
        answer = http.post(
            "/connect/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        answer.raise_for_status()
        tokens: dict[str, Any] = answer.json()
        return tokens


def _sdk(base: str, tokens: dict[str, Any]) -> tuple[ApiClient, AccountingApi, IdentityApi]:
    # xero-python keeps the first Configuration ever built as a default and hands out
    # copies of it, ignoring later arguments: forget it, so this one's credentials count.
    Configuration.set_default(None)
    client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)),
        pool_threads=1,
    )
    client.oauth2_token_getter(lambda: {**tokens, "scope": SCOPES})
    client.oauth2_token_saver(tokens.update)
    return client, AccountingApi(client, base_url=f"{base}/api.xro/2.0"), IdentityApi(client, base)


@pytest.fixture
def make_world() -> Iterator[Callable[..., World]]:
    worlds: list[World] = []
    with_servers: list[Any] = []

    def make(rate_limit: RateLimit | None = None) -> World:
        state = XeroState()
        state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
        tenant = state.add_tenant("Demo Company (Global)")
        hooks: list[tuple[bytes, str]] = []

        async def receive(request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            signature = request.headers.get("x-xero-signature", "")
            mac = hmac.new(HOOK_KEY.encode(), body, hashlib.sha256).digest()
            if not hmac.compare_digest(base64.b64encode(mac).decode(), signature):
                return httpx.Response(401)
            hooks.append((body, signature))
            return httpx.Response(200)

        app = create_xero_sandbox(
            state, rate_limit=rate_limit, webhook_transport=httpx.MockTransport(receive)
        )
        checked = SpecChecked(app, SPECS)
        server = serve_in_thread(checked)
        base = server.__enter__()
        with_servers.append(server)
        tokens = _connect(base)
        client, accounting, identity = _sdk(base, tokens)
        world = World(base, state, tenant, checked, tokens, client, accounting, identity, hooks)
        worlds.append(world)
        return world

    try:
        yield make
    finally:
        for server in reversed(with_servers):
            server.__exit__(None, None, None)
    for world in worlds:
        assert world.checked.problems == []


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


def _error(exc: ApiException) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(exc.body)
    return found


def _customer(world: World, name: str) -> Any:
    created = world.accounting.create_contacts(
        world.tenant, Contacts(contacts=[Contact(name=name)])
    )
    return created.contacts[0]


def _invoice(world: World, contact_id: str, *, status: str = "DRAFT", amount: float = 100) -> Any:
    line = LineItem(description="Consulting", quantity=2.0, unit_amount=amount / 2)
    line.account_code = "200"
    invoice = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact_id),
        date=dt.date(2026, 11, 20),
        due_date=dt.date(2026, 12, 20),
        line_items=[line],
        status=status,
        reference="PO-1",
    )
    return world.accounting.create_invoices(world.tenant, Invoices(invoices=[invoice])).invoices[0]


def test_connections_in_xeros_documented_case_and_the_sdks(world: World) -> None:
    """Xero documents ``GET /connections``; xero-python asks ``/Connections``: both answer."""
    sdk = world.identity.get_connections()
    assert [c.tenant_id for c in sdk] == [world.tenant]
    assert world.exchanges("/Connections")[0].status == 200
    with world.http() as http:
        documented = http.get("/connections", headers=world.bearer())
        one_event = http.get(
            "/connections",
            headers=world.bearer(),
            params={"authEventId": str(sdk[0].auth_event_id)},
        )
    assert documented.status_code == 200
    assert [c["tenantId"] for c in documented.json()] == [world.tenant]
    assert [c["id"] for c in one_event.json()] == [str(sdk[0].id)]


def test_contacts_put_post_update_and_the_ids_where_order_page_filters(world: World) -> None:
    created = world.accounting.create_contacts(
        world.tenant,
        Contacts(
            contacts=[
                Contact(name="Initech", email_address="ap@initech.example"),
                Contact(name="Hooli", contact_number="C-7"),
            ]
        ),
    ).contacts
    initech, hooli = created
    first = world.exchanges("/api.xro/2.0/Contacts")[0]
    assert first.method == "PUT"
    assert first.answer_headers["x-minlimit-remaining"] == "59"
    assert first.answer_headers["x-daylimit-remaining"] == "4999"

    saved = world.accounting.update_or_create_contacts(
        world.tenant,
        Contacts(
            contacts=[
                Contact(contact_id=initech.contact_id, name="Initech Ltd"),
                Contact(name="Pied Piper"),
            ]
        ),
    ).contacts
    assert saved[0].contact_id == initech.contact_id
    assert saved[0].name == "Initech Ltd"
    piper = saved[1]
    assert world.exchanges("/api.xro/2.0/Contacts")[1].method == "POST"

    world.accounting.update_contact(
        world.tenant,
        hooli.contact_id,
        Contacts(contacts=[Contact(contact_number="C-7", email_address="x@hooli.example")]),
    )

    by_ids = world.accounting.get_contacts(
        world.tenant, i_ds=[initech.contact_id, piper.contact_id]
    )
    assert {c.name for c in by_ids.contacts} == {"Initech Ltd", "Pied Piper"}
    where = 'Name.StartsWith("pied") OR EmailAddress=="x@hooli.example"'
    filtered = world.accounting.get_contacts(world.tenant, where=where)
    assert {c.name for c in filtered.contacts} == {"Pied Piper", "Hooli"}
    page = world.accounting.get_contacts(world.tenant, order="Name DESC", page=1, page_size=2)
    assert [c.name for c in page.contacts] == ["Pied Piper", "Initech Ltd"]
    assert page.pagination.item_count == 3
    assert page.pagination.page_count == 2

    world.accounting.update_contact(
        world.tenant, piper.contact_id, Contacts(contacts=[Contact(contact_status="ARCHIVED")])
    )
    active = world.accounting.get_contacts(world.tenant)
    everyone = world.accounting.get_contacts(world.tenant, include_archived=True)
    assert len(active.contacts) == 2
    assert len(everyone.contacts) == 3

    with pytest.raises(BadRequestException) as refused:
        world.accounting.create_contacts(world.tenant, Contacts(contacts=[Contact(name="hooli")]))
    body = _error(refused.value)
    assert body["Type"] == "ValidationException"
    assert body["ErrorNumber"] == 10
    assert body["Elements"][0]["Name"] == "hooli"
    assert "already assigned" in body["Elements"][0]["ValidationErrors"][0]["Message"]


def test_invoice_dates_as_the_sdk_writes_them_update_and_void(world: World) -> None:
    contact = _customer(world, "Globex")
    draft = _invoice(world, contact.contact_id)
    sent = json.loads(world.exchanges("/api.xro/2.0/Invoices")[0].body)
    assert sent["Invoices"][0]["Date"] == "/Date(1795132800000)/"
    assert draft.date == dt.date(2026, 11, 20)
    assert draft.due_date == dt.date(2026, 12, 20)

    # the invoice as read, sent back: read-only fields and UpdatedDateUTC "/Date(ms+0000)/"
    fetched = world.accounting.get_invoice(world.tenant, draft.invoice_id).invoices[0]
    fetched.reference = "PO-2"
    world.accounting.update_invoice(world.tenant, draft.invoice_id, Invoices(invoices=[fetched]))
    resent = json.loads(world.exchanges(f"/api.xro/2.0/Invoices/{draft.invoice_id}")[-1].body)
    assert resent["Invoices"][0]["UpdatedDateUTC"].endswith("+0000)/")
    with world.http() as http:
        raw = http.post(
            f"/api.xro/2.0/Invoices/{draft.invoice_id}",
            headers=world.bearer(),
            json={"Invoices": [{"Date": "/Date(1700000000000+0000)/", "DueDate": "2023-12-14"}]},
        )
    assert raw.status_code == 200, raw.text
    assert raw.json()["Invoices"][0]["Date"] == "/Date(1699920000000+0000)/"
    assert raw.json()["Invoices"][0]["Reference"] == "PO-2"

    approved = Invoices(invoices=[Invoice(status="AUTHORISED")])
    world.accounting.update_invoice(world.tenant, draft.invoice_id, approved)
    voided = world.accounting.update_invoice(
        world.tenant, draft.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
    ).invoices[0]
    assert voided.status == "VOIDED"

    other = _invoice(world, contact.contact_id)
    world.accounting.update_invoice(
        world.tenant, other.invoice_id, Invoices(invoices=[Invoice(status="DELETED")])
    )
    listed = world.accounting.get_invoices(world.tenant)
    assert [i.invoice_id for i in listed.invoices] == [draft.invoice_id]
    deleted = world.accounting.get_invoices(world.tenant, statuses=["DELETED"])
    assert [i.invoice_id for i in deleted.invoices] == [other.invoice_id]
    chosen = world.accounting.get_invoices(
        world.tenant,
        i_ds=[draft.invoice_id, other.invoice_id],
        statuses=["VOIDED", "DELETED"],
        where='Contact.ContactID==guid("' + str(contact.contact_id) + '") AND Total>=100',
        order="Status DESC",
        page=1,
    )
    assert [i.status for i in chosen.invoices] == ["VOIDED", "DELETED"]
    assert chosen.invoices[0].line_items  # a paged read carries the lines

    with pytest.raises(BadRequestException) as refused:
        world.accounting.update_invoice(
            world.tenant, draft.invoice_id, Invoices(invoices=[Invoice(status="AUTHORISED")])
        )
    assert "VOIDED" in _error(refused.value)["Elements"][0]["ValidationErrors"][0]["Message"]


def test_look_ups_by_number_search_terms_and_the_chart_of_accounts(world: World) -> None:
    created = world.accounting.create_contacts(
        world.tenant, Contacts(contacts=[Contact(name="Vandelay Industries", contact_number="V-1")])
    ).contacts[0]
    by_number = world.accounting.get_contact_by_contact_number(world.tenant, "V-1")
    assert by_number.contacts[0].contact_id == created.contact_id
    searched = world.accounting.get_contacts(world.tenant, search_term="vandelay")
    assert [c.contact_id for c in searched.contacts] == [created.contact_id]

    invoice = _invoice(world, created.contact_id)
    found = world.accounting.get_invoices(world.tenant, search_term="po-1")
    assert [i.invoice_id for i in found.invoices] == [invoice.invoice_id]

    banks = world.accounting.get_accounts(world.tenant, where='Type=="BANK"').accounts
    assert [(a.code, a.type.value) for a in banks] == [("090", "BANK")]
    payment = Payment(
        invoice=Invoice(invoice_id=invoice.invoice_id),
        account=Account(account_id=banks[0].account_id),
        amount=1.0,
    )
    world.accounting.update_invoice(
        world.tenant, invoice.invoice_id, Invoices(invoices=[Invoice(status="AUTHORISED")])
    )
    paid = world.accounting.create_payment(world.tenant, payment).payments[0]
    assert paid.account.code == "090"


def test_summarize_errors_false_answers_every_element(world: World) -> None:
    contact = _customer(world, "Soylent")
    good = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact.contact_id),
        line_items=[LineItem(description="Hours", quantity=1.0, unit_amount=10.0)],
    )
    bad = Invoice(type="ACCREC", line_items=[LineItem(description="No contact")])
    answered = world.accounting.create_invoices(
        world.tenant, Invoices(invoices=[good, bad]), summarize_errors=False
    ).invoices
    assert [i.status_attribute_string for i in answered] == ["OK", "ERROR"]
    assert answered[0].invoice_id is not None
    assert answered[1].validation_errors[0].message.startswith("A Contact")
    with pytest.raises(BadRequestException):
        world.accounting.create_invoices(world.tenant, Invoices(invoices=[bad]))


def test_if_modified_since_as_the_sdk_sends_it(world: World) -> None:
    old = _customer(world, "Old Customer")
    time.sleep(0.01)
    since = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    new = _customer(world, "New Customer")
    changed = world.accounting.get_contacts(world.tenant, if_modified_since=since)
    assert [c.contact_id for c in changed.contacts] == [new.contact_id]
    header = world.exchanges("/api.xro/2.0/Contacts")[-1].headers["if-modified-since"]
    assert header.startswith(since.isoformat()[:19])
    documented = since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with world.http() as http:
        answer = http.get(
            "/api.xro/2.0/Contacts", headers={**world.bearer(), "If-Modified-Since": documented}
        )
    assert [c["ContactID"] for c in answer.json()["Contacts"]] == [new.contact_id]
    assert old.contact_id != new.contact_id


def test_payments_create_list_delete(world: World) -> None:
    contact = _customer(world, "Umbrella")
    invoice = _invoice(world, contact.contact_id, status="AUTHORISED", amount=100)
    first = world.accounting.create_payment(
        world.tenant,
        Payment(
            invoice=Invoice(invoice_id=invoice.invoice_id),
            account=Account(code="090"),
            amount=40.0,
            date=dt.date(2026, 11, 21),
        ),
    ).payments[0]
    assert world.exchanges("/api.xro/2.0/Payments")[0].method == "POST"
    second = world.accounting.create_payments(
        world.tenant,
        Payments(
            payments=[
                Payment(
                    invoice=Invoice(invoice_number=invoice.invoice_number),
                    account=Account(code="090"),
                    amount=60.0,
                )
            ]
        ),
    ).payments[0]
    paid = world.accounting.get_invoice(world.tenant, invoice.invoice_id).invoices[0]
    assert paid.status == "PAID"
    assert paid.amount_due == Decimal(0)
    assert first.date == dt.date(2026, 11, 21)

    where = f'Invoice.InvoiceID==guid("{invoice.invoice_id}")'
    listed = world.accounting.get_payments(world.tenant, where=where, order="Amount")
    assert [p.amount for p in listed.payments] == [40.0, 60.0]

    with pytest.raises(BadRequestException) as refused:
        world.accounting.create_payment(
            world.tenant,
            Payment(
                invoice=Invoice(invoice_id=invoice.invoice_id),
                account=Account(code="999"),
                amount=1.0,
            ),
        )
    assert "999" in _error(refused.value)["Elements"][0]["ValidationErrors"][0]["Message"]

    world.accounting.delete_payment(
        world.tenant, second.payment_id, PaymentDelete(status="DELETED")
    )
    reopened = world.accounting.get_invoice(world.tenant, invoice.invoice_id).invoices[0]
    assert reopened.status == "AUTHORISED"
    assert reopened.amount_due == Decimal(60)
    gone = world.accounting.get_payment(world.tenant, second.payment_id).payments[0]
    assert gone.status == "DELETED"
    with pytest.raises(BadRequestException):
        world.accounting.update_invoice(
            world.tenant, invoice.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
        )
    with pytest.raises(NotFoundException):
        world.accounting.get_payment(world.tenant, "00000000-0000-0000-0000-000000000000")


def test_refresh_with_credentials_in_the_body_and_in_basic_auth(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TokenApi, "refresh_token_url", f"{world.base}/connect/token")
    first = dict(world.tokens)
    refreshed = world.client.refresh_oauth2_token()
    assert refreshed["access_token"] != first["access_token"]
    exchange = world.exchanges("/connect/token")[-1]
    assert exchange.status == 200
    assert "authorization" not in exchange.headers
    assert f"client_secret={CLIENT_SECRET}".encode() in exchange.body
    assert world.accounting.get_contacts(world.tenant).contacts == []  # the new token works

    with world.http() as http:
        basic = http.post(
            "/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        disagreeing = http.post(
            "/connect/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": basic.json()["refresh_token"],
                "client_id": CLIENT_ID,
                "client_secret": "not-the-secret",
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert basic.status_code == 200
    assert basic.json()["refresh_token"]
    assert (disagreeing.status_code, disagreeing.json()) == (401, {"error": "invalid_client"})


def test_revoking_the_refresh_token_disconnects(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TokenApi, "revoke_token_url", f"{world.base}/connect/revocation")
    before = world.bearer()
    with world.http() as http:
        assert http.get("/connections", headers=before).status_code == 200
    world.client.revoke_oauth2_token()
    exchange = world.exchanges("/connect/revocation")[-1]
    assert exchange.status == 200
    assert f"client_id={CLIENT_ID}".encode() in exchange.body
    assert world.state.connections == {}
    with world.http() as http:
        gone = http.get("/connections", headers=before)
    assert gone.status_code == 401


def test_xeros_documented_error_bodies(make_world: Callable[..., World]) -> None:
    world = make_world(rate_limit=RateLimit(3, 2.0))
    with world.http() as http:
        unauthorised = http.get(
            "/api.xro/2.0/Contacts",
            headers={**world.bearer(), "Authorization": "Bearer not-a-token"},
        )
        not_connected = http.get("/api.xro/2.0/Contacts", headers=world.bearer("other-tenant"))
    assert unauthorised.status_code == 401
    problem = unauthorised.json()
    assert {k: problem[k] for k in ("Type", "Title", "Status", "Detail")} == {
        "Type": None,
        "Title": "Unauthorized",
        "Status": 401,
        "Detail": "AuthenticationUnsuccessful",
    }
    assert problem["Instance"]
    assert problem["Extensions"] == {}
    assert not_connected.status_code == 403

    with pytest.raises(BadRequestException) as invalid:
        world.accounting.create_invoices(
            world.tenant, Invoices(invoices=[Invoice(type="ACCREC", line_items=[])])
        )
    body = _error(invalid.value)
    assert body["Message"] == "A validation exception occurred"
    assert body["Elements"][0]["Type"] == "ACCREC"
    assert body["Elements"][0]["ValidationErrors"][0]["Message"].startswith("A Contact")

    # the 4th call within the window is refused; the SDK (urllib3) waits Retry-After and retries
    for _ in range(3):
        world.accounting.get_contacts(world.tenant)
    refusals = [e for e in world.exchanges("/api.xro/2.0/Contacts") if e.status == 429]
    assert refusals, "the 4th call in the window was not refused"
    assert refusals[0].answer_headers["x-rate-limit-problem"] == "minute"
    assert 1 <= int(refusals[0].answer_headers["retry-after"]) <= 2
    # without the SDK's retries the refusal reaches the caller as Xero's RateLimitException
    world.client.rest_client.pool_manager = urllib3.PoolManager(retries=False)

    def four_calls() -> None:
        for _ in range(4):
            world.accounting.get_contacts(world.tenant)

    with pytest.raises(RateLimitException) as limited:
        four_calls()
    assert limited.value.rate_limit == "minute"
    assert int(limited.value.headers["Retry-After"]) > 0


def test_webhook_payloads_match_xeros_webhook_spec(world: World) -> None:
    with world.http() as http:
        subscribed = http.put("/_sandbox/webhook", json={"url": HOOK_URL, "key": HOOK_KEY})
    assert subscribed.json()["status"] == "OK"
    contact = _customer(world, "Massive Dynamic")
    deadline = time.monotonic() + 5
    events: list[Any] = []
    while not events and time.monotonic() < deadline:
        time.sleep(0.02)
        events = [json.loads(body) for body, _ in world.hooks if json.loads(body)["events"]]
    assert events, "no webhook delivered"
    payload = events[0]
    assert webhook_problems(SPECS, payload) == []
    assert payload["events"][0]["resourceId"] == contact.contact_id
    assert payload["events"][0]["eventCategory"] == "CONTACT"


def _wrong(_: Request) -> JSONResponse:
    return JSONResponse({"Invoices": [{"InvoiceID": "not-a-uuid", "Total": "lots", "Status": "X"}]})


def test_the_spec_check_fails_on_answers_xero_would_not_give(tmp_path: Path) -> None:
    """The checker is not a rubber stamp: a wrong answer and a wrong request are reported."""
    app = Starlette(routes=[Route("/api.xro/2.0/Invoices", _wrong, methods=["GET", "PUT"])])
    checked = SpecChecked(app, SPECS)
    with serve_in_thread(checked) as base, httpx.Client(base_url=base) as http:
        http.get("/api.xro/2.0/Invoices", headers={"xero-tenant-id": "t"})
        http.put("/api.xro/2.0/Invoices", headers={"xero-tenant-id": "t"}, json={"Invoices": 7})
    problems = checked.problems
    assert any(p.startswith("GET /api.xro/2.0/Invoices -> 200: response") for p in problems)
    assert any(p.startswith("PUT /api.xro/2.0/Invoices -> 200: request") for p in problems)
