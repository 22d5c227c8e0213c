"""The portal in a real browser: a client's contact signs in by an emailed link, sees only its
client's reports, downloads one, requests one for a period; another client's and another
workspace's runs are refused even by direct URL; a used link is refused.

Shares the console's platform and browser (see :mod:`console_browser`); the reports' mail goes
to the platform's outbox, where the test reads the sign-in link as the recipient would. The
API-level rules (expiry, limits, scope after an admin's change) are in test_console_portal_api.
"""

import re
import time
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from timebridge_common.testing import wait_for

from .conftest import unique
from .console_browser import browser, new_page, platform, shot
from .console_platform import ANN_CORE, BOB_CORE, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures

CONTACT_A, CONTACT_B = "contact@client-a.test", "contact@client-b.test"
LINK = re.compile(r"(https?://[^/\s]+)(/portal/sign-in\?token=tbl_[A-Za-z0-9_-]+)")


async def define_and_run(
    platform: ConsolePlatform, token: str, ws: str, *, name: str, client: str, recipient: str
) -> tuple[str, str]:
    """(definition, run) of a weekly time report for one client, run now (as an admin)."""
    async with platform.api("reporting", token) as reporting:
        created = await reporting.post(
            f"/v1/workspaces/{ws}/report-definitions",
            json={"name": name, "params": {"kind": "time", "clients": [client]},
                  "formats": ["pdf", "csv"], "recipients": [recipient]},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        definition = created.json()["definition_id"]
        started = await reporting.post(
            f"/v1/workspaces/{ws}/report-definitions/{definition}/runs",
            json={"start": "2026-11-16", "end": "2026-11-22"},
            headers={"idempotency-key": unique("portal-run")},
        )
        assert started.status_code == 202, started.text
    return definition, started.json()["run_id"]


async def runs_done(platform: ConsolePlatform, token: str, ws: str, run_ids: set[str]) -> None:
    async with platform.api("reporting", token) as reporting:

        async def done() -> bool:
            runs = (await reporting.get(f"/v1/workspaces/{ws}/report-runs")).json()
            return {r["run_id"] for r in runs if r["status"] == "done"} >= run_ids

        await wait_for(done, timeout_s=30)


def mails_to(platform: ConsolePlatform, address: str, subject: str) -> list[EmailMessage]:
    return [
        m for m in platform.outbox.sent if address in str(m["To"]) and subject in str(m["Subject"])
    ]


async def link_for(platform: ConsolePlatform, address: str, already: int) -> str:
    """The sign-in link in the newest link mail to ``address`` (after ``already`` of them)."""

    async def arrived() -> bool:
        return len(mails_to(platform, address, "sign-in link")) > already

    await wait_for(arrived, timeout_s=20)
    mail = mails_to(platform, address, "sign-in link")[-1]
    body = mail.get_body(("plain",))
    assert body is not None
    found = LINK.search(str(body.get_content()))
    assert found is not None, str(body.get_content())
    # The platform's reporting keeps the default TB_PORTAL__CONSOLE_URL: the path is the link.
    assert found[1] == "http://127.0.0.1:8006"
    return platform.console_url + found[2]


async def ask_for_link(page: Page, url: str, ws: str, email: str) -> None:
    """With the keyboard: the workspace is filled in from the address, type the email, Enter."""
    await page.goto(f"{url}/portal?workspace={ws}")
    await expect(page.get_by_label("Workspace id")).to_have_value(ws)
    await page.get_by_label("Email address").focus()
    await page.keyboard.type(email)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()


async def test_a_client_signs_in_by_link_and_sees_only_its_reports(
    platform: ConsolePlatform, browser: Browser
) -> None:
    started = time.monotonic()
    url, ws, elsewhere = platform.console_url, platform.other_workspace, platform.workspace
    name_a, name_b = unique("Client A weekly"), unique("Client B weekly")
    def_a, run_a = await define_and_run(
        platform, BOB_CORE, ws, name=name_a, client="cl_a", recipient=CONTACT_A
    )
    _, run_b = await define_and_run(
        platform, BOB_CORE, ws, name=name_b, client="cl_b", recipient=CONTACT_B
    )
    # Another workspace sends client A's contact a report too: not visible from this workspace.
    def_x, run_x = await define_and_run(
        platform, ANN_CORE, elsewhere, name=unique("Elsewhere"), client="cl_a", recipient=CONTACT_A
    )
    await runs_done(platform, BOB_CORE, ws, {run_a, run_b})
    await runs_done(platform, ANN_CORE, elsewhere, {run_x})

    # An unknown address and the contact get the same page; only the contact gets a mail.
    page = await new_page(browser, width=390, height=844)  # a phone
    await ask_for_link(page, url, ws, "stranger@nowhere.test")
    await ask_for_link(page, url, ws, CONTACT_A)
    await expect(page.locator("#portal-sent")).to_contain_text(CONTACT_A)
    await shot(page, "portal-01-check-your-mail")
    link = await link_for(platform, CONTACT_A, 0)
    assert mails_to(platform, "stranger@nowhere.test", "") == []

    # The link's page signs in with one key press (the button has the focus).
    await page.goto(link)
    await expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    await shot(page, "portal-02-link")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Your reports")).to_be_visible()
    await expect(page.locator("#portal-scope")).to_have_text("cl_a")
    reports = page.locator("#portal-reports tbody")
    await expect(reports).to_contain_text(name_a)
    await expect(reports).not_to_contain_text(name_b)
    await expect(page.locator(f'tr[data-run="{run_a}"]')).to_contain_text("Ready")
    for hidden in (run_b, run_x):
        await expect(page.locator(f'tr[data-run="{hidden}"]')).to_have_count(0)
    await shot(page, "portal-03-reports-phone")

    # Download the PDF: reporting's file of that run.
    async with page.expect_download() as download_info:
        await (
            page.locator(f'tr[data-run="{run_a}"]')
            .get_by_role("link", name=re.compile("PDF"))
            .click()
        )
    download = await download_info.value
    path = await download.path()
    assert path is not None
    assert path.read_bytes().startswith(b"%PDF")

    # Request the report for a period: a run appears, is generated, and is mailed too.
    before = len(mails_to(platform, CONTACT_A, "time report"))
    await page.get_by_label("Report", exact=True).select_option(label=name_a)
    await page.get_by_label("From").fill("2026-10-01")
    await page.get_by_label("To (included)").fill("2026-10-31")
    await page.get_by_role("button", name="Request report").click()
    await expect(page.get_by_role("status")).to_contain_text("Report requested")
    requested = page.locator("#portal-runs tr.run", has_text="2026-10-01")
    await expect(requested).to_contain_text("Ready", timeout=20_000)  # the list updates itself
    await shot(page, "portal-04-requested")

    async def mailed() -> bool:
        return len(mails_to(platform, CONTACT_A, "time report")) > before

    await wait_for(mailed, timeout_s=20)

    # Another client's run and another workspace's run, by direct URL: refused.
    for run_id in (run_b, run_x):
        answer = await page.goto(f"{url}/portal/runs/{run_id}/download/pdf")
        assert answer is not None
        assert answer.status == 404
        await expect(page.locator("#portal-error")).to_contain_text("no such report for you")
    await shot(page, "portal-05-other-client-refused")

    # The same link again (another browser): used already.
    again = await new_page(browser)
    await again.goto(link)
    await again.get_by_role("button", name="Sign in").click()
    await expect(again.locator("#portal-error")).to_contain_text("used already")
    await shot(again, "portal-06-link-used")

    # The portal is not the console: its session opens no admin page, and Core tokens open
    # no portal route.
    await page.goto(f"{url}/w/{ws}/reports")
    await expect(page).to_have_url(re.compile(r"/signin$"))
    await _portal_refuses_core_tokens(platform)

    # Signing out ends the portal session.
    await page.goto(f"{url}/portal/reports")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_contain_text("signed out")
    await page.goto(f"{url}/portal/reports")
    await expect(page.get_by_role("heading", name="Sign in to your reports")).to_be_visible()

    async with platform.api("reporting", ANN_CORE) as reporting:  # leave the workspace as it was
        deleted = await reporting.delete(f"/v1/workspaces/{elsewhere}/report-definitions/{def_x}")
        assert deleted.status_code == 204
    assert def_a
    print(f"portal browser test: {time.monotonic() - started:.1f} s")


async def _portal_refuses_core_tokens(platform: ConsolePlatform) -> None:
    """Every portal route but the two sign-in ones refuses a Core admin's token and none."""
    async with httpx.AsyncClient(base_url=platform.urls["reporting"], timeout=10) as reporting:
        document: dict[str, Any] = (await reporting.get("/openapi.json")).json()
        paths = [
            (method.upper(), path.replace("{run_id}", "run_x").replace("{fmt}", "pdf")
             .replace("{definition_id}", "rdef_x"))
            for path, operations in document["paths"].items()
            if path.startswith("/v1/portal/") and "sign-in-links" not in path
            and path != "/v1/portal/sessions"
            for method in operations
        ]  # fmt: skip
        assert len(paths) >= 7
        for method, path in paths:
            for headers in ({"authorization": f"Bearer {ANN_CORE}"}, {}):
                answer = await reporting.request(method, path, headers=headers, json={})
                assert answer.status_code == 401, (method, path, answer.text)
