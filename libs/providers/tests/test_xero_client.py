"""Timebridge's Xero client against the Xero sandbox: OAuth and the organisation, customers,
drafts and invoices read back. Webhooks, limits and real HTTP are in ``test_xero_client_http``;
Xero's official OpenAPI and webhook spec in ``test_xero_client_spec``.
"""

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal

import httpx
import pytest
from timebridge_providers.xero.oauth import authorize_url, connections, select_tenant
from timebridge_providers.xero.wire import (
    TenantSelectionError,
)

from libs.providers.tests.xero_world import (
    AUTHORIZE,
    BASE,
    CLIENT_ID,
    CLIENT_SECRET,
    DAY,
    REDIRECT,
    MemoryStore,
    World,
    draft,
    new_world,
)
from timebridge_common.outbound.http import (
    AuthenticationError,
    NotFoundError,
    ProviderError,
)
from timebridge_common.outbound.oauth import ReauthorizationNeededError, TokenManager


@pytest.fixture
async def world() -> World:
    return await new_world()


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
