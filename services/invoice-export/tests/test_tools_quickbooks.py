"""QuickBooks Online through the production accounting tools, on its sandbox (``test_tools``)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from accounting_tool_rigs import (
    BASE,
    DAY,
    DUE,
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
from pydantic import SecretStr
from timebridge_providers.kit.accounting import CLOCK_SKEW
from timebridge_providers.kit.ports.accounting import PaymentApplication, gone_payment

from timebridge_common.outbound.http import ProviderError
from timebridge_invoice_export.adapters.tools import ProductionTools
from timebridge_invoice_export.config import Settings
from timebridge_invoice_export.domain.accounting import (
    Address,
    TaxDetails,
    Tenant,
    ToolClient,
    ToolInvoice,
)
from timebridge_invoice_export.handlers.ports import (
    ToolConnection,
)
from timebridge_sandboxes import quickbooks as qbo_sandbox
from timebridge_sandboxes.faults import RateLimit

# ---- QuickBooks Online -----------------------------------------------------------------------


@dataclass(kw_only=True)
class QboRig(Rig):
    state: qbo_sandbox.QuickBooksState
    account: str

    def customer(self, name: str, **elements: Any) -> str:
        return self.state.add_customer(self.tenant, {"DisplayName": name, **elements})

    def invoices(self) -> list[Any]:
        return self.state.companies[self.tenant].all("Invoice")


@pytest.fixture
def qbo() -> QboRig:
    fake, faults = fake_time_and_faults()
    state = qbo_sandbox.QuickBooksState(now=fake.utcnow)
    state.add_app("qbo-app", "qbo-secret", [REDIRECT])
    state.add_company("Other Books LLC")
    realm = state.add_company("Acme Consulting")
    state.consent_realm = realm
    account = state.add_account(realm, "Services")
    state.add_account(realm, "Other income")
    sandbox = qbo_sandbox.create_quickbooks_sandbox(
        state, faults, rate_limit=RateLimit(*qbo_sandbox.RATE_LIMIT, clock=fake.clock)
    )
    app = accounting_app("qbo-app", "qbo-secret", "/connect/oauth2", "/oauth2/v1/tokens/bearer")
    return QboRig(
        provider="quickbooks",
        app=app,
        fake=fake,
        faults=faults,
        sandbox=sandbox,
        tenant=realm,
        state=state,
        account=account,
    )


async def test_quickbooks_consent_names_the_realm_and_its_token_works(qbo: QboRig) -> None:
    tools = qbo.tools()
    flow = tools.oauth("quickbooks", REDIRECT)
    assert flow.authorize_url(REDIRECT, "st-9").startswith(f"{BASE}/connect/oauth2?client_id=")
    callback = await qbo.consent(flow, "st-9")
    assert (callback["state"], callback["realmId"]) == ("st-9", qbo.tenant)
    tokens = await flow.endpoint.exchange_code(callback["code"], REDIRECT)
    assert tokens.expires_at == START + dt.timedelta(hours=1)
    assert await flow.tenants(tokens, callback) == [Tenant(qbo.tenant, qbo.tenant)]
    with pytest.raises(ProviderError, match="realmId"):
        await flow.tenants(tokens, {"code": callback["code"], "state": "st-9"})

    qbo.customer("Globex Corporation")
    tool = tools.tool(ToolConnection("c-1", "quickbooks", qbo.tenant), tokens.access_token)
    assert [c.name for c in await tool.active_clients()] == ["Globex Corporation"]
    assert qbo.sent[-1].headers["Authorization"] == f"Bearer {tokens.access_token}"


async def test_quickbooks_active_clients_mirror_names_addresses_tax_and_currency(
    qbo: QboRig,
) -> None:
    globex = qbo.customer(
        "Globex Corporation",
        CompanyName="Globex Corp.",
        BillAddr={
            "Line1": "1 Main St",
            "Line2": "Suite 5",
            "Line3": "Building B",
            "City": "Springfield",
            "CountrySubDivisionCode": "IL",
            "PostalCode": "62701",
            "Country": "US",
        },
        PrimaryEmailAddr={"Address": "ap@globex.test"},
        Taxable=True,
        DefaultTaxCodeRef={"value": "TAX"},
        PrimaryTaxIdentifier="12-3456789",
        CurrencyRef={"value": "EUR"},
    )
    qbo.fake.now += 60
    initech = qbo.customer("Initech", PrimaryEmailAddr={"Address": " "})
    gone = qbo.customer("Gone Ltd", Active=False)
    tool, _ = await qbo.connect()

    clients = await tool.active_clients()
    assert clients == [
        ToolClient(
            external_id=globex,
            name="Globex Corporation",
            email="ap@globex.test",
            address=Address("1 Main St", "Suite 5, Building B", "Springfield", "IL", "62701", "US"),
            tax=TaxDetails("12-3456789", True, "TAX"),
            currency="EUR",
            active=True,
            updated_at=START,
        ),
        ToolClient(
            external_id=initech,
            name="Initech",
            email=None,
            address=None,
            tax=TaxDetails(),
            currency="USD",
            active=True,
            updated_at=START + dt.timedelta(minutes=1),
        ),
    ]
    assert await tool.client(globex) == clients[0]
    archived = await tool.client(gone)
    assert archived is not None
    assert (archived.name, archived.active) == ("Gone Ltd", False)
    assert await tool.client("9999") is None


async def test_quickbooks_export_books_lines_on_the_items_once_even_when_the_answer_is_lost(
    qbo: QboRig,
) -> None:
    settings = Settings(
        encryption_key=SecretStr("k" * 43),
        credentials_url="http://credentials.test",
        service_token=SecretStr("svc-token"),
        quickbooks=qbo.app,
        quickbooks_hours_item="Consulting hours",
        quickbooks_expenses_item="Travel costs",
    )
    tool, _ = await qbo.connect(ProductionTools(settings, **qbo.options()))
    globex = qbo.customer("Globex Corporation")
    earlier = await tool.export(draft(globex, "inv_earlier"))
    items = {r.fields["Name"]: r for r in qbo.state.companies[qbo.tenant].all("Item")}
    assert sorted(items) == ["Consulting hours", "Travel costs"]
    assert {i.fields["IncomeAccountRef"]["value"] for i in items.values()} == {qbo.account}
    assert {i.fields["Type"] for i in items.values()} == {"Service"}

    qbo.sent.clear()
    qbo.faults.lose_next_responses(1, delay_s=6.0)
    exported = await tool.export(draft(globex))
    posts = qbo.writes("POST", "/invoice")
    assert [r.url.params["requestid"] for r in posts] == [INVOICE_ID, INVOICE_ID]
    assert [r.id for r in qbo.invoices()] == [earlier.external_id, exported.external_id]
    assert exported == ToolInvoice(
        external_id=exported.external_id,
        client_external_id=globex,
        number="1002",
        issue_date=DAY,
        due_date=DUE,
        status="draft",
        total=TOTAL,
        currency="USD",
        updated_at=START,
        gross_total=TOTAL,  # no tax in the sandbox's company
    )
    record = qbo.invoices()[1].fields
    sales = [line for line in record["Line"] if "SalesItemLineDetail" in line]
    assert [
        (
            line["Description"],
            Decimal(str(line["SalesItemLineDetail"]["Qty"])),
            Decimal(str(line["SalesItemLineDetail"]["UnitPrice"])),
            Decimal(str(line["Amount"])),
            line["SalesItemLineDetail"]["ItemRef"]["name"],
            line["SalesItemLineDetail"].get("ServiceDate"),
        )
        for line in sales
    ] == [
        (
            "T-42 Login page (Ann)",
            Decimal("1.5"),
            Decimal(120),
            Decimal(180),
            "Consulting hours",
            "2026-11-20",
        ),
        (
            "T-43 Code review (Bo)",
            Decimal("0.75"),
            Decimal("99.99"),
            Decimal("74.99"),
            "Consulting hours",
            None,
        ),
        ("Train ticket", Decimal(1), Decimal("42.5"), Decimal("42.5"), "Travel costs", None),
    ]
    assert (record["PrivateNote"], record["DueDate"], record["EmailStatus"]) == (
        NOTE,
        "2026-12-04",
        "NotSet",
    )

    again = await tool.export(draft(globex))
    after_restart, _ = await qbo.connect(ProductionTools(settings, **qbo.options()))
    assert await after_restart.export(draft(globex)) == again == exported
    assert len(qbo.invoices()) == 2


async def test_quickbooks_changes_report_renames_archives_and_deletions(qbo: QboRig) -> None:
    tool, _ = await qbo.connect()
    globex, initech = qbo.customer("Globex Corporation"), qbo.customer("Initech")
    qbo.customer("Untouched Inc")
    qbo.fake.now += 60
    since = qbo.fake.utcnow()
    exported = await tool.export(draft(initech))
    qbo.fake.now += 60
    await qbo.admin(
        "PATCH", f"/companies/{qbo.tenant}/customers/{globex}", {"DisplayName": "Globex Renamed"}
    )
    await qbo.admin("PATCH", f"/companies/{qbo.tenant}/customers/{initech}", {"Active": False})
    await qbo.admin("DELETE", f"/companies/{qbo.tenant}/invoices/{exported.external_id}")

    changes = await tool.changes(since)
    assert {(c.external_id, c.name, c.active) for c in changes.clients} == {
        (globex, "Globex Renamed", True),
        (initech, "Initech", False),
    }
    assert (changes.invoices, changes.deleted_invoice_ids) == ((), (exported.external_id,))
    assert changes.cursor == qbo.fake.utcnow()
    (cdc,) = [r for r in qbo.sent if r.url.path.endswith("/cdc")]
    assert cdc.url.params["entities"] == "Customer,Invoice,Payment"

    await qbo.admin("POST", f"/companies/{qbo.tenant}/customers", {"DisplayName": "Hooli"})
    qbo.sent.clear()
    long_ago = await tool.changes(qbo.fake.utcnow() - dt.timedelta(days=40))
    assert not [r for r in qbo.sent if r.url.path.endswith("/cdc")]
    assert {c.name for c in long_ago.clients} == {
        "Globex Renamed",
        "Initech",
        "Untouched Inc",
        "Hooli",
    }
    assert (long_ago.invoices, long_ago.deleted_invoice_ids) == ((), ())
    assert long_ago.cursor == qbo.fake.utcnow() - CLOCK_SKEW


async def test_quickbooks_invoice_follows_sending_edits_payments_voiding_and_deletion(
    qbo: QboRig,
) -> None:
    tool, _ = await qbo.connect()
    globex = qbo.customer("Globex Corporation")
    exported = await tool.export(draft(globex))
    path = f"/companies/{qbo.tenant}/invoices/{exported.external_id}"
    item = qbo.invoices()[0].fields["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"]

    await qbo.admin("POST", f"{path}/send")
    assert (await tool.invoice(exported.external_id)).status == "sent"
    qbo.fake.now += 60
    line = {
        "Amount": 240.0,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 2, "UnitPrice": 120},
    }
    edit = {"DocNumber": "TB-77", "TxnDate": "2026-11-25", "Line": [line]}
    await qbo.admin("PATCH", path, edit)
    edited = await tool.invoice(exported.external_id)
    assert (edited.number, edited.issue_date, edited.total, edited.status) == (
        "TB-77",
        dt.date(2026, 11, 25),
        Decimal(240),
        "sent",
    )
    assert edited.updated_at == START + dt.timedelta(minutes=1)
    await qbo.admin("POST", f"{path}/payments", {"amount": "100.00"})
    assert (await tool.invoice(exported.external_id)).status == "partially_paid"
    await qbo.admin("POST", f"{path}/payments", {"amount": "140.00"})
    assert (await tool.invoice(exported.external_id)).status == "paid"

    second = await tool.export(draft(globex, "inv_second"))
    await qbo.admin("POST", f"/companies/{qbo.tenant}/invoices/{second.external_id}/void")
    voided = await tool.invoice(second.external_id)
    assert (voided.status, voided.total) == ("voided", Decimal(0))
    await qbo.admin("DELETE", f"/companies/{qbo.tenant}/invoices/{second.external_id}")
    gone = await tool.invoice(second.external_id)
    assert (gone.external_id, gone.status, gone.total) == (
        second.external_id,
        "deleted",
        Decimal(0),
    )


async def test_quickbooks_changes_carry_payments_their_voiding_and_deletion(qbo: QboRig) -> None:
    tool, token = await qbo.connect()
    globex = qbo.customer("Globex Corporation")
    exported = await tool.export(draft(globex))
    path = f"/companies/{qbo.tenant}/invoices/{exported.external_id}"
    qbo.fake.now += 60
    since = qbo.fake.utcnow()
    await qbo.admin("POST", f"{path}/payments", {"amount": "100.00"})
    await qbo.admin("POST", f"{path}/payments", {"amount": "140.00"})
    changes = await tool.changes(since)
    assert [(p.state, p.amount, p.applications) for p in changes.payments] == [
        ("recorded", Decimal(100), (PaymentApplication(exported.external_id, Decimal(100)),)),
        ("recorded", Decimal(140), (PaymentApplication(exported.external_id, Decimal(140)),)),
    ]
    assert {p.currency for p in changes.payments} == {"USD"}
    first, second = (p.external_id for p in changes.payments)

    qbo.fake.now += 60
    since = qbo.fake.utcnow()
    payments = {p.id: p for p in qbo.state.companies[qbo.tenant].all("Payment")}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(qbo.sandbox),
        base_url=f"{BASE}/v3/company/{qbo.tenant}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    ) as api:
        for payment_id, params in (
            (second, {"operation": "update", "include": "void"}),
            (first, {"operation": "delete"}),
        ):
            body = {"Id": payment_id, "SyncToken": str(payments[payment_id].version)}
            answer = await api.post("/payment", params=params, json={**body, "sparse": True})
            assert answer.is_success, answer.text
    changes = await tool.changes(since)
    by_id = {p.external_id: p for p in changes.payments}
    voided, deleted = by_id[second], by_id[first]
    assert (voided.state, voided.applications) == (
        "voided",
        (PaymentApplication(exported.external_id, Decimal(0)),),
    )
    assert (deleted.state, deleted.applications) == ("deleted", ())
    # what a Payment webhook reads: the payment now (a deleted one: gone)
    one = await tool.payment(second)
    assert one is not None
    assert (one.state, one.amount) == ("voided", Decimal(0))
    assert await tool.payment(first) == gone_payment(first)
