"""The console in a real browser: every screen reachable from the menu is usable at a phone's
width, with labelled fields, and from the keyboard.

Shares the platform and browser of :mod:`test_console` (see :mod:`console_browser`). Bob, signed
in with the keyboard, opens each page of the main menu (and the pages its links lead to: a
connect form, a new report, an integration's page and its mapping, task and conflict pages) at
390 px: nothing is wider than the screen (wide tables scroll inside their box), every form
field has a label that names it, and the first Tab reaches "Skip to content"; on the task links
page he links a ticket to a task by hand and unlinks it. The portal's sign-in page is checked
the same way.
"""

import time

import pytest
from playwright.async_api import Browser, Page, expect

from .console_browser import browser, everhour_mapped, new_page, platform, shot, sign_in
from .console_platform import BOB_CORE, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures

PHONE_WIDTH, PHONE_HEIGHT = 390, 844

# A form field the page shows without an accessible name (its <label>, aria-label or
# aria-labelledby), as a screen reader would find it; hidden inputs are not fields.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !e.getAttribute('aria-labelledby'))
  .map(e => e.outerHTML.slice(0, 120))"""
WIDER = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


async def usable(page: Page, path: str, name: str) -> None:
    answer = await page.goto(path, timeout=60_000)  # Ops reads the broker: slow when it is busy
    assert answer is not None
    assert answer.status == 200, f"{path}: {answer.status} {await page.inner_text('main')}"
    assert await page.evaluate(WIDER) <= 0, f"{path} is wider than a phone's screen"
    assert await page.evaluate(UNLABELLED) == [], f"{path} has fields without a label"
    await page.keyboard.press("Tab")
    await expect(page.locator(":focus")).to_have_text("Skip to content")
    await shot(page, f"phone-{name}")


async def test_every_screen_is_usable_at_a_phones_width(
    platform: ConsolePlatform, browser: Browser
) -> None:
    started = time.monotonic()
    # In Bob's workspace, with an Everhour integration of its own (Tess's: nobody is mapped
    # there, and it only reads from Everhour, on an hourly poll the platform never ticks).
    ws, url = platform.other_workspace, platform.console_url
    project = platform.core.add_project(ws, "Phone app")
    platform.everhour.add_user("Tess", api_key="everhour-tess-key", email="tess@globex.test")
    settings = {"direction": "tracker_to_core", "frequency": "hourly"}
    created = await everhour_mapped(
        platform, ws, BOB_CORE, "everhour-tess-key", settings=settings, project=project
    )
    page = await new_page(browser, width=PHONE_WIDTH, height=PHONE_HEIGHT)
    await sign_in(page, url, ws, BOB_CORE)
    await expect(page).to_have_url(f"{url}/w/{ws}/integrations")
    menu = page.get_by_role("navigation", name="Main").get_by_role("link")
    pages = {await link.inner_text(): await link.get_attribute("href") for link in await menu.all()}
    assert list(pages) == [
        "Integrations", "Sync log", "Accounting", "Clients", "Projects", "Invoices", "Reports",
        "Ops",
    ]  # fmt: skip
    # Not Ops: reporting reads the broker's groups for it, which takes longer than the console
    # waits on a broker shared with other runs (the console then says so in words); its page
    # is the ops test's (test_console.py).
    for name, path in list(pages.items())[:-1]:
        assert path is not None
        await usable(page, f"{url}{path}", name.lower().replace(" ", "-"))
    await usable(page, f"{url}/w/{ws}/reports/new", "new-report")
    await usable(page, f"{url}/w/{ws}/integrations/new/everhour", "connect-everhour")

    base = f"{url}/w/{ws}/integrations/{created['integration_id']}"
    for sub in ("", "/projects", "/users", "/conflicts", "/tasks"):
        await usable(page, f"{base}{sub}", f"integration{sub.replace('/', '-')}")

    # A ticket linked to a task by hand (on the phone), then unlinked.
    ticket = platform.core.add_ticket(ws, "Phone layout", project_id=project)
    task = platform.everhour.add_task(platform.everhour_project, "Mobile layout pass")
    await page.reload()  # the new task in the list of the mapped project's tasks
    await page.get_by_label("Core ticket id").fill(ticket)
    await page.get_by_label("Everhour task", exact=True).select_option(task)
    await page.get_by_role("button", name="Save link").click()
    await expect(page.get_by_role("status")).to_contain_text("Mapping saved")
    linked = page.locator("#task-links tbody tr", has_text=ticket)
    await expect(linked).to_contain_text("By hand")
    await expect(linked).to_contain_text(task)
    await shot(page, "phone-task-linked-by-hand")
    await linked.get_by_role("button", name="Unlink").click()
    await expect(page.get_by_role("status")).to_contain_text("Mapping removed")
    await expect(page.locator("#task-links tbody tr", has_text=ticket)).to_have_count(0)

    portal = await new_page(browser, width=PHONE_WIDTH, height=PHONE_HEIGHT)
    await usable(portal, f"{url}/portal", "portal-signin")
    await portal.context.close()
    await page.context.close()
    print(f"usable at a phone's width: {time.monotonic() - started:.1f} s")
