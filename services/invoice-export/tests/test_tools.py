"""The production accounting tools (``adapters/tools.py``) against the in-process sandboxes.

Each tool goes through what the handlers do with it: consent and the companies it gave, the
client mirror, changes made in the tool, exports repeated and with lost answers, and invoices
changed in the tool afterwards. Time is fake (retries and budgets cost nothing); a lost answer
costs the transport's real timeout.
"""

import asyncio
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.freshbooks.webhooks import verify_webhook
from timebridge_providers.freshbooks.wire import SIGNATURE_HEADER
from timebridge_providers.kit.accounting import CLOCK_SKEW

from timebridge_common.outbound.http import Budgets, ProviderError, RequestBudget, RetryPolicy
from timebridge_invoice_export.adapters.tools import ProductionTools
from timebridge_invoice_export.config import FRESHBOOKS, QUICKBOOKS, XERO, AccountingApp, Settings
from timebridge_invoice_export.domain.accounting import (
    Address,
    ExportDraft,
    ExportLine,
    TaxDetails,
    Tenant,
    ToolClient,
    ToolInvoice,
)
from timebridge_invoice_export.handlers.ports import (
    AccountingTool,
    Consent,
    NotConfiguredError,
    ToolConnection,
)
from timebridge_sandboxes import freshbooks as fb_sandbox
from timebridge_sandboxes import quickbooks as qbo_sandbox
from timebridge_sandboxes import xero as xero_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport

BASE = "http://tool.test"
REDIRECT = "https://timebridge.test/v1/oauth/callback"
HOOK = "http://timebridge.test/v1/webhooks/freshbooks"
DAY = dt.date(2026, 11, 20)
DUE = DAY + dt.timedelta(days=14)
START = FakeTime().utcnow()
INVOICE_ID = "inv_01JD7Q4W8M"
NOTE = "Timebridge invoice inv_01JD7Q4W8M, November"
TOTAL = Decimal("297.49")
"""1.5 h x 120.00 + 0.75 h x 99.99 (74.9925, rounded) + one 42.50 expense."""
UNCONFIGURED: dict[str, AccountingApp] = {
    "quickbooks": QUICKBOOKS,
    "xero": XERO,
    "freshbooks": FRESHBOOKS,
}


def draft(client_id: str, invoice_id: str = INVOICE_ID) -> ExportDraft:
    lines = (
        ExportLine(
            "T-42 Login page (Ann)",
            Decimal("1.50"),
            Decimal("120.00"),
            Decimal("180.00"),
            "time",
            DAY,
        ),
        ExportLine(
            "T-43 Code review (Bo)", Decimal("0.75"), Decimal("99.99"), Decimal("74.99"), "time"
        ),
        ExportLine("Train ticket", Decimal(1), Decimal("42.50"), Decimal("42.50"), "expense"),
    )
    return ExportDraft(
        invoice_id=invoice_id,
        client_external_id=client_id,
        issue_date=DAY,
        due_date=DUE,
        currency="USD",
        lines=lines,
        total=TOTAL,
        note=NOTE,
    )


class FakeBudgets(Budgets):
    """The process's budgets, one per key as in production, waiting on fake time."""

    def __init__(self, fake: FakeTime) -> None:
        super().__init__()
        self.fake = fake
        self.made: dict[tuple[str, str, str], RequestBudget] = {}

    def get(
        self, provider: str, base_url: str, credential: str, limit: tuple[int, float]
    ) -> RequestBudget:
        key = (provider, base_url, credential)
        if key not in self.made:
            self.made[key] = RequestBudget(*limit, clock=self.fake.clock, sleep=self.fake.sleep)
        return self.made[key]


@dataclass(kw_only=True)
class Rig:
    """One sandbox, the tools pointed at it, and every request and answer they exchanged."""

    provider: str
    app: AccountingApp
    fake: FakeTime
    faults: Faults
    sandbox: ASGIApp
    tenant: str
    sent: list[httpx.Request] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    budgets: FakeBudgets = field(init=False)

    def __post_init__(self) -> None:
        self.budgets = FakeBudgets(self.fake)

    def http(self, provider: str) -> httpx.AsyncClient:
        assert provider == self.provider

        async def on_request(request: httpx.Request) -> None:
            self.sent.append(request)

        async def on_response(response: httpx.Response) -> None:
            self.answers.append(response.status_code)

        return httpx.AsyncClient(
            transport=TimeoutTransport(self.sandbox, 2.0),
            event_hooks={"request": [on_request], "response": [on_response]},
        )

    def options(self) -> dict[str, Any]:
        return {
            "http": self.http,
            "retry": RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow),
            "clock": self.fake.utcnow,
            "budgets": self.budgets,
        }

    def tools(self, **options: Any) -> ProductionTools:
        apps = UNCONFIGURED | {self.provider: self.app}
        return ProductionTools(apps, **(self.options() | options))

    async def consent(self, flow: Consent, state: str = "st-1") -> dict[str, str]:
        """The admin is sent to the consent screen; the sandbox's user allows at once."""
        async with httpx.AsyncClient(transport=httpx.ASGITransport(self.sandbox)) as browser:
            answer = await browser.get(flow.authorize_url(REDIRECT, state))
        assert answer.status_code == 302, answer.text
        back = httpx.URL(answer.headers["location"])
        assert str(back.copy_with(query=None)) == REDIRECT
        return dict(back.params)

    async def connect(self, tools: ProductionTools | None = None) -> tuple[AccountingTool, str]:
        """Consent, code exchange, and the tool of the rig's company; and its access token."""
        tools = tools or self.tools()
        flow = tools.oauth(self.provider, REDIRECT)
        callback = await self.consent(flow)
        tokens = await flow.endpoint.exchange_code(callback["code"], REDIRECT)
        connection = ToolConnection("conn-1", self.provider, self.tenant)
        self.sent.clear()
        self.answers.clear()
        return tools.tool(connection, tokens.access_token), tokens.access_token

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """What a user does in the tool's screens (the sandbox's admin API)."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(self.sandbox), base_url=f"{BASE}/_sandbox"
        ) as api:
            answer = await api.request(method, path, json=body)
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def writes(self, method: str, path_end: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == method and r.url.path.endswith(path_end)]


def _app(client_id: str, secret: str, authorize: str, token: str) -> AccountingApp:
    return AccountingApp(
        client_id=client_id,
        client_secret=SecretStr(secret),
        api_url=BASE,
        authorize_url=f"{BASE}{authorize}",
        token_url=f"{BASE}{token}",
    )


def _fake() -> tuple[FakeTime, Faults]:
    fake = FakeTime()
    return fake, Faults(clock=fake.clock)


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
    fake, faults = _fake()
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
    app = _app("qbo-app", "qbo-secret", "/connect/oauth2", "/oauth2/v1/tokens/bearer")
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


async def test_unconfigured_tools_name_the_settings_to_set() -> None:
    tools = ProductionTools(UNCONFIGURED)
    expected: tuple[tuple[str, str], ...] = (
        ("quickbooks", "TB_QUICKBOOKS__CLIENT_ID"),
        ("xero", "TB_XERO__CLIENT_SECRET"),
        ("freshbooks", "TB_FRESHBOOKS__CLIENT_ID"),
    )
    for provider, variable in expected:
        with pytest.raises(NotConfiguredError, match=variable):
            tools.oauth(provider, REDIRECT)
    with pytest.raises(NotConfiguredError, match="not an accounting tool"):
        tools.oauth("nope", REDIRECT)
    await tools.aclose()


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
    assert cdc.url.params["entities"] == "Customer,Invoice"

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


# ---- Xero ------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class XeroRig(Rig):
    state: xero_sandbox.XeroState

    def contact(self, name: str, **fields: Any) -> str:
        return self.state.add_contact(self.tenant, name, **fields)


@pytest.fixture
def xero() -> XeroRig:
    fake, faults = _fake()
    state = xero_sandbox.XeroState(now=fake.utcnow)
    state.add_app("xero-app", "xero-secret", [REDIRECT])
    tenant = state.add_tenant("Demo Company (NZ)")
    sandbox = xero_sandbox.create_xero_sandbox(
        state, faults, rate_limit=RateLimit(*xero_sandbox.RATE_LIMIT, clock=fake.clock)
    )
    app = _app("xero-app", "xero-secret", "/identity/connect/authorize", "/connect/token")
    return XeroRig(
        provider="xero",
        app=app,
        fake=fake,
        faults=faults,
        sandbox=sandbox,
        tenant=tenant,
        state=state,
    )


async def test_xero_consent_lists_the_connected_organisations(xero: XeroRig) -> None:
    globex = xero.state.add_tenant("Globex Holdings")
    flow = xero.tools().oauth("xero", REDIRECT)
    assert "scope=offline_access%20accounting.transactions" in flow.authorize_url(REDIRECT, "s")
    callback = await xero.consent(flow, "st-2")
    assert callback["state"] == "st-2"
    tokens = await flow.endpoint.exchange_code(callback["code"], REDIRECT)
    assert tokens.expires_at == START + dt.timedelta(minutes=30)
    tenants = await flow.tenants(tokens, callback)
    assert sorted(tenants, key=lambda t: t.name) == [
        Tenant(xero.tenant, "Demo Company (NZ)"),
        Tenant(globex, "Globex Holdings"),
    ]
    assert xero.sent[-1].url.path == "/connections"


async def test_xero_active_clients_are_customers_and_new_contacts_not_suppliers(
    xero: XeroRig,
) -> None:
    addresses = [
        {"AddressType": "STREET", "AddressLine1": "9 Side St", "City": "Leeds"},
        {
            "AddressType": "POBOX",
            "AddressLine1": "PO Box 12",
            "AddressLine2": "Floor 3",
            "AddressLine3": "Wing C",
            "City": "London",
            "Region": "Greater London",
            "PostalCode": "EC1A 1BB",
            "Country": "United Kingdom",
        },
    ]
    acme = xero.contact(
        "Acme Corp", email="ap@acme.test", tax_number="GB123456789", addresses=addresses
    )
    newbie = xero.contact("New Client Ltd", is_customer=False)
    xero.contact("Paper Supplies", is_customer=False, is_supplier=True)
    gone = xero.contact("Former Customer")
    street_only = xero.contact("Street Only", addresses=[{"AddressType": "POBOX"}, addresses[0]])
    await xero.admin("PATCH", f"/contacts/{gone}", {"ContactStatus": "ARCHIVED"})
    tool, _ = await xero.connect()

    clients = await tool.active_clients()
    assert [c.name for c in clients] == ["Acme Corp", "New Client Ltd", "Street Only"]
    assert clients[0] == ToolClient(
        external_id=acme,
        name="Acme Corp",
        email="ap@acme.test",
        address=Address(
            "PO Box 12", "Floor 3, Wing C", "London", "Greater London", "EC1A 1BB", "United Kingdom"
        ),
        tax=TaxDetails(tax_number="GB123456789"),
        currency=None,
        active=True,
        updated_at=xero.state.contacts[acme].updated_at,
    )
    assert (clients[1].external_id, clients[1].email, clients[1].address, clients[1].tax) == (
        newbie,
        None,
        None,
        TaxDetails(),
    )
    assert clients[2].address == Address("9 Side St", None, "Leeds")
    archived = await tool.client(gone)
    assert archived is not None
    assert (archived.name, archived.active) == ("Former Customer", False)
    assert await tool.client(street_only) == clients[2]
    assert await tool.client(str(uuid.uuid4())) is None


async def test_xero_changes_report_renames_archives_and_invoices_read_at_least_once(
    xero: XeroRig,
) -> None:
    acme, globex = xero.contact("Acme Corp"), xero.contact("Globex")
    xero.contact("Untouched Inc")
    tool, _ = await xero.connect()
    xero.fake.now += 90
    since = xero.fake.utcnow()
    exported = await tool.export(draft(acme))
    await xero.admin("PATCH", f"/contacts/{acme}", {"Name": "Acme Renamed"})
    await xero.admin("PATCH", f"/contacts/{globex}", {"ContactStatus": "ARCHIVED"})
    xero.sent.clear()

    changes = await tool.changes(since)
    assert {(c.external_id, c.name, c.active) for c in changes.clients} == {
        (acme, "Acme Renamed", True),
        (globex, "Globex", False),
    }
    assert [(i.external_id, i.status) for i in changes.invoices] == [
        (exported.external_id, "draft")
    ]
    contacts = next(r for r in xero.sent if r.url.path.endswith("/Contacts"))
    assert contacts.url.params["includeArchived"] == "true"
    assert contacts.headers["If-Modified-Since"] == "2026-11-21T09:01:30Z"
    latest = max(
        xero.state.contacts[globex].updated_at, xero.state.invoices[exported.external_id].updated_at
    )
    assert latest > since - CLOCK_SKEW
    assert changes.cursor == since - CLOCK_SKEW  # changes made while reading are read again

    xero.fake.now += 300
    again = await tool.changes(since - CLOCK_SKEW)
    assert {c.external_id for c in again.clients} == {acme, globex}
    assert again.cursor == latest
    assert (await tool.changes(latest + dt.timedelta(seconds=1))).cursor is None


async def test_xero_export_looks_up_its_reference_and_creates_once_with_the_key(
    xero: XeroRig,
) -> None:
    tool, _ = await xero.connect(xero.tools(extras={"xero": {"account_code": "200"}}))
    acme = xero.contact("Acme Corp")
    xero.faults.lose_next_responses(1, delay_s=6.0)
    exported = await tool.export(draft(acme))

    lookup = xero.sent[0]
    assert lookup.url.params["where"] == f'Type=="ACCREC" AND Reference=="{INVOICE_ID}"'
    puts = xero.writes("PUT", "/Invoices")
    assert [r.headers["Idempotency-Key"] for r in puts] == [INVOICE_ID, INVOICE_ID]
    (body,) = json.loads(puts[0].content)["Invoices"]
    assert body == {
        "Type": "ACCREC",
        "Status": "DRAFT",
        "Contact": {"ContactID": acme},
        "LineItems": [
            {
                "Description": "T-42 Login page (Ann)",
                "Quantity": 1.5,
                "UnitAmount": 120.0,
                "LineAmount": 180.0,
                "AccountCode": "200",
            },
            {
                "Description": "T-43 Code review (Bo)",
                "Quantity": 0.75,
                "UnitAmount": 99.99,
                "LineAmount": 74.99,
                "AccountCode": "200",
            },
            {
                "Description": "Train ticket",
                "Quantity": 1.0,
                "UnitAmount": 42.5,
                "LineAmount": 42.5,
                "AccountCode": "200",
            },
        ],
        "Date": "2026-11-20",
        "DueDate": "2026-12-04",
        "Reference": INVOICE_ID,
        "CurrencyCode": "USD",
        "LineAmountTypes": "Exclusive",
    }
    assert list(xero.state.invoices) == [exported.external_id]
    assert exported == ToolInvoice(
        external_id=exported.external_id,
        client_external_id=acme,
        number="INV-0001",
        issue_date=DAY,
        due_date=DUE,
        status="draft",
        total=TOTAL,
        currency="USD",
        updated_at=xero.state.invoices[exported.external_id].updated_at,
    )

    xero.fake.now += 7 * 60  # Xero has forgotten the key: the reference finds the draft
    xero.sent.clear()
    assert await tool.export(draft(acme)) == exported
    assert xero.writes("PUT", "/Invoices") == []
    assert list(xero.state.invoices) == [exported.external_id]


async def test_xero_invoice_follows_edits_approval_payments_voiding_and_deletion(
    xero: XeroRig,
) -> None:
    tool, token = await xero.connect(xero.tools(extras={"xero": {"account_code": "200"}}))
    acme = xero.contact("Acme Corp")
    exported = await tool.export(draft(acme))
    invoice_id = exported.external_id
    lines = [{"Description": "T-42: 2 h", "Quantity": 2, "UnitAmount": 120, "AccountCode": "200"}]
    edit = {"InvoiceNumber": "INV-2026-17", "Date": "2026-11-25", "LineItems": lines}
    await xero.admin("PATCH", f"/invoices/{invoice_id}", edit)
    edited = await tool.invoice(invoice_id)
    assert (edited.number, edited.issue_date, edited.due_date, edited.total, edited.status) == (
        "INV-2026-17",
        dt.date(2026, 11, 25),
        DUE,
        Decimal(240),
        "draft",
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(xero.sandbox)) as raw:
        submitted = await raw.post(
            f"{BASE}/api.xro/2.0/Invoices/{invoice_id}",
            json={"Invoices": [{"Status": "SUBMITTED"}]},
            headers={
                "Authorization": f"Bearer {token}",
                "xero-tenant-id": xero.tenant,
                "Accept": "application/json",
            },
        )
    assert submitted.status_code == 200, submitted.text
    assert (await tool.invoice(invoice_id)).status == "submitted"
    await xero.admin("POST", f"/invoices/{invoice_id}/approve")
    assert (await tool.invoice(invoice_id)).status == "sent"
    await xero.admin("POST", f"/invoices/{invoice_id}/payments", {"Amount": 100})
    partly = await tool.invoice(invoice_id)
    assert (partly.status, partly.total) == ("partially_paid", Decimal(240))
    await xero.admin("POST", f"/invoices/{invoice_id}/payments", {})
    assert (await tool.invoice(invoice_id)).status == "paid"

    voided = await tool.export(draft(acme, "inv_voided"))
    await xero.admin("POST", f"/invoices/{voided.external_id}/approve")
    await xero.admin("POST", f"/invoices/{voided.external_id}/void")
    assert (await tool.invoice(voided.external_id)).status == "voided"
    deleted = await tool.export(draft(acme, "inv_deleted"))
    await xero.admin("POST", f"/invoices/{deleted.external_id}/delete")
    assert (await tool.invoice(deleted.external_id)).status == "deleted"
    assert (await tool.export(draft(acme, "inv_deleted"))).status == "deleted"
    assert len(xero.state.invoices) == 3
    assert (await tool.invoice(str(uuid.uuid4()))).status == "deleted"


async def test_xero_clients_of_one_tenant_share_its_budget_and_five_call_slots(
    xero: XeroRig,
) -> None:
    other_tenant = xero.state.add_tenant("Globex Holdings")
    tools = xero.tools()
    first, token = await xero.connect(tools)
    second = tools.tool(ToolConnection("conn-2", "xero", xero.tenant), token)
    tools.tool(ToolConnection("conn-3", "xero", other_tenant), token)
    assert list(xero.budgets.made) == [("xero", BASE, xero.tenant), ("xero", BASE, other_tenant)]

    xero.faults.slow_down(0.2)
    await asyncio.gather(*(tool.active_clients() for tool in (first, second) * 5))
    assert xero.answers == [200] * 10
    assert xero.state.peak_in_flight[xero.tenant] == 5


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
    fake, faults = _fake()
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
    app = _app("fb-app", "fb-secret", "/oauth/authorize", "/auth/oauth/token")
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
    ]
    asked = freshbooks.receiver.verifications()
    assert [int(v["object_id"]) for v in asked] == list(callbacks)

    await tool.ensure_webhooks(HOOK)  # unverified: asked again, not registered again
    assert len(callbacks) == 2
    assert len(freshbooks.receiver.verifications()) == 4
    with pytest.raises(ProviderError) as wrong:
        await tool.verify_webhook_registration(asked[0]["object_id"], "not-the-verifier")
    assert wrong.value.status == 422
    for verification in asked:
        await tool.verify_webhook_registration(verification["object_id"], verification["verifier"])
    assert all(c.verified for c in callbacks.values())
    await tool.ensure_webhooks(HOOK)
    assert (len(callbacks), len(freshbooks.receiver.verifications())) == (2, 4)

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
    assert [c.uri for c in callbacks.values()].count(f"{HOOK}/second") == 2
