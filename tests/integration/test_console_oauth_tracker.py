"""The console in a real browser: connecting an OAuth tracker (QuickBooks Time) by its consent
page, and a replayed consent refused.

Shares the platform and browser of :mod:`test_console` (see :mod:`console_browser`). Bob, in his
workspace, picks QuickBooks Time under Integrations > Connect, gives its time zone, presses
"Continue to QuickBooks Time" and follows the link to QuickBooks Time's consent page (its real
address, ``https://rest.tsheets.com/api/v1/authorize``, which the browser reaches in the
sandbox: see :func:`route_to_sandboxes`), allows access, and lands on the new integration's
page, connected: the credential owner exchanged the code and holds the tokens, ingest tested
the connection with the access token, and the history import he asked for on the form (from a
fortnight ago) has started. Opening the same callback again is refused in words.
"""

import datetime as dt
import time
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, expect

from .console_browser import browser, new_page, platform, shot, sign_in
from .console_platform import BOB_CORE, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures

CONSENT_HOST = "https://rest.tsheets.com"
INGEST_HOST = "http://ingest.test"


async def route_to_sandboxes(page: Page, platform: ConsolePlatform) -> list[str]:
    """The browser's QuickBooks Time is its sandbox (answered in process), and ingest's public
    address (``http://ingest.test``) is the port ingest listens on here; the callback URLs the
    browser opened are returned as it opens them."""
    callbacks: list[str] = []
    qbt = httpx.AsyncClient(transport=httpx.ASGITransport(app=platform.qbt_app))

    async def consent(route: Route) -> None:
        request = route.request
        answer = await qbt.request(
            request.method,
            "http://qbt.sandbox" + urlsplit(request.url).path + _query(request.url),
            content=request.post_data_buffer,
            headers={"content-type": request.headers.get("content-type", "text/plain")},
        )
        await route.fulfill(
            status=answer.status_code,
            headers={k: v for k, v in answer.headers.items() if k != "content-length"},
            body=answer.content,
        )

    async def ingest(route: Route) -> None:
        callbacks.append(route.request.url)
        await route.continue_(url=platform.urls["ingest"] + route.request.url[len(INGEST_HOST) :])

    await page.route(f"{CONSENT_HOST}/**", consent)
    await page.route(f"{INGEST_HOST}/**", ingest)
    return callbacks


def _query(url: str) -> str:
    query = urlsplit(url).query
    return f"?{query}" if query else ""


async def test_an_oauth_tracker_connects_by_its_consent_page(
    platform: ConsolePlatform, browser: Browser
) -> None:
    started = time.monotonic()
    ws, url = platform.other_workspace, platform.console_url
    page = await new_page(browser)
    callbacks = await route_to_sandboxes(page, platform)
    await sign_in(page, url, ws, BOB_CORE)
    await expect(page).to_have_url(f"{url}/w/{ws}/integrations")
    await page.get_by_role("link", name="Connect QuickBooks Time").click()
    await expect(page.locator("#api_key")).to_have_count(0)  # no key to paste
    await page.get_by_label("Time zone (IANA)").fill("Europe/Berlin")
    await page.get_by_label("Sync direction").select_option("tracker_to_core")
    first_day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=14)
    await page.get_by_label("Import history from (optional)").fill(first_day.isoformat())
    await shot(page, "oauth-tracker-connect")
    await page.get_by_role("button", name="Continue to QuickBooks Time").click()
    await page.get_by_role("link", name="Go to QuickBooks Time").click()
    await expect(page.get_by_role("heading")).to_have_text("Allow access to QuickBooks Time?")
    await expect(page.locator("main")).to_contain_text("Ann Admin")
    await shot(page, "oauth-tracker-consent")
    await page.get_by_role("button", name="Allow").click()

    await page.wait_for_url(
        f"{url}/w/{ws}/integrations/*?notice=connected_importing", timeout=30_000
    )
    await expect(page.get_by_role("status")).to_contain_text("its history is being imported")
    integration = urlsplit(page.url).path.rsplit("/", 1)[-1]
    await expect(page.get_by_role("heading", level=1)).to_contain_text("QuickBooks Time")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("connected")
    await shot(page, "oauth-tracker-connected")
    async with platform.api("ingest", BOB_CORE) as ingest:
        found = (await ingest.get(f"/v1/workspaces/{ws}/integrations/{integration}")).json()
    assert (found["provider"], found["status"], found["fields"]) == (
        "quickbooks_time", "connected", {"timezone": "Europe/Berlin"}
    )  # fmt: skip
    assert found["account"], found  # who the consent acts as, from the connection test
    assert found["settings"]["direction"] == "tracker_to_core"
    async with platform.api("ingest", BOB_CORE) as ingest:
        runs = (await ingest.get(f"/v1/workspaces/{ws}/integrations/{integration}/imports")).json()
    assert [(r["kind"], r["from"]) for r in runs] == [("initial", first_day.isoformat())], runs
    await expect(page.locator("#import-runs tr.import-run")).to_have_count(1)

    # The same consent again (a replayed callback, the browser's back button): refused.
    assert len(callbacks) == 1
    await page.goto(callbacks[0])
    await expect(page.locator("#consent-error")).to_contain_text(
        "QuickBooks Time was not connected: unknown, used or expired state"
    )
    await shot(page, "oauth-tracker-replayed")
    await page.context.close()
    assert time.monotonic() - started < 60
