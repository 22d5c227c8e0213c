"""A version's event id is the same whichever path saw it, and differs for two edits in a second.

Ingest publishes every observation with ``TimeEntryLogged.observation_id()``; the inboxes drop an
id they have seen. So a Core webhook and a poll of the same version, or a tracker's webhook hint
(re-read through the API) and a poll, must give one id, while two edits a tracker stamps in the
same second (Everhour and Harvest stamp to the second) must give two.
"""

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.core.observe import CoreObserver, CoreWebhooks
from timebridge_providers.core.webhooks import SIGNATURE_HEADER
from timebridge_providers.everhour.client import EverhourClient
from timebridge_providers.everhour.observe import EverhourObserver
from timebridge_providers.kit.ports.observe import Change, Hint

from timebridge_common.events import TimeEntryLogged
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.core.state import Subscription, Webhooks
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit

SECRET = "w" * 40
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def event(change: Change, source: str, via: str) -> TimeEntryLogged:
    """What ingest publishes for ``change`` (``domain/observations.to_event``)."""
    return TimeEntryLogged.model_validate(
        {
            "workspace_id": "ws",
            "integration_id": None if source == "core" else "int_1",
            "source": source,
            "external_id": change.external_id,
            "entry": change.fields,
            "updated_at": change.updated_at,
            "deleted": change.deleted,
            "observed_via": via,
        }
    )


async def test_a_core_webhook_and_a_poll_of_the_same_version_are_one_event() -> None:
    sent: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(202)

    state = CoreState()
    state.add_service_token("ws", "tok")
    state.webhooks["ws"] = Subscription("http://ingest.test/hook", SECRET)
    hooks = Webhooks(transport=httpx.MockTransport(capture))
    app = create_core_sandbox(state, rate_limit=RateLimit(10**6, 1), webhooks=hooks)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://c"
    ) as http:
        ann = state.add_user("ws", "Ann", email="ann@acme.test")
        entry = state.add_entry("ws", ann, NOW.date(), 900, timezone="Europe/Berlin")
        edit = {"duration_seconds": 1800, "notes": "Login ü", "started_at": "2026-11-20T09:00:00Z"}
        (await http.patch(f"/_sandbox/time-entries/{entry}", json=edit)).raise_for_status()
        await hooks.drain()
        polled = await CoreObserver(CoreClient("http://c", "tok", http=http)).changes(
            None, now=dt.datetime.now(dt.UTC), lookback=dt.timedelta(days=31)
        )
    [request] = sent
    delivery = CoreWebhooks().verify(
        SECRET,
        request.headers[SIGNATURE_HEADER],
        request.content,
        account="ws",
        now=dt.datetime.now(dt.UTC),
        tolerance_s=300,
    )
    assert delivery.change is not None
    [poll] = polled.changes
    webhook, seen = event(delivery.change, "core", "webhook"), event(poll, "core", "poll")
    assert webhook.entry.notes == "Login ü"
    assert webhook.observation_id() == seen.observation_id()


@pytest.fixture
async def everhour() -> AsyncIterator[tuple[EverhourState, EverhourClient]]:
    state = EverhourState()
    state.add_user("Ann", api_key="ek", email="ann@acme.test")
    state.now = lambda: NOW  # every change lands in the same second
    app = create_everhour_sandbox(state, rate_limit=RateLimit(10_000, 10))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    yield state, EverhourClient("http://everhour.sandbox", "ek", http=http)
    await http.aclose()


async def test_everhour_edits_in_one_second_are_two_versions_a_hint_and_a_poll_one(
    everhour: tuple[EverhourState, EverhourClient],
) -> None:
    state, client = everhour
    task = state.add_task(state.add_project("Web"), "Login")
    observer = EverhourObserver(client)
    added = await client.add_time(task, seconds=1800, date=NOW.date(), comment="Design")
    first = await observer.changes(None, now=NOW, lookback=dt.timedelta(days=31))
    await client.update_time(task, seconds=2400, date=NOW.date(), comment="Design and review")
    second = await observer.changes(first.cursor, now=NOW, lookback=dt.timedelta(days=31))
    [before], [after] = first.changes, second.changes
    assert before.updated_at == after.updated_at  # Everhour's stamp: the same second
    hint = Hint(str(added.id), NOW.date(), str(added.user), task)
    [reread] = await observer.reread([hint], now=NOW)
    polled, hinted = event(after, "everhour", "poll"), event(reread, "everhour", "webhook")
    assert hinted.observation_id() == polled.observation_id()
    earlier = event(before, "everhour", "poll")
    assert earlier.observation_id() != polled.observation_id()
    assert not polled.same_version(earlier.updated_at, earlier.entry, earlier.deleted)
    assert polled.same_version(hinted.updated_at, hinted.entry, hinted.deleted)
