"""The FreshBooks sandbox driven by FreshBooks' own Python SDK (freshbooks-sdk), as a user would.

The SDK talks HTTP to a real loopback server; only its hosts are overridden (``base_url``,
``authorization_url``, ``token_url``). Error bodies are compared with the SDK's own fixtures of
FreshBooks' answers (``{"response": {"errors": [{"errno": 1012, "field", "message", "object",
"value"}]}}``), which the SDK exposes as ``error_code`` and ``error_details``.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from freshbooks.builders.filter import FilterBuilder
from freshbooks.builders.includes import IncludesBuilder
from freshbooks.builders.paginator import PaginateBuilder
from freshbooks.builders.sort import SortBuilder
from freshbooks.client import Client as FreshBooksClient
from freshbooks.errors import FreshBooksError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.freshbooks import FreshBooksState, create_freshbooks_sandbox
from timebridge_sandboxes.testing import serve_in_thread

CLIENT_ID, CLIENT_SECRET = "fb-sdk-client-3a9d", "fb-sdk-secret-c41e"
REDIRECT = "https://app.example/freshbooks/callback"
DAY = dt.date(2026, 11, 20)


@dataclass
class Recorder:
    """The requests the sandbox received: method, path and query, in order."""

    app: ASGIApp
    seen: list[tuple[str, str, str]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode()
        self.seen.append((scope["method"], scope["path"], query))

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
                self.answers.append((message["status"], headers))
            await send(message)

        await self.app(scope, receive, recording)


@dataclass
class World:
    base: str
    state: FreshBooksState
    account: str
    customer: int
    sdk: FreshBooksClient
    recorder: Recorder
    received: list[tuple[dict[str, str], str | None]]

    def wait_for(self, count: int) -> list[tuple[dict[str, str], str | None]]:
        """The callbacks' deliveries once ``count`` arrived (they go after the answer)."""
        deadline = time.monotonic() + 5
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def fresh_sdk(self, **tokens: Any) -> FreshBooksClient:
        return _sdk(self.base, **tokens)

    def invoice(self, **fields: Any) -> Any:
        body = {
            "customerid": self.customer,
            "create_date": DAY.isoformat(),
            "lines": [{"name": "Consulting", "qty": 2, "unit_cost": {"amount": "50.00"}}],
            **fields,
        }
        return self.sdk.invoices.create(self.account, body)


def _sdk(base: str, **tokens: Any) -> FreshBooksClient:
    sdk = FreshBooksClient(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT, **tokens
    )
    sdk.base_url = base
    sdk.authorization_url = f"{base}/oauth/authorize"
    sdk.token_url = f"{base}/auth/oauth/token"
    return sdk


@pytest.fixture
def limit() -> RateLimit | None:
    """The sandbox's rate limit (FreshBooks' assumed one unless a test overrides this)."""
    return None


@pytest.fixture
def world(limit: RateLimit | None) -> Iterator[World]:
    state = FreshBooksState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    account = state.add_business("Acme Studio")
    state.add_identity("Ann", "Admin", "ann@example.com", {account: "owner"})
    customer = state.add_client(account, organization="Website Client", email="ap@web.example")
    received: list[tuple[dict[str, str], str | None]] = []

    async def receive(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl((await request.aread()).decode()))
        received.append((form, request.headers.get("X-FreshBooks-Hmac-SHA256")))
        return httpx.Response(200)

    app = create_freshbooks_sandbox(
        state, rate_limit=limit, webhook_transport=httpx.MockTransport(receive)
    )
    recorder = Recorder(app)
    with serve_in_thread(recorder) as base:
        sdk = _sdk(base)
        with httpx.Client() as browser:
            consent = browser.get(sdk.get_auth_request_url(["user:profile:read"]))
        code = httpx.URL(consent.headers["location"]).params["code"]
        sdk.get_access_token(code)
        yield World(base, state, account, customer, sdk, recorder, received)


def test_oauth_code_identity_and_single_use_refresh(world: World) -> None:
    me = world.sdk.current_user()
    assert me.identity_id == 501
    assert [m.business.account_id for m in me.business_memberships] == [world.account]
    first_access, first_refresh = world.sdk.access_token, world.sdk.refresh_token

    refreshed = world.sdk.refresh_access_token()
    assert refreshed.access_token != first_access
    assert refreshed.access_token_expires_at > dt.datetime.now(dt.UTC)
    assert len(world.sdk.clients.list(world.account)) == 1  # the new token works

    with pytest.raises(FreshBooksError) as stale:
        world.fresh_sdk(access_token=first_access).clients.list(world.account)
    assert stale.value.status_code == 401
    with pytest.raises(FreshBooksError) as reused:
        world.fresh_sdk().refresh_access_token(first_refresh)
    assert (reused.value.status_code, str(reused.value)) == (400, "The refresh token is invalid.")
    with pytest.raises(FreshBooksError) as anonymous:
        world.fresh_sdk(access_token="not-a-token").current_user()
    assert anonymous.value.status_code == 401
    assert str(anonymous.value.error_code) == "unauthenticated"


def test_clients_create_list_search_update_archive_and_delete(world: World) -> None:
    clients = world.sdk.clients
    initech = clients.create(world.account, {"organization": "Initech", "email": "ap@initech.ex"})
    gordon = clients.create(world.account, {"fname": "Gordon", "lname": "Shumway"})
    assert (initech.organization, initech.vis_state) == ("Initech", 0)

    page = clients.list(world.account, builders=[PaginateBuilder(1, 2)])
    assert (page.pages.page, page.pages.pages, page.pages.total) == (1, 2, 3)
    assert len(page) == 2
    liked = clients.list(world.account, builders=[FilterBuilder().like("organization_like", "INI")])
    assert [c.id for c in liked] == [initech.id]
    by_ids = clients.list(world.account, [FilterBuilder().in_list("userids", [gordon.id])])
    assert [c.id for c in by_ids] == [gordon.id]
    ordered = clients.list(world.account, [SortBuilder().descending("organization")])
    assert [c.organization for c in ordered][:2] == ["Website Client", "Initech"]

    moved = clients.update(world.account, gordon.id, {"p_city": "Melmac", "email": "g@alf.ex"})
    assert (moved.p_city, moved.email) == ("Melmac", "g@alf.ex")
    archived = clients.update(world.account, initech.id, {"vis_state": 2, "p_city": "ignored"})
    assert (archived.vis_state, archived.p_city) == (2, "")
    clients.delete(world.account, gordon.id)  # the SDK deletes clients by PUT vis_state 1
    assert ("PUT", f"/accounting/account/{world.account}/users/clients/{gordon.id}", "") in (
        world.recorder.seen
    )
    listed = {c.id for c in clients.list(world.account)}
    assert listed == {initech.id, world.customer}  # archived listed, deleted not
    deleted = clients.list(world.account, [FilterBuilder().equals("vis_state", 1)])
    assert [c.id for c in deleted] == [gordon.id]

    with pytest.raises(FreshBooksError) as nameless:
        clients.create(world.account, {"p_city": "Nowhere"})
    assert (nameless.value.status_code, nameless.value.error_code) == (400, 1001)
    with pytest.raises(FreshBooksError) as typo:
        clients.create(world.account, {"organization": "X", "vis_state": 7})
    assert typo.value.error_code == 1004
    assert typo.value.error_details is not None
    assert typo.value.error_details[0]["field"] == "vis_state"


def test_invoices_create_include_update_delete_restore_archive(world: World) -> None:
    invoices = world.sdk.invoices
    draft = world.invoice(po_number="PO-1")
    assert (draft.v3_status, draft.amount.amount, draft.create_date) == ("draft", "100.00", DAY)
    other = world.invoice(create_date="2026-11-25")

    lines = IncludesBuilder()
    lines.include("lines")
    bare = invoices.get(world.account, draft.id)
    with_lines = invoices.get(world.account, draft.id, includes=lines)
    assert "lines" not in bare.data
    assert [line["name"] for line in with_lines.data["lines"]] == ["Consulting"]

    noted = invoices.update(world.account, draft.id, {"notes": "Thanks", "po_number": "PO-2"})
    assert (noted.notes, noted.po_number) == ("Thanks", "PO-2")
    sent = invoices.update(world.account, draft.id, {"action_mark_as_sent": True})
    assert sent.v3_status == "sent"

    later = invoices.list(
        world.account,
        [FilterBuilder().between("date_min", min=dt.date(2026, 11, 21))],
    )
    assert [i.id for i in later] == [other.id]
    filters = FilterBuilder()
    filters.equals("customerid", world.customer)
    filters.in_list("invoiceids", [draft.id])
    mine = invoices.list(world.account, [filters, lines])
    assert [i.id for i in mine] == [draft.id]
    assert mine[0].data["lines"]

    invoices.delete(world.account, draft.id)  # the SDK deletes invoices with DELETE
    assert ("DELETE", f"/accounting/account/{world.account}/invoices/invoices/{draft.id}", "") in (
        world.recorder.seen
    )
    assert invoices.get(world.account, draft.id).vis_state == 1  # still readable by id
    assert [i.id for i in invoices.list(world.account)] == [other.id]
    shown = invoices.list(world.account, [FilterBuilder().equals("vis_state", 1)])
    assert [i.id for i in shown] == [draft.id]
    with pytest.raises(FreshBooksError) as frozen:
        invoices.update(world.account, draft.id, {"notes": "too late"})
    assert (frozen.value.status_code, frozen.value.error_code) == (400, 1011)

    assert invoices.update(world.account, draft.id, {"vis_state": 0}).vis_state == 0
    invoices.update(world.account, other.id, {"vis_state": 2})
    assert {i.id for i in invoices.list(world.account)} == {draft.id, other.id}

    with pytest.raises(FreshBooksError) as missing:
        invoices.get(world.account, 999)
    assert (missing.value.status_code, missing.value.error_code) == (404, 1012)
    assert missing.value.error_details == [
        {
            "errno": 1012,
            "field": "invoiceid",
            "message": "Invoice not found.",
            "object": "invoice",
            "value": "999",
        }
    ]
    with pytest.raises(FreshBooksError) as unknown_client:
        world.invoice(customerid=4242)
    assert unknown_client.value.error_details is not None
    assert unknown_client.value.error_details[0]["field"] == "customerid"


def test_payments_make_an_invoice_partial_then_paid_and_back(world: World) -> None:
    invoice = world.invoice()
    payments = world.sdk.payments
    first = payments.create(
        world.account,
        {"invoiceid": invoice.id, "amount": {"amount": "40.00"}, "date": "2026-11-21"},
    )
    partial = world.sdk.invoices.get(world.account, invoice.id)
    assert (partial.v3_status, partial.outstanding.amount) == ("partial", "60.00")
    second = payments.create(
        world.account,
        {"invoiceid": invoice.id, "amount": {"amount": "60"}, "date": "2026-11-22", "type": "Cash"},
    )
    paid = world.sdk.invoices.get(world.account, invoice.id)
    assert (paid.v3_status, paid.paid.amount, paid.date_paid) == (
        "paid",
        "100.00",
        DAY.replace(day=22),
    )
    listed = payments.list(world.account, [FilterBuilder().equals("invoiceid", invoice.id)])
    assert [(p.id, p.amount.amount) for p in listed] == [(first.id, "40.00"), (second.id, "60.00")]

    # A payment beyond what is outstanding is taken: FreshBooks keeps the excess as a credit.
    extra = payments.create(
        world.account,
        {"invoiceid": invoice.id, "amount": {"amount": "1"}, "date": "2026-11-23"},
    )
    overpaid = world.sdk.invoices.get(world.account, invoice.id)
    assert (overpaid.v3_status, overpaid.paid.amount, overpaid.outstanding.amount) == (
        "paid",
        "101.00",
        "0.00",
    )
    assert extra.overpaymentid is not None
    payments.delete(world.account, extra.id)

    payments.delete(world.account, second.id)  # PUT vis_state 1
    reopened = world.sdk.invoices.get(world.account, invoice.id)
    assert (reopened.v3_status, reopened.outstanding.amount) == ("partial", "60.00")
    assert payments.get(world.account, second.id).vis_state == 1
    changed = payments.update(world.account, first.id, {"amount": {"amount": "100.00"}})
    assert changed.amount.amount == "100.00"
    assert world.sdk.invoices.get(world.account, invoice.id).v3_status == "paid"


def test_pages_and_the_error_bodies_freshbooks_documents(world: World) -> None:
    for number in range(4):
        world.invoice(po_number=f"PO-{number}")
    beyond = world.sdk.invoices.list(world.account, [PaginateBuilder(3, 2)])
    assert (len(beyond), beyond.pages.pages, beyond.pages.total) == (0, 2, 4)
    capped = world.sdk.invoices.list(world.account, [PaginateBuilder(1, 500)])
    assert (capped.pages.per_page, len(capped)) == (100, 4)

    token = {"Authorization": f"Bearer {world.sdk.access_token}"}
    with httpx.Client(base_url=world.base, headers=token) as http:
        unknown = http.get(f"/accounting/account/{world.account}/users/clients/12345")
        garbled = http.post(
            f"/accounting/account/{world.account}/invoices/invoices",
            content=b"\xff{not json",
            headers={"Content-Type": "application/json"},
        )
        unwrapped = http.post(
            f"/accounting/account/{world.account}/invoices/invoices", json={"customerid": 1}
        )
    assert unknown.status_code == 404
    assert unknown.json() == {
        "response": {
            "errors": [
                {
                    "errno": 1012,
                    "field": "userid",
                    "message": "Client not found.",
                    "object": "client",
                    "value": "12345",
                }
            ]
        }
    }
    assert garbled.status_code == 400
    assert garbled.json()["response"]["errors"][0]["errno"] == 1005
    assert unwrapped.status_code == 400
    assert unwrapped.json()["response"]["errors"][0]["errno"] == 1001
    assert unwrapped.json()["response"]["errors"][0]["field"] == "invoice"
    assert Decimal(world.sdk.invoices.list(world.account)[0].amount.amount) == Decimal(100)


@pytest.mark.parametrize("limit", [RateLimit(3, 1.0)])
def test_a_429_carries_retry_after_and_the_sdk_waits_it_out(world: World) -> None:
    """The SDK's session retries ``429`` (urllib3 honours ``Retry-After``): the list arrives."""
    for _ in range(4):
        assert len(world.sdk.clients.list(world.account)) == 1
    refusals = [headers for status, headers in world.recorder.answers if status == 429]
    assert refusals, "the 4th call within the second was not refused"
    assert refusals[0]["retry-after"] == "1"


def test_webhook_callbacks_registered_verified_and_signed(world: World) -> None:
    hooks = world.sdk.callbacks
    uri = "https://app.example/freshbooks/webhooks"
    created = hooks.create(world.account, {"event": "invoice.create", "uri": uri})
    assert (created.event, created.verified) == ("invoice.create", False)
    (verification, unsigned), *_ = world.wait_for(1)
    assert verification["name"] == "callback.verify"
    assert unsigned is None
    with pytest.raises(FreshBooksError) as wrong:
        hooks.verify(world.account, created.callbackid, "not-it")
    assert (wrong.value.status_code, wrong.value.error_code) == (422, 422)
    hooks.resend_verification(world.account, created.callbackid)
    assert world.wait_for(2)[1][0]["verifier"] == verification["verifier"]
    verified = hooks.verify(world.account, created.callbackid, verification["verifier"])
    assert verified.verified is True
    assert [c.callbackid for c in hooks.list(world.account)] == [created.callbackid]

    invoice = world.invoice()
    form, signature = world.wait_for(3)[2]
    assert (form["name"], form["object_id"]) == ("invoice.create", str(invoice.id))
    mac = hmac.new(verification["verifier"].encode(), json.dumps(form).encode(), hashlib.sha256)
    assert signature == base64.b64encode(mac.digest()).decode()

    with pytest.raises(FreshBooksError) as bad_event:
        hooks.create(world.account, {"event": "invoice.exploded", "uri": uri})
    details: list[Any] = list(bad_event.value.error_details or [])
    assert details == ["event: Value error, Unrecognized event."]
    with pytest.raises(FreshBooksError) as anonymous:
        world.fresh_sdk(access_token="not-a-token").callbacks.list(world.account)
    assert (anonymous.value.status_code, anonymous.value.error_code) == (401, 401)
    assert str(anonymous.value).startswith("invalid_token")
    hooks.delete(world.account, created.callbackid)
    assert len(hooks.list(world.account)) == 0
