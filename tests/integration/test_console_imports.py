"""The console in a real browser: importing an integration's history, with a bar that moves.

Shares the platform and browser of :mod:`test_console` (see :mod:`console_browser`). Ann's
Everhour account holds time logged in September and October, before the integration existed.
Bob connects it in his workspace (where nobody in Everhour is mapped, so nothing imported is
copied into Ann's Core) with "Import history from" 1 October: ingest reads the period window by
window and the integration page's bar fills from what it has covered (sampled while it runs:
values between 0 and 100 seen, never going back). Then he backfills September on the
integration page: the run ends with exactly the entries Everhour holds for September, as
ingest's imports API says too. The runner pauses between windows in this test only, so the bar
can be watched; the numbers are ingest's own.
"""

import asyncio
import datetime as dt
import re
import time
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from .console_browser import browser, new_page, platform, shot, sign_in
from .console_platform import ANN_KEY, BOB_CORE, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures

SEPTEMBER = [dt.date(2026, 9, d) for d in (2, 9, 10, 17, 24, 30)]
OCTOBER = [dt.date(2026, 10, d) for d in (1, 8, 15, 29)]


async def log_in_everhour(platform: ConsolePlatform, task: str, day: dt.date) -> None:
    """Ann logs 45 minutes in Everhour (its API, as her browser's Everhour app does)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.everhour_app), base_url="http://everhour"
    ) as everhour:
        answer = await everhour.post(
            f"/tasks/{task}/time",
            headers={"X-Api-Key": ANN_KEY},
            json={"time": 2700, "date": day.isoformat(), "comment": f"Earlier work {day}"},
        )
    assert answer.status_code == 201, answer.text


async def watch_bar(page: Page, timeout_s: float = 60) -> list[int]:
    """The newest run's bar, sampled until it is done; the values seen."""
    row = page.locator("tr.import-run").first
    seen: list[int] = []
    deadline = time.monotonic() + timeout_s
    while True:
        state = await row.get_attribute("data-state")
        value = await row.locator("progress").get_attribute("value")
        if value is not None and (not seen or seen[-1] != int(value)):
            seen.append(int(value))
        if state in ("done", "failed", "cancelled"):
            return seen
        assert time.monotonic() < deadline, f"import not done: {await page.inner_text('main')}"
        await asyncio.sleep(0.15)


async def imports_of(platform: ConsolePlatform, integration: str) -> list[dict[str, Any]]:
    path = f"/v1/workspaces/{platform.other_workspace}/integrations/{integration}/imports"
    async with platform.api("ingest", BOB_CORE) as ingest:
        answer = await ingest.get(path)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


async def test_history_import_and_backfill_show_real_progress(
    platform: ConsolePlatform, browser: Browser
) -> None:
    started = time.monotonic()
    # In the other workspace (Bob's), where nobody in Everhour is mapped: the imported entries
    # (other tests' Everhour time among them) are held there, never copied into Ann's Core.
    ws, url = platform.other_workspace, platform.console_url
    task = platform.everhour.add_task(platform.everhour_project, "Discovery workshop")
    for day in SEPTEMBER + OCTOBER:
        await log_in_everhour(platform, task, day)
    assert platform.importer is not None
    platform.importer.pause_s = 0.4  # watchable: about 2.5 windows a second
    try:
        page = await new_page(browser)
        await sign_in(page, url, ws, BOB_CORE)
        await expect(page).to_have_url(f"{url}/w/{ws}/integrations")

        # Connect Everhour with its history from 1 October (Sep 30 is just outside it).
        await page.goto(f"{url}/w/{ws}/integrations/new/everhour")
        await page.get_by_label("Everhour API key").fill(ANN_KEY)
        await page.get_by_label("Sync direction").select_option("tracker_to_core")
        await page.get_by_label("Import history from (optional)").fill("2026-10-01")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status").first).to_contain_text(
            "its history is being imported"
        )
        integration = page.url.split("/integrations/")[1].split("?")[0]
        bar = page.locator("tr.import-run progress").first
        await expect(bar).to_be_visible()
        await shot(page, "import-running")
        seen = await watch_bar(page)
        assert seen == sorted(seen), f"the bar went back: {seen}"
        assert seen[-1] == 100
        assert any(0 < v < 100 for v in seen), f"no progress between 0 and 100: {seen}"
        initial = page.locator("tr.import-run").first
        await expect(initial.locator(".import-state")).to_contain_text("Done")
        # Its period runs to today: other tests' Everhour time after October may be in it too.
        assert int(await initial.locator(".entries-found").inner_text()) >= len(OCTOBER)
        await shot(page, "import-done")

        # Backfill September from the integration page.
        await page.get_by_label("From", exact=True).fill("2026-09-01")
        await page.get_by_label("To (empty: today)").fill("2026-09-30")
        await page.get_by_role("button", name="Import this period").click()
        await expect(page.get_by_role("status").first).to_contain_text("Import started")
        seen = await watch_bar(page)
        assert seen == sorted(seen)
        assert seen[-1] == 100
        backfill = page.locator("tr.import-run").first
        await expect(backfill).to_contain_text("2026-09-01 \u2013 2026-09-30")
        await expect(backfill.locator(".entries-found")).to_have_text(str(len(SEPTEMBER)))
        await expect(backfill.locator(".import-state")).to_contain_text("30 of 30 days")
        await shot(page, "import-backfill-done")

        runs = await imports_of(platform, integration)
        assert [r["kind"] for r in runs] == ["backfill", "initial"]
        assert runs[0]["state"] == "done"
        assert (runs[0]["entries_observed"], runs[0]["windows_done"]) == (len(SEPTEMBER), 5)
        assert runs[0]["finished_at"] is not None

        # A period that ends before it starts is refused in words, nothing started.
        await page.get_by_label("From", exact=True).fill("2026-09-20")
        await page.get_by_label("To (empty: today)").fill("2026-09-10")
        await page.get_by_role("button", name="Import this period").click()
        await expect(page.locator("#import-error")).to_contain_text("after the last day")
        assert len(await imports_of(platform, integration)) == 2
    finally:
        platform.importer.pause_s = 0.0
    print(f"history import test: {time.monotonic() - started:.1f} s")
    assert re.fullmatch(r"int_[0-9a-f]+", integration)
