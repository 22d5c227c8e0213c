"""Timebridge's FreshBooks client against the FreshBooks sandbox: OAuth and the account,
clients, invoices created once and read back. Callbacks, limits and real HTTP are in
``test_freshbooks_client_http``.
"""

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from timebridge_providers.freshbooks.oauth import authorize_url
from timebridge_providers.freshbooks.wire import (
    InvoiceStatus,
    Money,
    VisState,
)

from libs.providers.tests.freshbooks_world import (
    BASE,
    CLIENT_ID,
    DAY,
    HOUR,
    REDIRECT,
    MemoryTokenStore,
    World,
    constant_token,
    new_world,
)
from timebridge_common.outbound.http import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    ProviderError,
)
from timebridge_common.outbound.oauth import ReauthorizationNeededError, TokenManager


@pytest.fixture
def world() -> World:
    return new_world()


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
        await world.client(constant_token(tokens.access_token)).me()
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
