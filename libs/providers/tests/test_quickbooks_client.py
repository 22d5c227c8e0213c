"""Timebridge's QuickBooks Online client against the sandbox: consent, customers, invoices.

Webhooks, limits and real HTTP are in ``test_quickbooks_client_http``; what both sides send,
against the XSD, in ``test_quickbooks_xsd``.
"""

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from timebridge_providers.quickbooks.oauth import QuickBooksTokens, authorize_url
from timebridge_providers.quickbooks.wire import (
    DuplicateDocNumberError,
    StaleObjectError,
)

from libs.providers.tests.quickbooks_world import (
    BASE,
    CLIENT_ID,
    DAY,
    ITEM,
    REDIRECT,
    MemoryTokens,
    World,
    customer,
    draft,
    exported,
    new_world,
)
from timebridge_common.outbound.http import (
    AuthenticationError,
    NotFoundError,
    ProviderError,
)
from timebridge_common.outbound.oauth import (
    ReauthorizationNeededError,
    TokenManager,
)


@pytest.fixture
def world() -> World:
    return new_world()


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
