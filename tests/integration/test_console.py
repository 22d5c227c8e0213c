"""The console in a real browser: the Everhour guide clicked through, and a cross-tenant attempt.

Headless Debian Chromium (driven by Playwright) signs in to the console, which reaches the real
services over HTTP with the admin's Core token; they run on the real Kafka and PostgreSQL (see
:mod:`console_platform`). Screenshots of every page go to ``.local/artifacts/console/``.
"""

import asyncio
import re
import time

import pytest
from playwright.async_api import Browser, expect

from timebridge_common.testing import wait_for

from .console_browser import (
    browser,
    dead_letter_core_entry,
    new_page,
    platform,
    reload_until,
    shot,
    sign_in,
)
from .console_platform import ANN_CORE, ANN_KEY, BOB_CORE, BOUNCING, ConsolePlatform

pytestmark = pytest.mark.integration
__all__ = ["browser", "platform"]  # the module's fixtures


async def test_everhour_guide_through_the_console(
    platform: ConsolePlatform, browser: Browser
) -> None:
    started = time.monotonic()
    page = await new_page(browser)
    url, ws = platform.console_url, platform.workspace

    # A wrong token: Core's refusal in words, still on the sign-in page.
    await sign_in(page, url, ws, "not-a-core-token")
    await expect(page.locator("#signin-error")).to_contain_text("Core did not accept the token")
    await shot(page, "01-signin-refused")

    # Ann, a Core admin of the workspace, signs in: no integration yet.
    await sign_in(page, url, ws, ANN_CORE)
    await expect(page).to_have_url(f"{url}/w/{ws}/integrations")
    await expect(page.get_by_role("heading", name="Integrations")).to_be_visible()
    await expect(page.get_by_text("No tracker is connected")).to_be_visible()
    await shot(page, "02-integrations-empty")

    # Connect Everhour: a wrong key first; Test Connection shows the integrations API's message.
    await page.get_by_role("link", name="Connect Everhour").click()
    await page.get_by_label("Everhour API key").fill("wrong-everhour-key")
    await page.get_by_role("button", name="Test Connection").click()
    outcome = page.locator("#test-outcome")
    await expect(outcome).to_contain_text("Connection failed")
    async with platform.api("ingest") as ingest:
        answer = await ingest.post(
            f"/v1/workspaces/{ws}/integrations/everhour/test",
            json={"api_key": "wrong-everhour-key"},
        )
    expected = answer.json()
    assert expected["ok"] is False
    await expect(outcome).to_contain_text(expected["message"])
    await shot(page, "03-connect-bad-key")

    # The right key works (an htmx swap: the page and the typed key stay), then Save.
    await page.get_by_label("Everhour API key").fill(ANN_KEY)
    await page.get_by_role("button", name="Test Connection").click()
    await expect(outcome).to_contain_text("Connection works")
    await expect(outcome).to_contain_text("ann@acme.test")
    await page.get_by_label("Sync direction").select_option("two_way")
    await page.get_by_label("Sync frequency").select_option("realtime")
    await page.get_by_label("Unmapped users").select_option("queue")
    await page.get_by_label("Conflict handling").select_option("manual_review")
    await shot(page, "04-connect-tested")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("The integration is connected")
    integration = page.url.split("/integrations/")[1].split("?")[0]
    await expect(page.get_by_role("heading", name="Health")).to_be_visible()
    await shot(page, "05-integration")

    # Project Mapping: once mapping has its copy of the new connection (a moment after Save).
    async with platform.api("mapping") as mapping:

        async def mapping_knows() -> bool:
            listed = await mapping.get(
                f"/v1/workspaces/{ws}/integrations/{integration}/project-mappings"
            )
            return listed.status_code == 200

        await wait_for(mapping_knows, timeout_s=20)
    await page.get_by_role("link", name="Project mapping").click()
    await page.get_by_label("Core project", exact=True).select_option(
        label=f"Website ({platform.project})"
    )
    # Everhour's projects are listed to pick from; one deleted in Everhour after the page was
    # shown (an option of an id Everhour no longer knows) is refused with the reason.
    tracker = page.get_by_label("Everhour project", exact=True)
    await tracker.evaluate("s => s.add(new Option('Gone', 'ev:does-not-exist', true, true))")
    await page.get_by_role("button", name="Save mapping").click()
    await expect(page.locator("#form-error")).to_contain_text("Not saved")
    await page.get_by_label("Core project", exact=True).select_option(platform.project)
    await tracker.select_option(platform.everhour_project)
    await page.get_by_role("button", name="Save mapping").click()
    await expect(page.get_by_role("status")).to_contain_text("Mapping saved")
    mapped = page.locator("#project-mappings tbody tr").first
    await expect(mapped.locator("td").nth(0)).to_have_text(f"Website {platform.project}")
    # Everhour's name for its project next to its id.
    await expect(mapped.locator("td").nth(1)).to_have_text(f"Website {platform.everhour_project}")
    await shot(page, "06-project-mapping")

    # User Mapping: Ann matched automatically by email.
    await page.get_by_role("link", name="User mapping").click()
    await page.get_by_role("button", name="Read users again from both systems").click()
    ann = page.locator("#user-mappings tbody tr").first
    await expect(ann).to_contain_text("ann@acme.test")
    await expect(ann).to_contain_text("Automatically, by email")
    await page.get_by_label("Core team member").select_option(label="Max max@acme.test")
    await page.get_by_label("Everhour team member").select_option(label="Max M. mm@agency.test")
    await page.get_by_role("button", name="Save mapping").click()
    await expect(page.get_by_role("status")).to_contain_text("Mapping saved")
    max_row = page.locator("#user-mappings tbody tr", has_text="max@acme.test")
    await expect(max_row).to_contain_text("mm@agency.test")
    await expect(max_row).to_contain_text("Manually")
    await shot(page, "07-user-mapping")

    # Ann logs 1h30 in Core; the sync log shows it synced to Everhour (reloaded like a person).
    entry = await platform.log_in_core(
        ticket_id=platform.ticket,
        date="2026-11-20",
        started_at="2026-11-20T08:00:00Z",
        duration_seconds=5400,
        notes="Login bug",
        billable=True,
    )
    await page.goto(f"{url}/w/{ws}/sync-log?entry={entry}")
    row = page.locator("#sync-log tbody tr").filter(has=page.locator(".badge.synced"))
    deadline = time.monotonic() + 60  # seconds when idle; the broker may be busy with others
    while await row.count() == 0:
        assert time.monotonic() < deadline, await platform.diagnose(entry)
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(row.first).to_contain_text(entry)
    await expect(row.first).to_contain_text("Everhour")
    await shot(page, "08-sync-log-entry")

    # The filter form: status = Synced keeps the entry, a user nobody is shows nothing.
    await page.get_by_label("Status").select_option("synced")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(page).to_have_url(re.compile(r"status=synced"))
    await expect(row.first).to_contain_text(entry)
    await page.get_by_label("User email").fill("nobody@acme.test")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(page.get_by_text("Nothing matches these filters yet.")).to_be_visible()

    # The Everhour record gets locked and Ann edits the entry in Core: a conflict to review,
    # both versions side by side with the changed time marked; keeping Everhour's settles it.
    # (Its record read from Everhour: another run's services on the shared broker may publish
    # outcomes for this entry too, which the entry's status would show last.)
    record = next(r.id for r in platform.everhour.records.values() if r.time == 5400)
    await platform.in_sandbox(platform.everhour_app, "POST", f"/_sandbox/time/{record}/lock")
    await platform.in_sandbox(
        platform.core_app, "PATCH", f"/_sandbox/time-entries/{entry}", {"duration_seconds": 6600}
    )
    await page.goto(f"{url}/w/{ws}/integrations/{integration}/conflicts")
    conflict = page.locator("section.conflict", has_text=entry)
    await reload_until(page, conflict, "the conflict")
    time_row = conflict.get_by_role("row", name=re.compile("^Time"))
    await expect(time_row.locator("td.diff").first).to_contain_text("1h 50m")
    await expect(time_row.locator("td.diff").last).to_contain_text("1h 30m")
    await expect(
        conflict.get_by_role("row", name=re.compile("^Notes")).locator("td.diff")
    ).to_have_count(0)
    await shot(page, "09-conflict")
    await conflict.get_by_role("button", name="Keep the Everhour version").click()
    await expect(page.get_by_role("status")).to_contain_text("Conflict resolved")
    await expect(page.locator("section.conflict", has_text=entry)).to_have_count(0)

    # Task links: the ticket went to the Everhour task of the same title.
    await page.goto(f"{url}/w/{ws}/integrations/{integration}/tasks")
    linked = page.locator("#task-links tbody tr", has_text=platform.ticket)
    await expect(linked).to_contain_text("Automatically, same title")
    await shot(page, "09b-task-links")

    # Settings: hourly instead of real-time.
    await page.goto(f"{url}/w/{ws}/integrations/{integration}")
    await page.get_by_label("Sync frequency").select_option("hourly")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("status")).to_contain_text("Settings saved")
    await expect(page.get_by_label("Sync frequency")).to_have_value("hourly")

    # Readable at phone width.
    phone = await new_page(browser, width=390, height=844, like=page)
    await phone.goto(f"{url}/w/{ws}/integrations")
    await expect(phone.get_by_role("link", name="Everhour", exact=True)).to_be_visible()
    await shot(phone, "10-integrations-phone")
    await phone.context.close()

    # Disconnect: the key is wiped, the list says so.
    await page.goto(f"{url}/w/{ws}/integrations/{integration}")
    await page.get_by_role("button", name="Disconnect Everhour").click()
    await expect(page.get_by_role("status")).to_contain_text("The integration is disconnected")
    await expect(page.locator("tbody tr", has_text="Everhour")).to_contain_text("disconnected")

    # Sign out: the session is gone.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_contain_text("You are signed out")
    await page.goto(f"{url}/w/{ws}/integrations")
    await expect(page).to_have_url(re.compile(r"/signin$"))
    await page.context.close()
    assert time.monotonic() - started < 90


async def test_another_workspace_is_refused(platform: ConsolePlatform, browser: Browser) -> None:
    page = await new_page(browser)
    url, mine, theirs = platform.console_url, platform.workspace, platform.other_workspace

    # Ann's token cannot sign in to Bob's workspace: Core says she is not its admin.
    await sign_in(page, url, theirs, ANN_CORE)
    await expect(page.locator("#signin-error")).to_contain_text("Refused")
    assert "/signin" in page.url

    # Signed in to her own workspace, Ann edits the URL to Bob's pages: the services refuse.
    await sign_in(page, url, mine, ANN_CORE)
    await expect(page).to_have_url(f"{url}/w/{mine}/integrations")
    for path in ("integrations", "sync-log", "reports"):
        answer = await page.goto(f"{url}/w/{theirs}/{path}")
        assert answer is not None
        assert answer.status == 403
        await expect(page.get_by_role("alert")).to_contain_text(
            "Refused: only the workspace's admins"
        )
        await expect(page.get_by_text(f"This page belongs to workspace {theirs}")).to_be_visible()
    await shot(page, "11-cross-tenant-refused")

    # A form posted without the session's CSRF token changes nothing.
    refused = await page.request.post(
        f"{url}/w/{mine}/integrations/new/everhour",
        form={"api_key": ANN_KEY, "direction": "two_way"},
    )
    assert refused.status == 403
    assert "did not come from this console" in await refused.text()

    # Bob, signed in to his own workspace, sees no Everhour connected there.
    await page.context.clear_cookies()
    await sign_in(page, url, theirs, BOB_CORE)
    await expect(page.get_by_text("No tracker is connected")).to_be_visible()
    await page.context.close()


async def test_reports_defined_run_delivered_and_downloaded(
    platform: ConsolePlatform, browser: Browser
) -> None:
    page = await new_page(browser)
    url, ws = platform.console_url, platform.workspace
    await sign_in(page, url, ws, ANN_CORE)
    await page.get_by_role("link", name="Reports").click()
    await expect(page.get_by_text("No report is defined yet.")).to_be_visible()

    # A new weekly report; a cron that never fires is refused by reporting, in its words.
    await page.get_by_role("link", name="New report").click()
    await page.get_by_label("Name").fill("Weekly time")
    await page.get_by_label("Group by").select_option("user")
    await page.get_by_label("Email addresses").fill(f"pm@client.test\n{BOUNCING}")
    await page.get_by_label("Schedule", exact=True).select_option("cron")
    await page.get_by_label("Cron expression").fill("0 7 30 2 *")
    await page.get_by_role("button", name="Create report").click()
    await expect(page.locator("#form-error")).to_contain_text("never fires")
    await expect(page.get_by_label("Email addresses")).to_have_value(f"pm@client.test\n{BOUNCING}")
    await page.get_by_label("Schedule", exact=True).select_option("weekly")
    await page.get_by_label("Weekday").select_option("monday")
    await page.get_by_label("Time zone").fill("Europe/Berlin")
    await page.get_by_role("button", name="Create report").click()
    await expect(page.get_by_role("status")).to_contain_text("Report saved")
    await expect(page.get_by_label("Group by")).to_have_value("user")
    await page.get_by_label("Excel (XLSX)").check()
    await page.get_by_role("button", name="Save report").click()
    await expect(page.get_by_role("status")).to_contain_text("Report saved")
    await expect(page.get_by_label("Excel (XLSX)")).to_be_checked()
    await page.get_by_role("link", name="← Reports").click()
    listed = page.locator("#report-definitions tbody tr", has_text="Weekly time")
    await expect(listed).to_contain_text("Weekly, Monday 07:00 Europe/Berlin")
    await expect(listed).to_contain_text("PDF, CSV, XLSX")
    await shot(page, "17-reports")

    # Run now: the progress bar fills as it is generated then delivered (polled, no reload);
    # one recipient's server refuses for good, which the history shows with its answer.
    await listed.get_by_role("link", name="Weekly time").click()
    await page.get_by_role("button", name="Run now").click()
    await expect(page.get_by_role("status")).to_contain_text("Run started")
    run = page.locator("#runs tr.run").first
    await expect(run.locator("progress")).to_have_attribute("max", "3")
    await expect(run).to_contain_text("delivered to 1 of 2, 1 failed", timeout=30_000)
    await expect(run.locator("progress")).to_have_attribute("value", "3")
    await expect(run.locator(".delivery", has_text="pm@client.test")).to_contain_text("sent")
    await expect(run.locator(".delivery", has_text=BOUNCING)).to_contain_text("no such mailbox")
    await shot(page, "18-report-run")
    assert [m["To"] for m in platform.outbox.sent] == ["pm@client.test"]

    # Download: the CSV is reporting's file for that run, byte for byte.
    async with page.expect_download() as started:
        await run.get_by_role("link", name="CSV").click()
    download = await started.value
    assert download.suggested_filename.endswith(".csv")
    saved = await download.path()
    async with platform.api("reporting") as reporting:
        runs = (await reporting.get(f"/v1/workspaces/{ws}/report-runs")).json()
        served = await reporting.get(
            f"/v1/workspaces/{ws}/report-runs/{runs[0]['run_id']}/download/csv"
        )
    assert saved.read_bytes() == served.content

    # Deleted: gone from the definitions, its run stays in the history.
    await page.get_by_role("button", name="Delete Weekly time").click()
    await expect(page.get_by_role("status")).to_contain_text("Report deleted")
    await expect(page.get_by_text("No report is defined yet.")).to_be_visible()
    await expect(page.locator("#runs tr.run")).to_have_count(1)
    await page.context.close()


async def test_ops_dead_letters_replayed_for_one_workspace_only(
    platform: ConsolePlatform, browser: Browser
) -> None:
    ws, other = platform.workspace, platform.other_workspace
    reason = "reporting's database refused the connection (for good, it seemed)"
    await dead_letter_core_entry(platform, ws, "reporting", reason, hours=2.75)
    await dead_letter_core_entry(platform, other, "reporting", "Globex's own trouble", hours=1)
    september = f"/v1/workspaces/{ws}/reports/time?start=2026-09-01&end=2026-09-30"
    async with platform.api("reporting") as reporting:

        async def knows_workspace() -> bool:  # reporting's copy of the workspace's Core
            return (await reporting.get(september)).status_code == 200

        await wait_for(knows_workspace, timeout_s=20)
        assert "2.75" not in (await reporting.get(september)).text

    page = await new_page(browser)
    url = platform.console_url
    await sign_in(page, url, ws, ANN_CORE)
    await page.get_by_role("link", name="Ops").click()
    # (Other suites' services on the shared broker may have dead-lettered this workspace's
    # events they cannot read: the letter below is one of the topic's, found by its reason.)
    topic = page.locator("#dead-letter-topics tr", has_text="timebridge.time-entry-logged.v1")
    await expect(topic.get_by_role("link")).to_be_visible()
    lag = page.locator("#consumer-lag tr", has_text="reporting")
    await expect(lag).to_contain_text(f"{platform.group_prefix}-reporting")
    await shot(page, "19-ops")

    # The letter with its reason headers; Globex's letter is not shown to Acme's admin.
    await topic.get_by_role("link").click()
    letter = page.locator("section.letter", has_text=reason)
    await expect(letter).to_have_count(1)
    await expect(letter.locator("pre.reason")).to_have_text(reason)
    await expect(letter).to_contain_text(f"{platform.group_prefix}-reporting")
    await expect(letter).to_contain_text("transient")
    await expect(page.get_by_text("Globex's own trouble")).to_have_count(0)
    await shot(page, "20-dead-letters")

    # Replayed to reporting alone: the entry now counts in September's time report.
    await letter.get_by_role("button", name="Replay this letter").click()
    await expect(page.get_by_role("status")).to_contain_text("Replayed 1 letter(s)")
    async with platform.api("reporting") as reporting:

        async def counted() -> bool:
            return "2.75" in (await reporting.get(september)).text

        await wait_for(counted, timeout_s=60)  # reporting may be behind on a busy broker

        # Replay all: Acme's letters, never Globex's; Globex's letter is not Acme's to name.
        await page.get_by_role("button", name=re.compile("^Replay all")).click()
        await expect(page.get_by_role("status")).to_contain_text("Replayed")
        dlt = "timebridge.time-entry-logged.v1.DLT"
        async with platform.api("reporting", BOB_CORE) as bob:
            theirs = (await bob.get(f"/v1/workspaces/{other}/ops/dead-letters/{dlt}")).json()
        globex = next(t["position"] for t in theirs if t["reason"] == "Globex's own trouble")
        assert all(t["reason"] != reason for t in theirs)
        everything = await reporting.post(
            f"/v1/workspaces/{ws}/ops/dead-letters/{dlt}/replay",
            json={"all": True},
        )
        assert globex not in everything.json()["replayed"]
        refused = await reporting.post(
            f"/v1/workspaces/{ws}/ops/dead-letters/{dlt}/replay", json={"letters": [globex]}
        )
        assert refused.status_code == 404, refused.text
        answer = await reporting.get(f"/v1/workspaces/{other}/ops/dead-letters/{dlt}")
        assert answer.status_code == 403, answer.text

    # Ann's browser on Globex's ops pages: refused.
    for path in ("ops", f"ops/dead-letters/{dlt}"):
        shown = await page.goto(f"{url}/w/{other}/{path}")
        assert shown is not None
        assert shown.status == 403
        await expect(page.get_by_role("alert")).to_contain_text("Refused")
    await shot(page, "21-ops-cross-tenant-refused")
    await page.context.close()
