"""The console's browser fixtures and the steps every browser test uses.

One platform and one headless Chromium for all the console's test modules (each imports the
fixtures; they share the instances, see :class:`_Shared`); pages sign in with the keyboard and
save a screenshot of every screen.
"""

import asyncio
import contextlib
import datetime as dt
import html
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Locator, Page, Route, async_playwright, expect

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.events.catalog import TimeEntryFields, UserRef
from timebridge_common.events.codec import encode
from timebridge_common.kafka.dlt import SourceRecord, dead_letter_headers, dlt_topic
from timebridge_common.testing import wait_for

from .conftest import KAFKA, unique
from .console_platform import (
    ANN_CORE,
    ARTIFACTS,
    BOB_CORE,
    ConsolePlatform,
    chromium_path,
    console_platform,
)

STEP_TIMEOUT_MS = 15_000


class _Shared:
    """One platform and one browser for every module that imports these fixtures.

    Each module's fixtures are its own to pytest (one per module that imports them); they lease
    the same instances, which close after the last module that uses them, so the console's
    browser tests pay for one platform however many modules they are split into.
    """

    platform: ConsolePlatform | None = None
    browser: Browser | None = None
    stack: contextlib.AsyncExitStack | None = None


def _used_later(request: pytest.FixtureRequest, fixture: object) -> bool:
    """Whether a test after this module's own uses ``fixture`` (a module importing it)."""
    items = request.session.items
    if request.session.shouldstop or request.session.shouldfail:
        return False
    mine = [i for i, item in enumerate(items) if getattr(item, "module", None) is request.module]
    later = items[max(mine) + 1 :] if mine else []
    return any(getattr(getattr(i, "module", None), "platform", None) is fixture for i in later)


async def _lease(start: Callable[[], Awaitable[None]]) -> None:
    if _Shared.stack is None:
        _Shared.stack = contextlib.AsyncExitStack()
        try:
            await start()
        except BaseException:
            stack, _Shared.stack = _Shared.stack, None
            await stack.aclose()
            raise


async def _release(request: pytest.FixtureRequest) -> None:
    if _Shared.stack is not None and not _used_later(request, platform):
        stack, _Shared.stack = _Shared.stack, None
        _Shared.platform = _Shared.browser = None
        await stack.aclose()


async def _knows_workspaces(built: ConsolePlatform, timeout_s: float = 120) -> None:
    """Wait until every service has its copy of both workspaces' Core connection (read from
    the connections topic from its start, which takes a while on a busy shared broker): a
    page asked before that is refused as "workspace not registered"."""
    checks = [
        (service, token, f"/v1/workspaces/{ws}{path}")
        for ws, token in ((built.workspace, ANN_CORE), (built.other_workspace, BOB_CORE))
        for service, path in (
            ("mapping", "/providers"),
            ("reporting", "/sync-log"),
            ("reporting", "/report-definitions"),
            ("invoice-export", "/projects"),
        )
    ]

    async def known() -> bool:
        for service, token, path in checks:
            async with built.api(service, token) as api:
                if (await api.get(path)).status_code != 200:
                    return False
        return True

    started = time.monotonic()
    await wait_for(known, timeout_s=timeout_s)
    print(
        f"console platform: services knew both workspaces after {time.monotonic() - started:.1f} s"
    )


@pytest.fixture(scope="module")
async def platform(
    request: pytest.FixtureRequest,
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[ConsolePlatform]:
    async def start() -> None:
        assert _Shared.stack is not None
        _Shared.platform = await _Shared.stack.enter_async_context(
            console_platform(topics, create_database, make_pool)
        )
        await _knows_workspaces(_Shared.platform)
        executable = await chromium_path()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()
        playwright = await _Shared.stack.enter_async_context(async_playwright())
        _Shared.browser = await playwright.chromium.launch(
            executable_path=executable, headless=True
        )
        _Shared.stack.push_async_callback(_Shared.browser.close)

    await _lease(start)
    assert _Shared.platform is not None
    yield _Shared.platform
    await _release(request)


@pytest.fixture(scope="module")
async def browser(platform: ConsolePlatform) -> Browser:
    """Headless Debian Chromium, started with the platform (and closed with it)."""
    assert _Shared.browser is not None
    return _Shared.browser


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


INTUIT = "https://appcenter.intuit.com/connect/oauth2"


async def quickbooks_consent_page(page: Page, platform: ConsolePlatform) -> None:
    """QuickBooks Online's consent as a person meets it: the sandbox's authorize URL sends the
    browser to Intuit's site (another site than the console's), whose page asks, and "Allow"
    POSTs; the answer redirects to invoice-export's callback with the sandbox's own code (the
    sandbox consents at once, so its answer is what the form's POST gets).

    The redirect chain back to the console then begins with another site's POST, as with the
    real Intuit: the admin must still land signed in (through the console's landing page)."""
    sandbox = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.qbo_app), base_url="http://qbo"
    )

    async def to_intuit(route: Route) -> None:
        query = urlsplit(route.request.url).query
        await route.fulfill(status=302, headers={"location": f"{INTUIT}?{query}"})

    async def intuit(route: Route) -> None:
        request = route.request
        if request.method == "GET":
            query = html.escape(urlsplit(request.url).query)
            await route.fulfill(
                content_type="text/html",
                body=f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Intuit: connect</title></head><body><main><h1>Allow Timebridge to connect?</h1>
<form method="post" action="{INTUIT}/allow"><input type="hidden" name="q" value="{query}">
<button type="submit">Allow</button></form></main></body></html>""",
            )
            return
        query = dict(parse_qsl(request.post_data or "")).get("q", "")
        answer = await sandbox.get(f"/connect/oauth2?{query}")
        assert answer.status_code == 302, answer.text
        await route.fulfill(status=302, headers={"location": answer.headers["location"]})

    await page.route(re.compile(r"^http://127\.0\.0\.1:\d+/connect/oauth2\?"), to_intuit)
    await page.route(f"{INTUIT}**", intuit)


async def everhour_mapped(
    platform: ConsolePlatform,
    workspace: str,
    token: str,
    api_key: str,
    *,
    settings: dict[str, str],
    project: str,
) -> dict[str, Any]:
    """An Everhour integration connected through ingest's API (the console's connect page is the
    guide test's) with Core ``project`` mapped to the Everhour project, once mapping has its
    copy of the connection (Kafka); ingest's view of the new integration."""
    base = f"/v1/workspaces/{workspace}/integrations"
    async with platform.api("ingest", token) as ingest:
        created = await ingest.post(
            base, json={"provider": "everhour", "api_key": api_key, "settings": settings}
        )
        assert created.status_code == 201, created.text
    view: dict[str, Any] = created.json()
    mappings = f"{base}/{view['integration_id']}/project-mappings"
    async with platform.api("mapping", token) as mapping:

        async def mapping_knows() -> bool:
            return (await mapping.get(mappings)).status_code == 200

        await wait_for(mapping_knows, timeout_s=60)
        mapped = await mapping.put(
            f"{mappings}/{project}", json={"tracker_project_id": platform.everhour_project}
        )
        assert mapped.status_code == 200, mapped.text
    return view
