"""The console in a real browser: the accounting article clicked through.

Shares the platform and browser of :mod:`test_console` (see :mod:`console_browser`). Ann adds
QuickBooks Online under Accounting (its consent page is another site, whose "Allow" is a POST:
she comes back signed in), sees its clients mirrored with the tool's icon, gives a project its
client and rate, creates and exports an invoice; the accountant changes its amount in QuickBooks
(the console warns) and then deletes it there, and deleting it here uninvoices its entries.
A client is archived and unarchived (never deleted).
"""

import re

import pytest
from playwright.async_api import Browser, expect

from timebridge_common.testing import wait_for

from .console_browser import (
    browser,
    new_page,
    platform,
    quickbooks_consent_page,
    reload_until,
    shot,
    sign_in,
)
from .console_platform import ANN_CORE, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures


async def test_accounting_article_through_the_console(
    platform: ConsolePlatform, browser: Browser
) -> None:
    page = await new_page(browser)
    url, ws = platform.console_url, platform.workspace
    async with platform.api("invoice-export") as api:

        async def knows_workspace() -> bool:
            return (await api.get(f"/v1/workspaces/{ws}/projects")).status_code == 200

        await wait_for(knows_workspace, timeout_s=20)
    await sign_in(page, url, ws, ANN_CORE)
    await expect(page).to_have_url(f"{url}/w/{ws}/integrations")

    # Add Integration: QuickBooks Online's consent page (Intuit's site: "Allow" is a POST), then
    # back through Timebridge's callback to the Accounting page, still signed in.
    await quickbooks_consent_page(page, platform)
    await page.get_by_role("link", name="Accounting").click()
    await page.get_by_role("button", name="Connect QuickBooks Online").click()
    await page.get_by_role("link", name="Continue to QuickBooks Online").click()
    await expect(page.get_by_role("heading")).to_have_text("Allow Timebridge to connect?")
    await page.get_by_role("button", name="Allow").click()
    await expect(page).to_have_url(re.compile(rf"/w/{ws}/accounting\?notice=accounting_connected"))
    await expect(page.get_by_role("status")).to_contain_text("Connected")
    connection = page.locator("#accounting-connections tbody tr").first
    await expect(connection).to_contain_text("QuickBooks Online")
    await expect(connection).to_contain_text(platform.realm)
    await expect(connection).to_contain_text("connected")
    await shot(page, "12-accounting-connected")

    # Clients are mirrored a moment later, each with the icon of its tool.
    await page.get_by_role("link", name="Clients").click()
    client = page.locator("#clients tbody tr", has_text="Website Client")
    await reload_until(page, client, "the mirrored client")
    await expect(client.get_by_role("img", name="from QuickBooks Online")).to_be_visible()
    await shot(page, "13-clients")

    # Billable time on a project of the client, at 120.00 an hour (Projects and rates).
    await page.get_by_role("link", name="Projects", exact=True).click()
    client_label = "Website Client (QuickBooks Online)"
    await page.get_by_label("Client of Website").select_option(label=client_label)
    await page.get_by_role("button", name="Save client").click()
    await expect(page.get_by_role("status")).to_contain_text("Client saved")
    await page.get_by_label("Hourly rate of Website").fill("12O")  # a typo: said in words
    await page.get_by_role("button", name="Save rate").click()
    await expect(page.locator("#form-error")).to_contain_text("hourly rate as a number")
    await page.get_by_label("Hourly rate of Website").fill("120.00")
    await page.get_by_role("button", name="Save rate").click()
    await expect(page.get_by_role("status")).to_contain_text("Rate saved")
    website = page.locator("#projects tbody tr", has_text="Website")
    await expect(website).to_contain_text("120")
    await expect(page.get_by_label("Client of Website")).to_have_value(re.compile(".+"))
    await shot(page, "13b-projects-and-rates")
    async with platform.api("invoice-export") as api:
        entry = await platform.log_in_core(
            date="2026-10-21", duration_seconds=3600, notes="Invoice me", billable=True
        )

        async def in_ledger() -> bool:
            listed = await api.get(f"/v1/workspaces/{ws}/billable-entries?uninvoiced=true")
            return any(e["entry_id"] == entry for e in listed.json())

        await wait_for(in_ledger, timeout_s=60)  # a busy broker

    # Create the invoice for October (the other test's time is in November), export it.
    await page.get_by_role("link", name="Invoices").click()
    await page.get_by_label("Client").select_option(label="Website Client (QuickBooks Online)")
    await page.get_by_label("Period from").fill("2026-10-01")
    await page.get_by_label("Period to").fill("2026-10-31")
    await page.get_by_role("button", name="Create draft").click()
    await expect(page.get_by_role("heading", name=re.compile("Invoice preview"))).to_be_visible()
    await expect(page.locator("#invoice-total")).to_contain_text("120.00 USD")
    await page.get_by_role("button", name="Export").click()
    await expect(page.get_by_role("status")).to_contain_text("Export requested")
    await reload_until(page, page.locator("#tool-status"), "the exported invoice's tool state")
    await expect(page.locator("#tool-status")).to_contain_text("draft")
    await shot(page, "14-invoice-exported")
    await page.get_by_role("link", name="← Invoices").click()
    listed = page.locator("#invoices tbody tr", has_text="Website Client")
    await expect(listed).to_contain_text("120.00 USD")
    await shot(page, "15-invoices")

    # The accountant changes the amount in QuickBooks: the preview and the list warn.
    await listed.get_by_role("link", name="Website Client").click()
    async with platform.api("invoice-export") as api:
        invoices = (await api.get(f"/v1/workspaces/{ws}/invoices")).json()
        invoice = (
            await api.get(f"/v1/workspaces/{ws}/invoices/{invoices[0]['invoice_id']}")
        ).json()
        provider_id = invoice["tool"]["provider_invoice_id"]
    record = platform.qbo.companies[platform.realm].live("Invoice", provider_id).fields
    item = record["Line"][0]["SalesItemLineDetail"]["ItemRef"]
    line = {"Qty": 1, "UnitPrice": 150, "ItemRef": item}
    edit = {
        "Line": [
            {"Amount": 150.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": line}
        ]
    }
    await platform.in_quickbooks("PATCH", f"/invoices/{provider_id}", edit)
    await page.get_by_role("button", name="Read the status from the tool").click()
    changed = page.get_by_role("alert").filter(has_text="The amount was changed in QuickBooks")
    await expect(changed).to_contain_text(re.compile(r"150(\.00)? USD there, 120\.00 USD"))
    await shot(page, "15b-invoice-amount-changed")
    await page.get_by_role("link", name="← Invoices").click()
    await expect(listed.locator(".error")).to_contain_text("The amount was changed")
    await listed.get_by_role("link", name="Website Client").click()

    # Deleted in QuickBooks: the status says so; deleting it here uninvoices its entries.
    await platform.in_quickbooks("DELETE", f"/invoices/{provider_id}")
    await page.get_by_role("button", name="Read the status from the tool").click()
    await expect(page.locator("#tool-status")).to_contain_text("deleted")
    await shot(page, "16-invoice-deleted-in-tool")
    await page.get_by_role("button", name=re.compile("^Delete")).click()
    await expect(page.get_by_role("status")).to_contain_text("entries are uninvoiced again")
    async with platform.api("invoice-export") as api:
        listed_entries = await api.get(f"/v1/workspaces/{ws}/billable-entries?uninvoiced=true")
        assert entry in [e["entry_id"] for e in listed_entries.json()]

    # A client is archived here, never deleted: it stays listed, and comes back unarchived.
    await page.get_by_role("link", name="Clients").click()
    await client.get_by_role("button", name="Archive").click()
    await expect(page.get_by_role("status")).to_contain_text("Client archived")
    await expect(client).to_contain_text("archived (in Timebridge)")
    await shot(page, "16b-client-archived")
    await client.get_by_role("button", name="Unarchive").click()
    await expect(page.get_by_role("status")).to_contain_text("Client active again")
    await expect(client).to_contain_text("active")
    await page.context.close()
