"""The console in a real browser: the queue of held entries, assigned by hand.

Shares the platform and browser of :mod:`test_console` (see :mod:`console_browser`): an Everhour
integration holding the entries of people nobody mapped ("Queue" policy), one of them assigned
by hand on the User Mapping page (reached from the integration's count of held entries), and
mapping's assignment API refusing what it must; then the integration's settings offer both
sides' people as default users, its connection is re-tested with the saved key, and the sync
log's integration filter is a list.
"""

import re
import time
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from timebridge_common.testing import wait_for

from .console_browser import browser, everhour_mapped, new_page, platform, shot, sign_in
from .console_platform import ANN_CORE, ANN_KEY, BOB_CORE, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures


async def held_entries(platform: ConsolePlatform, integration: str) -> list[dict[str, Any]]:
    path = f"/v1/workspaces/{platform.workspace}/integrations/{integration}/held-entries"
    async with platform.api("mapping") as mapping:
        answer = await mapping.get(path)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


async def test_held_entry_assigned_by_hand(platform: ConsolePlatform, browser: Browser) -> None:
    started = time.monotonic()
    ws, url = platform.workspace, platform.console_url
    # An Everhour integration that holds unmapped people's entries (connected through the API:
    # the console's connect page is the guide test's); Max's emails differ between the systems.
    settings = {
        "direction": "core_to_tracker",
        "frequency": "realtime",
        "unmapped_user_policy": "queue",
        "conflict_policy": "manual_review",
    }
    created = await everhour_mapped(
        platform, ws, ANN_CORE, ANN_KEY, settings=settings, project=platform.project
    )
    integration = created["integration_id"]
    base = f"/v1/workspaces/{ws}/integrations/{integration}"

    # Max logs 2h in Core: nobody in Everhour is mapped to him, so the entry is held.
    entry = await platform.log_in_core(
        user_id=platform.core_user("Max"),
        ticket_id=platform.ticket,
        date="2026-11-23",
        started_at="2026-11-23T08:00:00Z",
        duration_seconds=7200,
        notes="Held for Max",
        billable=True,
    )

    async def held() -> bool:
        return any(h["external_id"] == entry for h in await held_entries(platform, integration))

    await wait_for(held, timeout_s=30)

    # The assignment API refuses what it must, and changes nothing then.
    assignment = f"{base}/held-entries/core/{entry}/assignment"
    async with platform.api("mapping") as mapping:
        nobody = await mapping.post(assignment, json={"user_id": "no-such-everhour-user"})
        assert nobody.status_code == 422, nobody.text
        assert "Everhour has no user no-such-everhour-user" in nobody.json()["detail"]
        other = await mapping.post(
            f"{base}/held-entries/core/te-not-held/assignment", json={"user_id": "x"}
        )
        assert other.status_code == 404, other.text
        assert "is not held" in other.json()["detail"]
    async with platform.api("mapping", BOB_CORE) as bob:
        refused = await bob.post(assignment, json={"user_id": "x"})
        assert refused.status_code == 403, refused.text
    assert await held()

    # The User Mapping page lists the held entry with why; assign it with the keyboard.
    page = await new_page(browser)
    await sign_in(page, url, ws, ANN_CORE)
    await expect(page).to_have_url(f"{url}/w/{ws}/integrations")
    await page.goto(f"{url}/w/{ws}/integrations/{integration}")
    await page.get_by_role("link", name="1: assign by hand").click()
    row = page.locator("#held-entries tbody tr", has_text=entry)
    await expect(row).to_contain_text("max@acme.test")
    await expect(row).to_contain_text("2h")
    await expect(row).to_contain_text("held until one is")
    await shot(page, "22-held-entries")
    phone = await new_page(browser, width=390, height=844, like=page)
    await phone.goto(page.url)
    await expect(phone.get_by_label(f"Everhour person of entry {entry}")).to_be_visible()
    await shot(phone, "23-held-entries-phone")
    await phone.goto(f"{url}/w/{ws}/projects")  # Projects and rates, readable at phone width
    await expect(phone.get_by_label("Hourly rate of Website")).to_be_visible()
    await shot(phone, "23b-projects-phone")
    await phone.context.close()

    person = page.get_by_label(f"Everhour person of entry {entry}")
    await person.select_option(label="Max M. mm@agency.test")
    await person.focus()
    await page.keyboard.press("Tab")
    await expect(row.get_by_role("button", name="Assign")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text("Entry assigned")
    await expect(page.locator("#held-entries tbody tr", has_text=entry)).to_have_count(0)
    max_row = page.locator("#user-mappings tbody tr", has_text="max@acme.test")
    await expect(max_row).to_contain_text("mm@agency.test")
    await expect(max_row).to_contain_text("Manually")
    await shot(page, "24-held-entry-assigned")

    # Settings pick the default users from both sides' people rather than typed ids.
    await page.goto(f"{url}/w/{ws}/integrations/{integration}")
    await expect(page.get_by_label("Default Everhour user")).to_contain_text("Max M.")
    await expect(page.get_by_label("Default Core user")).to_contain_text("max@acme.test")
    await expect(page.locator("#connection")).to_contain_text("Polling")
    await page.get_by_role("button", name="Test the saved key again").click()
    await expect(page.locator("#retest-outcome")).to_contain_text("Connection works")
    await shot(page, "25-integration-connection")

    # Released at once (the notice says so only when mapping answered "released"): no longer
    # held; mapping published it mapped to Max M. (the tracker write is the resolver's tests').
    assert not await held()

    # The sync log's integration filter is a list of the workspace's integrations.
    await page.goto(f"{url}/w/{ws}/sync-log")
    await page.get_by_label("Integration", exact=True).select_option(integration)
    await page.get_by_role("button", name="Apply filters").click()
    await expect(page).to_have_url(re.compile(f"integration_id={integration}"))
    async with platform.api("ingest") as ingest:
        gone = await ingest.delete(f"/v1/workspaces/{ws}/integrations/{integration}")
        assert gone.status_code == 200, gone.text
    await page.context.close()
    print(f"held entry assigned by hand: {time.monotonic() - started:.1f} s")
