"""FreshBooks through the production accounting tools, on its sandbox (see ``test_tools``)."""

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from accounting_tool_rigs import (
    BASE,
    DAY,
    DUE,
    HOOK,
    INVOICE_ID,
    NOTE,
    REDIRECT,
    START,
    TOTAL,
    Rig,
    accounting_app,
    draft,
    fake_time_and_faults,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from timebridge_providers.freshbooks.webhooks import verify_webhook
from timebridge_providers.freshbooks.wire import SIGNATURE_HEADER
from timebridge_providers.kit.accounting import CLOCK_SKEW
from timebridge_providers.kit.ports.accounting import PaymentApplication, gone_payment

from timebridge_common.outbound.http import ProviderError
from timebridge_invoice_export.domain.accounting import (
    Address,
    TaxDetails,
    Tenant,
    ToolClient,
    ToolInvoice,
)
from timebridge_sandboxes import freshbooks as fb_sandbox
from timebridge_sandboxes.faults import RateLimit

# ---- FreshBooks ------------------------------------------------------------------------------


class Receiver:
    """Timebridge's side of FreshBooks callbacks: every form posted, with its signature."""

    def __init__(self) -> None:
        self.posts: list[tuple[list[tuple[str, str]], str | None]] = []
        self.app = Starlette(
            routes=[Route("/v1/webhooks/{path:path}", self.hook, methods=["POST"])]
        )

    async def hook(self, request: Request) -> Response:
        fields = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        self.posts.append((fields, request.headers.get(SIGNATURE_HEADER)))
        return Response(status_code=200)

    def verifications(self) -> list[dict[str, str]]:
        return [dict(fields) for fields, _ in self.posts if dict(fields).get("verifier")]

    def events(self) -> list[tuple[list[tuple[str, str]], str | None]]:
        return [(fields, sig) for fields, sig in self.posts if "verifier" not in dict(fields)]


@dataclass(kw_only=True)
class FreshBooksRig(Rig):
    state: fb_sandbox.FreshBooksState
    other_account: str
    receiver: Receiver

    def client(self, **fields: Any) -> str:
        return str(self.state.add_client(self.tenant, **fields))


@pytest.fixture
def freshbooks() -> FreshBooksRig:
    fake, faults = fake_time_and_faults()
    state = fb_sandbox.FreshBooksState(
        client_id="fb-app", client_secret="fb-secret", now=fake.utcnow
    )
    account = state.add_business("Acme Studio")
    other = state.add_business("Bayern Corporation")
    state.add_business("Somebody Else")
    state.add_identity(
        "Ann", "Admin", "ann@acme.test", {account: "owner", other: "business_employee"}
    )
    receiver = Receiver()
    sandbox = fb_sandbox.create_freshbooks_sandbox(
        state,
        faults,
        rate_limit=RateLimit(*fb_sandbox.RATE_LIMIT, clock=fake.clock),
        webhook_transport=httpx.ASGITransport(receiver.app),
    )
    app = accounting_app("fb-app", "fb-secret", "/oauth/authorize", "/auth/oauth/token")
    return FreshBooksRig(
        provider="freshbooks",
        app=app,
        fake=fake,
        faults=faults,
        sandbox=sandbox,
        tenant=account,
        state=state,
        other_account=other,
        receiver=receiver,
    )


async def test_freshbooks_consent_lists_the_accounts_of_the_identity(
    freshbooks: FreshBooksRig,
) -> None:
    flow = freshbooks.tools().oauth("freshbooks", REDIRECT)
    callback = await freshbooks.consent(flow, "st-3")
    assert callback["state"] == "st-3"
    tokens = await flow.endpoint.exchange_code(callback["code"], REDIRECT)
    assert tokens.expires_at == START + dt.timedelta(hours=12)
    exchange = json.loads(freshbooks.sent[0].content)
    assert (exchange["grant_type"], exchange["redirect_uri"]) == ("authorization_code", REDIRECT)
    assert await flow.tenants(tokens, callback) == [
        Tenant(freshbooks.tenant, "Acme Studio"),
        Tenant(freshbooks.other_account, "Bayern Corporation"),
    ]
    assert freshbooks.sent[-1].url.path == "/auth/api/v1/users/me"
    rotated = await flow.endpoint.refresh(tokens.refresh_token)
    assert json.loads(freshbooks.sent[-1].content)["redirect_uri"] == REDIRECT
    assert rotated.refresh_token != tokens.refresh_token


async def test_freshbooks_active_clients_mirror_names_addresses_vat_and_currency(
    freshbooks: FreshBooksRig,
) -> None:
    gordon = freshbooks.client(
        fname="Gordon",
        lname="Shumway",
        organization="American Cyanamid",
        email="gordon@cyanamid.test",
        p_street="123 Huron St",
        p_street2="Unit 4",
        p_city="Toronto",
        p_code="M5T 2B3",
        p_province="ON",
        p_country="Canada",
        currency_code="CAD",
        vat_name="HST",
        vat_number="123456789RT0001",
    )
    person = freshbooks.client(fname="Ann", lname="Person")
    archived = freshbooks.client(organization="Archived Co", vis_state=2)
    freshbooks.client(organization="Deleted Co", vis_state=1)
    freshbooks.state.add_client(freshbooks.other_account, organization="Not ours")
    tool, _ = await freshbooks.connect()

    clients = await tool.active_clients()
    assert clients == [
        ToolClient(
            external_id=gordon,
            name="American Cyanamid",
            email="gordon@cyanamid.test",
            address=Address("123 Huron St", "Unit 4", "Toronto", "ON", "M5T 2B3", "Canada"),
            tax=TaxDetails(tax_number="123456789RT0001", tax_code="HST"),
            currency="CAD",
            active=True,
            updated_at=START,
        ),
        ToolClient(
            external_id=person,
            name="Ann Person",
            email=None,
            address=None,
            tax=TaxDetails(),
            currency="USD",
            active=True,
            updated_at=START,
        ),
    ]
    assert await tool.client(gordon) == clients[0]
    found = await tool.client(archived)
    assert found is not None
    assert (found.name, found.active) == ("Archived Co", False)
    assert await tool.client("4242") is None
    assert await tool.client("not-a-number") is None


async def test_freshbooks_changes_report_renames_archived_and_deleted_clients_and_invoices(
    freshbooks: FreshBooksRig,
) -> None:
    gordon = freshbooks.client(organization="American Cyanamid")
    person = freshbooks.client(fname="Ann", lname="Person")
    doomed = freshbooks.client(organization="Doomed Ltd")
    freshbooks.client(organization="Untouched Inc")
    tool, _ = await freshbooks.connect()
    since = freshbooks.fake.utcnow() + dt.timedelta(minutes=30)
    freshbooks.fake.now += 3600
    exported = await tool.export(draft(gordon))
    await freshbooks.admin("PATCH", f"/clients/{gordon}", {"organization": "Cyanamid"})
    await freshbooks.admin("PATCH", f"/clients/{person}", {"vis_state": 2})
    await freshbooks.admin("PATCH", f"/clients/{doomed}", {"vis_state": 1})

    changes = await tool.changes(since)
    assert [(c.external_id, c.name, c.active) for c in changes.clients] == [
        (gordon, "Cyanamid", True),
        (person, "Ann Person", False),
        (doomed, "Doomed Ltd", False),
    ]
    assert [(i.external_id, i.status) for i in changes.invoices] == [
        (exported.external_id, "draft")
    ]
    assert changes.cursor == freshbooks.fake.utcnow() - CLOCK_SKEW
    freshbooks.fake.now += 600
    assert (await tool.changes(since)).cursor == START + dt.timedelta(hours=1)
    later = await tool.changes(freshbooks.fake.utcnow())
    assert (later.clients, later.invoices, later.cursor) == ((), (), None)


async def test_freshbooks_export_finds_its_po_number_and_creates_once_when_the_answer_is_lost(
    freshbooks: FreshBooksRig,
) -> None:
    tool, _ = await freshbooks.connect()
    customer = freshbooks.client(organization="American Cyanamid")
    freshbooks.faults.lose_next_responses(1, delay_s=6.0)
    exported = await tool.export(draft(customer))

    assert len(freshbooks.writes("POST", "/invoices/invoices")) == 1
    (invoice,) = freshbooks.state.invoices.values()
    assert (invoice.po_number, invoice.notes, invoice.due_offset_days) == (INVOICE_ID, NOTE, 14)
    assert [(li.name, li.description, li.qty, li.unit_cost) for li in invoice.lines] == [
        ("Hours", "T-42 Login page (Ann)", Decimal("1.5"), Decimal(120)),
        ("Hours", "T-43 Code review (Bo)", Decimal("0.75"), Decimal("99.99")),
        ("Expenses", "Train ticket", Decimal(1), Decimal("42.50")),
    ]
    assert exported == ToolInvoice(
        external_id=str(invoice.id),
        client_external_id=customer,
        number="0000001",
        issue_date=DAY,
        due_date=DUE,
        status="draft",
        total=TOTAL,
        currency="USD",
        updated_at=START,
        gross_total=TOTAL,  # no tax in the sandbox's company
    )
    assert await tool.export(draft(customer)) == exported
    assert len(freshbooks.writes("POST", "/invoices/invoices")) == 1
    assert len(freshbooks.state.invoices) == 1


async def test_freshbooks_invoice_follows_edits_sending_payments_and_deletion(
    freshbooks: FreshBooksRig,
) -> None:
    tool, _ = await freshbooks.connect()
    customer = freshbooks.client(organization="American Cyanamid")
    exported = await tool.export(draft(customer))
    number = int(exported.external_id)
    freshbooks.fake.now += 60
    edit = {
        "invoice_number": "INV-7",
        "create_date": "2026-11-22",
        "lines": [{"name": "Hours", "qty": 2, "unit_cost": {"amount": "130.00"}}],
    }
    await freshbooks.admin("PATCH", f"/invoices/{number}", edit)
    edited = await tool.invoice(exported.external_id)
    assert (edited.number, edited.issue_date, edited.due_date, edited.total, edited.status) == (
        "INV-7",
        dt.date(2026, 11, 22),
        dt.date(2026, 12, 6),
        Decimal(260),
        "draft",
    )
    assert edited.updated_at == START + dt.timedelta(minutes=1)
    await freshbooks.admin("POST", f"/invoices/{number}/sent")
    assert (await tool.invoice(exported.external_id)).status == "sent"
    await freshbooks.admin("POST", f"/invoices/{number}/viewed")
    assert (await tool.invoice(exported.external_id)).status == "sent"
    held = freshbooks.state.invoices[number]
    held.status, held.paid = 8, Decimal("100.00")  # a partial payment
    assert (await tool.invoice(exported.external_id)).status == "partially_paid"
    await freshbooks.admin("POST", f"/invoices/{number}/paid")
    assert (await tool.invoice(exported.external_id)).status == "paid"
    await freshbooks.admin("DELETE", f"/invoices/{number}")
    deleted = await tool.invoice(exported.external_id)
    assert (deleted.status, deleted.total) == ("deleted", Decimal(260))
    assert (await tool.export(draft(customer))).external_id == exported.external_id
    assert (await tool.invoice("999999")).status == "deleted"


async def test_freshbooks_webhooks_are_registered_once_verified_and_then_delivered(
    freshbooks: FreshBooksRig,
) -> None:
    tool, _ = await freshbooks.connect()
    customer = freshbooks.client(organization="American Cyanamid")

    await tool.ensure_webhooks(HOOK)
    callbacks = freshbooks.state.callbacks
    assert [(c.event, c.uri, c.verified) for c in callbacks.values()] == [
        ("client", HOOK, False),
        ("invoice", HOOK, False),
        ("payment", HOOK, False),
    ]
    asked = freshbooks.receiver.verifications()
    assert [int(v["object_id"]) for v in asked] == list(callbacks)

    await tool.ensure_webhooks(HOOK)  # unverified: asked again, not registered again
    assert len(callbacks) == 3
    assert len(freshbooks.receiver.verifications()) == 6
    with pytest.raises(ProviderError) as wrong:
        await tool.verify_webhook_registration(asked[0]["object_id"], "not-the-verifier")
    assert wrong.value.status == 422
    for verification in asked:
        await tool.verify_webhook_registration(verification["object_id"], verification["verifier"])
    assert all(c.verified for c in callbacks.values())
    await tool.ensure_webhooks(HOOK)
    assert (len(callbacks), len(freshbooks.receiver.verifications())) == (3, 6)

    await freshbooks.admin("PATCH", f"/clients/{customer}", {"organization": "Cyanamid"})
    exported = await tool.export(draft(customer))
    events = freshbooks.receiver.events()
    assert [(dict(f)["name"], dict(f)["object_id"]) for f, _ in events] == [
        ("client.update", customer),
        ("invoice.create", exported.external_id),
    ]
    verifiers = {int(v["object_id"]): v["verifier"] for v in asked}
    by_event = {c.event: verifiers[c.id] for c in callbacks.values()}
    assert verify_webhook(by_event["client"], events[0][0], events[0][1])
    assert verify_webhook(by_event["invoice"], events[1][0], events[1][1])

    await tool.ensure_webhooks(f"{HOOK}/second")
    assert [c.uri for c in callbacks.values()].count(f"{HOOK}/second") == 3


async def test_freshbooks_changes_carry_payments_and_their_deletion(
    freshbooks: FreshBooksRig,
) -> None:
    tool, token = await freshbooks.connect()
    exported = await tool.export(draft(freshbooks.client(organization="American Cyanamid")))
    freshbooks.fake.now += 60
    since = freshbooks.fake.utcnow()
    path = f"{BASE}/accounting/account/{freshbooks.tenant}/payments/payments"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(freshbooks.sandbox),
        headers={"Authorization": f"Bearer {token}"},
    ) as api:
        for amount in ("100.00", "140.00"):
            payment = {
                "invoiceid": int(exported.external_id),
                "amount": {"amount": amount},
                "date": "2026-12-01",
            }
            made = await api.post(path, json={"payment": payment})
            assert made.is_success, made.text
        changes = await tool.changes(since)
        assert [(p.state, p.amount, p.paid_on, p.applications) for p in changes.payments] == [
            (
                "recorded",
                Decimal(amount),
                dt.date(2026, 12, 1),
                (PaymentApplication(exported.external_id, Decimal(amount)),),
            )
            for amount in ("100.00", "140.00")
        ]
        second = changes.payments[1].external_id
        freshbooks.fake.now += 60
        since = freshbooks.fake.utcnow()
        gone = await api.put(f"{path}/{second}", json={"payment": {"vis_state": 1}})
        assert gone.is_success, gone.text
    changes = await tool.changes(since)
    assert [(p.external_id, p.state) for p in changes.payments] == [(second, "deleted")]
    assert (await tool.invoice(exported.external_id)).status == "partially_paid"
    # what a payment callback reads, and an invoice's payments (the deleted one too)
    one = await tool.payment(second)
    assert one is not None
    assert (one.external_id, one.state) == (second, "deleted")
    of_invoice = await tool.invoice_payments(exported.external_id)
    assert sorted((p.amount, p.state) for p in of_invoice) == [
        (Decimal("100.00"), "recorded"),
        (Decimal("140.00"), "deleted"),
    ]
    assert await tool.payment("404404") == gone_payment("404404")


async def test_freshbooks_payment_beyond_the_total_is_read_whole(freshbooks: FreshBooksRig) -> None:
    """FreshBooks takes it and keeps the excess as a credit: the tool shows the invoice paid and
    the whole payment applied to it, from which invoice-export records what was overpaid."""
    tool, token = await freshbooks.connect()
    exported = await tool.export(draft(freshbooks.client(organization="American Cyanamid")))
    path = f"{BASE}/accounting/account/{freshbooks.tenant}/payments/payments"
    payment = {"invoiceid": int(exported.external_id), "amount": {"amount": "300.00"}}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(freshbooks.sandbox),
        headers={"Authorization": f"Bearer {token}"},
    ) as api:
        made = await api.post(path, json={"payment": {**payment, "date": "2026-12-01"}})
    assert made.is_success, made.text
    seen = await tool.payment(str(made.json()["response"]["result"]["payment"]["id"]))
    assert seen is not None
    assert (seen.amount, seen.applications) == (
        Decimal("300.00"),
        (PaymentApplication(exported.external_id, Decimal("300.00")),),
    )
    paid = await tool.invoice(exported.external_id)
    assert (paid.status, paid.gross_total) == ("paid", TOTAL)
