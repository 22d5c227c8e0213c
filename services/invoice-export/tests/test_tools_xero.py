"""Xero through the production accounting tools, on its sandbox (see ``test_tools``)."""

import asyncio
import datetime as dt
import json
import uuid
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
    REDIRECT,
    START,
    TOTAL,
    Rig,
    accounting_app,
    draft,
    fake_time_and_faults,
)
from timebridge_providers.kit.accounting import CLOCK_SKEW
from timebridge_providers.kit.ports.accounting import PaymentApplication

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
from timebridge_sandboxes import xero as xero_sandbox
from timebridge_sandboxes.faults import RateLimit

# ---- Xero ------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class XeroRig(Rig):
    state: xero_sandbox.XeroState

    def contact(self, name: str, **fields: Any) -> str:
        return self.state.add_contact(self.tenant, name, **fields)


@pytest.fixture
def xero() -> XeroRig:
    fake, faults = fake_time_and_faults()
    state = xero_sandbox.XeroState(now=fake.utcnow)
    state.add_app("xero-app", "xero-secret", [REDIRECT])
    tenant = state.add_tenant("Demo Company (NZ)")
    sandbox = xero_sandbox.create_xero_sandbox(
        state, faults, rate_limit=RateLimit(*xero_sandbox.RATE_LIMIT, clock=fake.clock)
    )
    app = accounting_app("xero-app", "xero-secret", "/identity/connect/authorize", "/connect/token")
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
        gross_total=TOTAL,  # no tax in the sandbox's company
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


async def test_xero_changes_carry_payments_and_their_deletion(xero: XeroRig) -> None:
    tool, token = await xero.connect(xero.tools(extras={"xero": {"account_code": "200"}}))
    exported = await tool.export(draft(xero.contact("Acme Corp")))
    invoice_id = exported.external_id
    await xero.admin("POST", f"/invoices/{invoice_id}/approve")
    xero.fake.now += 60
    since = xero.fake.utcnow()
    await xero.admin("POST", f"/invoices/{invoice_id}/payments", {"Amount": 100})
    await xero.admin("POST", f"/invoices/{invoice_id}/payments", {"Amount": 140})
    changes = await tool.changes(since)
    assert [(p.state, p.amount, p.currency, p.applications) for p in changes.payments] == [
        ("recorded", Decimal(100), "USD", (PaymentApplication(invoice_id, Decimal(100)),)),
        ("recorded", Decimal(140), "USD", (PaymentApplication(invoice_id, Decimal(140)),)),
    ]
    second = changes.payments[1].external_id

    xero.fake.now += 60
    since = xero.fake.utcnow()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(xero.sandbox)) as raw:
        answer = await raw.post(
            f"{BASE}/api.xro/2.0/Payments/{second}",
            json={"Status": "DELETED"},
            headers={
                "Authorization": f"Bearer {token}",
                "xero-tenant-id": xero.tenant,
                "Accept": "application/json",
            },
        )
    assert answer.status_code == 200, answer.text
    changes = await tool.changes(since)
    assert [(p.external_id, p.state) for p in changes.payments] == [(second, "deleted")]
    assert (await tool.invoice(invoice_id)).status == "partially_paid"
    # what a webhook naming the invoice re-reads: its payments, the deleted one too
    of_invoice = await tool.invoice_payments(invoice_id)
    assert sorted((p.amount, p.state) for p in of_invoice) == [
        (Decimal(100), "recorded"),
        (Decimal(140), "deleted"),
    ]
    listed = next(r for r in reversed(xero.sent) if r.url.path.endswith("/Payments"))
    assert listed.url.params["where"] == f'Invoice.InvoiceID==guid("{invoice_id}")'
    one = await tool.payment(second)
    assert one is not None
    assert (one.external_id, one.state) == (second, "deleted")
    assert await tool.invoice_payments(xero.contact("Nobody Ltd")) == []


async def test_xero_reports_the_total_with_the_tax_it_adds(xero: XeroRig) -> None:
    """Lines go out without tax amounts (``Exclusive``): Xero adds the organisation's sales tax,
    and the invoice reads back with the amount before tax and the total with it."""
    xero.state.tenants[xero.tenant].sales_tax_rate = Decimal("0.10")
    tool, _ = await xero.connect(xero.tools(extras={"xero": {"account_code": "200"}}))
    exported = await tool.export(draft(xero.contact("Acme Corp")))
    taxed = sum(
        ((line.line_amount * Decimal("0.10")).quantize(Decimal("0.01")) for line in
         xero.state.invoices[exported.external_id].lines),
        Decimal(0),
    )  # fmt: skip
    assert (exported.total, exported.gross_total) == (TOTAL, TOTAL + taxed)
    assert taxed == Decimal("29.75")
