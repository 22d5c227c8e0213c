"""The console in a real browser: connecting Xero Projects by Xero's consent page, a second OAuth
tracker after QuickBooks Time (:mod:`test_console_oauth_tracker`), on the same shared platform.

Bob, in his workspace, picks Xero Projects under Integrations > Connect, gives the organisation
(its Xero tenant id) and its time zone, presses "Continue to Xero Projects" and follows the link
to Xero's consent page at its real address (``https://login.xero.com/identity/connect/
authorize``, which the browser reaches in the Xero Projects sandbox: it plays Xero's identity
server), sees the scopes the kit asks for (``projects`` and ``offline_access``), allows, and
lands on the new integration's page, connected: the credential owner exchanged the code at
Xero's token endpoint (the app as HTTP Basic) and keeps the tokens, and ingest tested the
connection with the access token against the organisation.
"""

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, expect

from .console_browser import browser, new_page, platform, shot, sign_in
from .console_platform import BOB_CORE, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures

XERO_LOGIN = "https://login.xero.com"
INGEST_HOST = "http://ingest.test"


async def route_to_sandbox(page: Page, platform: ConsolePlatform) -> list[str]:
    """The browser's login.xero.com is the Xero Projects sandbox (answered in process), and
    ingest's public address is the port ingest listens on here; the consent URLs the browser
    opened are returned."""
    opened: list[str] = []
    xero = httpx.AsyncClient(transport=httpx.ASGITransport(app=platform.xero_projects_app))

    async def login(route: Route) -> None:
        request = route.request
        opened.append(request.url)
        where = urlsplit(request.url)
        answer = await xero.request(
            request.method,
            f"http://xero.sandbox{where.path}" + (f"?{where.query}" if where.query else ""),
            content=request.post_data_buffer,
            headers={"content-type": request.headers.get("content-type", "text/plain")},
        )
        await route.fulfill(
            status=answer.status_code,
            headers={k: v for k, v in answer.headers.items() if k != "content-length"},
            body=answer.content,
        )

    async def ingest(route: Route) -> None:
        await route.continue_(url=platform.urls["ingest"] + route.request.url[len(INGEST_HOST) :])

    await page.route(f"{XERO_LOGIN}/**", login)
    await page.route(f"{INGEST_HOST}/**", ingest)
    return opened


async def test_xero_projects_connects_by_xeros_consent_page(
    platform: ConsolePlatform, browser: Browser
) -> None:
    started = time.monotonic()
    ws, url = platform.other_workspace, platform.console_url
    organisation = platform.xero_projects
    assert organisation is not None
    page = await new_page(browser)
    opened = await route_to_sandbox(page, platform)
    await sign_in(page, url, ws, BOB_CORE)
    await expect(page).to_have_url(f"{url}/w/{ws}/integrations")
    await page.get_by_role("link", name="Connect Xero Projects").click()
    await expect(page.locator("#api_key")).to_have_count(0)  # no key to paste
    await page.get_by_label("Organisation (Xero tenant id)").fill(organisation.tenant_id)
    await page.get_by_label("The organisation's time zone (IANA").fill("Pacific/Auckland")
    await shot(page, "oauth-xero-projects-connect")
    await page.get_by_role("button", name="Continue to Xero Projects").click()
    await page.get_by_role("link", name="Go to Xero Projects").click()
    await expect(page.get_by_role("heading")).to_have_text("Allow access to Xero?")
    await expect(page.locator("main")).to_contain_text("Ann Admin")
    await expect(page.locator("main")).to_contain_text("projects offline_access")
    await shot(page, "oauth-xero-projects-consent")
    await page.get_by_role("button", name="Allow").click()

    await page.wait_for_url(f"{url}/w/{ws}/integrations/*?notice=connected", timeout=30_000)
    integration = urlsplit(page.url).path.rsplit("/", 1)[-1]
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Xero Projects")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("connected")
    await shot(page, "oauth-xero-projects-connected")
    async with platform.api("ingest", BOB_CORE) as ingest:
        found = (await ingest.get(f"/v1/workspaces/{ws}/integrations/{integration}")).json()
    assert (found["provider"], found["status"]) == ("xero_projects", "connected")
    assert found["fields"] == {"tenant": organisation.tenant_id, "timezone": "Pacific/Auckland"}
    # The consent asked what the kit describes, for the owner's app, back to ingest's callback.
    [consent] = [u for u in opened if urlsplit(u).path == "/identity/connect/authorize"][:1]
    asked = {k: v[0] for k, v in parse_qs(urlsplit(consent).query).items()}
    assert asked["client_id"] == organisation.consents.client_id
    assert asked["redirect_uri"] == f"{INGEST_HOST}/v1/oauth/xero_projects/callback"
    assert set(asked["scope"].split()) >= {"projects", "offline_access"}
    assert organisation.consents.codes == {}  # the one code was exchanged
    await page.context.close()
    assert time.monotonic() - started < 60


async def test_a_tracker_without_an_oauth_app_says_what_to_configure(
    platform: ConsolePlatform, browser: Browser
) -> None:
    """No OAuth app is configured for Zoho Projects at this platform's credential owner: the
    console says so in the owner's words (what to set), not that the owner is unavailable."""
    ws, url = platform.other_workspace, platform.console_url
    page = await new_page(browser)
    await sign_in(page, url, ws, BOB_CORE)
    await page.get_by_role("link", name="Connect Zoho Projects").click()
    await page.get_by_label("Portal ID").fill("60000001")
    await page.get_by_label("The portal's time zone (IANA").fill("Asia/Kolkata")
    await page.get_by_role("button", name="Continue to Zoho Projects").click()
    error = page.locator("#form-error")
    await expect(error).to_contain_text("no OAuth app is configured for Zoho Projects")
    await expect(error).to_contain_text("TB_OAUTH_APPS__ZOHO__CLIENT_ID")
    await expect(error).not_to_contain_text("unavailable")
    await shot(page, "oauth-tracker-no-app")
    await page.context.close()
