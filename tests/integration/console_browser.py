"""The console's browser fixtures and the steps every browser test uses.

One platform and one headless Chromium per test module (the fixtures are imported by
``test_console``); pages sign in with the keyboard and save a screenshot of every screen.
"""

import asyncio
import datetime as dt
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.events.catalog import TimeEntryFields, UserRef
from timebridge_common.events.codec import encode
from timebridge_common.kafka.dlt import SourceRecord, dead_letter_headers, dlt_topic

from .conftest import KAFKA, unique
from .console_platform import ARTIFACTS, ConsolePlatform, chromium_path, console_platform

STEP_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
async def platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[ConsolePlatform]:
    async with console_platform(topics, create_database, make_pool) as built:
        yield built


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = await chromium_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        await launched.close()


async def new_page(
    browser: Browser, *, width: int = 1280, height: int = 900, like: Page | None = None
) -> Page:
    """A page in a new browser context; ``like``: signed in as that page is (its cookies)."""
    state = await like.context.storage_state() if like is not None else None
    context = await browser.new_context(
        viewport={"width": width, "height": height}, storage_state=state
    )
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    return page


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(page: Page, url: str, workspace: str, token: str) -> None:
    """With the keyboard only: type, Tab to the next field, Enter submits."""
    await page.goto(f"{url}/")
    await expect(page).to_have_url(re.compile(r"/signin$"))
    await page.get_by_label("Workspace id").focus()
    await page.keyboard.type(workspace)
    await page.keyboard.press("Tab")
    await page.keyboard.type(token)
    await page.keyboard.press("Enter")


async def reload_until(page: Page, locator: Locator, what: str, timeout_s: float = 30) -> None:
    """Reload like a person waiting for background work, until ``locator`` shows up."""
    deadline = time.monotonic() + timeout_s
    while await locator.count() == 0:
        assert time.monotonic() < deadline, f"{what} not shown: {await page.inner_text('main')}"
        await asyncio.sleep(0.5)
        await page.reload()


async def dead_letter_core_entry(
    platform: ConsolePlatform, workspace: str, service: str, reason: str, hours: float
) -> str:
    """A Core entry of ``workspace`` that ``service`` dead-lettered (as its consumer does,
    e.g. its database was down for good); returns the entry's id."""
    entry = unique("te-dlt")
    event = TimeEntryLogged(
        workspace_id=workspace,
        source="core",
        external_id=entry,
        entry=TimeEntryFields(
            user=UserRef(external_id="u-dlt", email="ann@acme.test"),
            project_external_id=platform.project,
            date=dt.date(2026, 9, 15),
            duration_seconds=int(hours * 3600),
            billable=True,
        ),
        updated_at=dt.datetime(2026, 9, 15, 12, tzinfo=dt.UTC),
        observed_via="webhook",
    )
    encoded = encode(event, Envelope.for_event(event, producer="ingest"))
    failed = SourceRecord(encoded.topic, 0, 0, 0, 0, encoded.key, encoded.value, encoded.headers)
    headers = dead_letter_headers(
        failed,
        group_id=f"{platform.group_prefix}-{service}",
        error=ConnectionRefusedError(reason),
        reason=reason,
        error_class="transient",
        attempts=5,
    )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            dlt_topic(encoded.topic),
            encoded.value,
            key=encoded.key,
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()
    return entry
