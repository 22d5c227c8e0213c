"""The console in a real browser: re-connecting a refused key keeps the integration.

Shares the platform and browser of :mod:`test_console` (see :mod:`console_browser`). Rita's
Everhour integration, in Bob's workspace (nobody in Everhour mapped there, so what its polls
read is never copied into Ann's Core), has a project mapping; Everhour then stops accepting her
key (she renewed it) and ingest's next poll finds it refused. The integration page says it needs
re-authorisation and offers the re-connect form: a wrong key is refused in words (nothing
changes), the renewed key re-connects the same integration (same id, settings and project
mapping), and the next poll works again.
"""

import time

import httpx
import pytest
from playwright.async_api import Browser, expect

from .console_browser import browser, everhour_mapped, new_page, platform, shot, sign_in
from .console_platform import BOB_CORE, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures

OLD_KEY, NEW_KEY = "everhour-rita-key-old", "everhour-rita-key-renewed"


async def connection(platform: ConsolePlatform, path: str) -> httpx.Response:
    async with platform.api("ingest", BOB_CORE) as ingest:
        return await ingest.get(path)


async def test_reconnect_keeps_the_integration(platform: ConsolePlatform, browser: Browser) -> None:
    started = time.monotonic()
    # In the other workspace (Bob's), where nobody in Everhour is mapped: what its polls read
    # (other tests' Everhour time) is held there, never copied into Ann's Core.
    ws, url = platform.other_workspace, platform.console_url
    project = platform.core.add_project(ws, "Intranet")
    rita = platform.everhour.add_user("Rita", api_key=OLD_KEY, email="rita@globex.test")
    settings = {"direction": "tracker_to_core", "frequency": "hourly"}
    created = await everhour_mapped(
        platform, ws, BOB_CORE, OLD_KEY, settings=settings, project=project
    )
    integration = created["integration_id"]
    base = f"/v1/workspaces/{ws}/integrations"
    mappings = f"{base}/{integration}/project-mappings"

    # Rita renews her key in Everhour: the old one is refused from now on, as the next poll finds.
    platform.everhour.users[rita].api_key = NEW_KEY
    assert platform.poller is not None
    poller = platform.poller
    await poller.polling.sync_schedules(poller.clock())  # its schedule row, as a tick makes it
    await poller.poll_one(integration)
    health = (await connection(platform, f"{base}/{integration}/health")).json()
    assert health["status"] == "needs_reauthorisation", health

    page = await new_page(browser)
    await sign_in(page, url, ws, BOB_CORE)
    await expect(page).to_have_url(f"{url}/w/{ws}/integrations")
    await page.goto(f"{url}/w/{ws}/integrations/{integration}")
    await expect(page.locator("#reauthorise")).to_contain_text("Needs re-authorisation")
    await shot(page, "reconnect-needed")

    await page.get_by_label("New Everhour API key").fill("not-a-key-of-anyone")
    await page.get_by_role("button", name="Re-connect Everhour").click()
    await expect(page.locator("#test-outcome")).to_contain_text("connection test failed")
    await shot(page, "reconnect-refused")

    await page.get_by_label("New Everhour API key").fill(NEW_KEY)
    await page.get_by_role("button", name="Re-connect Everhour").click()
    await expect(page.get_by_role("status").first).to_contain_text("Re-connected")
    assert f"/integrations/{integration}" in page.url
    after = (await connection(platform, f"{base}/{integration}")).json()
    assert after["status"] == "connected"
    assert after["settings"]["frequency"] == "hourly"
    assert after["revision"] > created["revision"]
    async with platform.api("mapping", BOB_CORE) as mapping:
        kept = await mapping.get(mappings)
    assert [m["core_project_id"] for m in kept.json()] == [project], kept.text

    await poller.poll_one(integration)  # the next poll uses the new key
    health = (await connection(platform, f"{base}/{integration}/health")).json()
    assert health["status"] == "ok", health
    await page.reload()
    await expect(page.locator("#reauthorise")).to_have_count(0)
    await shot(page, "reconnected")
    print(f"re-connect test: {time.monotonic() - started:.1f} s")
