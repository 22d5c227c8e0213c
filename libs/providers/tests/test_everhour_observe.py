"""Observing Everhour: window polls that see deletions, hints, and hooks Everhour disabled."""

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from timebridge_providers.everhour.client import EverhourClient, Task, TimeRecord
from timebridge_providers.everhour.observe import (
    EverhourObserver,
    EverhourWebhooks,
    Seen,
    diff_window,
)
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.observe import Hint, RefusedError, webhooks_of

from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit

START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 21)
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
KEY = "ek-observe"


def record(record_id: int, seconds: int, day: int = 20, **fields: object) -> TimeRecord:
    return TimeRecord.model_validate(
        {
            "id": record_id,
            "time": seconds,
            "user": 1001,
            "date": dt.date(2026, 11, day),
            "task": Task(id="ev:7000000001", name="Login page"),
            **fields,
        }
    )


def test_a_poll_reports_new_and_changed_records_and_deletions_once() -> None:
    first = diff_window({}, [record(1, 1800), record(2, 600)], START, END)
    assert [r.id for r in first.changed] == [1, 2]
    assert first.deleted == []
    same = diff_window(first.now_seen, [record(1, 1800), record(2, 600)], START, END)
    assert (same.changed, same.deleted) == ([], [])
    edited = diff_window(same.now_seen, [record(1, 2700)], START, END)
    assert [(r.id, r.time) for r in edited.changed] == [(1, 2700)]
    assert edited.deleted == ["2"]
    assert set(edited.now_seen) == {"1"}


def test_records_outside_the_window_are_neither_deleted_nor_forgotten() -> None:
    old = Seen(dt.date(2026, 10, 1), "f" * 32, 1001, "ev:7000000001")
    diff = diff_window({"9": old}, [record(1, 1800)], START, END)
    assert diff.deleted == []
    assert diff.now_seen["9"] == old


def test_a_lock_or_comment_is_a_change_too() -> None:
    seen = diff_window({}, [record(1, 1800)], START, END).now_seen
    locked = diff_window(seen, [record(1, 1800, isLocked=True)], START, END)
    commented = diff_window(seen, [record(1, 1800, comment="T-42")], START, END)
    assert len(locked.changed) == len(commented.changed) == 1


def test_the_registry_offers_everhours_unsigned_deliveries_as_hints() -> None:
    webhooks = webhooks_of(registry().get("everhour").observe)
    assert isinstance(webhooks, EverhourWebhooks)
    assert webhooks.handshake({"x-hook-secret": "s3"}) == {"X-Hook-Secret": "s3"}
    assert webhooks.handshake({}) is None
    body = (
        b'{"event":"api:time:updated","payload":{"id":5,"data":{"id":77,"time":60,'
        b'"user":12,"date":"2026-11-20","task":{"id":"ev:9","name":"T"}}}}'
    )
    assert webhooks.hint(body) == Hint("77", dt.date(2026, 11, 20), "12", "ev:9")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"event":"api:task:updated","payload":{"id":5,"data":{}}}',
        b'{"event":"api:time:updated","payload":{"id":5,"data":{"id":-1,"time":60,'
        b'"user":12,"date":"2026-11-20"}}}',
        b'{"event":"api:time:updated","payload":{"id":5,"data":{"id":1,"time":60,'
        b'"user":12,"date":"2026-11-20","task":{"id":"a\\u0000b","name":"T"}}}}',
    ],
)
def test_a_delivery_naming_nothing_storable_is_refused_422(body: bytes) -> None:
    with pytest.raises(RefusedError) as refused:
        EverhourWebhooks().hint(body)
    assert refused.value.status == 422


@pytest.fixture
async def everhour() -> AsyncIterator[tuple[EverhourState, EverhourClient]]:
    state = EverhourState()
    state.add_user("Ann", api_key=KEY, email="ann@acme.test")
    app = create_everhour_sandbox(
        state, rate_limit=RateLimit(10_000, 10), webhook_transport=httpx.MockTransport(_ok)
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    yield state, EverhourClient("http://everhour.sandbox", KEY, http=http)
    await http.aclose()


def _ok(request: httpx.Request) -> httpx.Response:
    secret = request.headers.get("x-hook-secret")
    return httpx.Response(200, headers={} if secret is None else {"X-Hook-Secret": secret})


async def test_polls_see_changes_once_and_deletions_and_reread_sees_a_record_gone(
    everhour: tuple[EverhourState, EverhourClient],
) -> None:
    state, client = everhour
    task = state.add_task(state.add_project("Web"), "Login")
    observer = EverhourObserver(client)
    added = await client.add_time(task, seconds=1800, date=NOW.date())
    first = await observer.changes(None, now=NOW, lookback=dt.timedelta(days=31))
    assert [(c.external_id, c.fields.duration_seconds) for c in first.changes] == [
        (str(added.id), 1800)
    ]
    assert first.changes[0].fields.user.email == "ann@acme.test"
    again = await observer.changes(first.cursor, now=NOW, lookback=dt.timedelta(days=31))
    assert again.changes == []
    await client.delete_time(task, date=NOW.date())
    gone = await observer.changes(again.cursor, now=NOW, lookback=dt.timedelta(days=31))
    assert [(c.external_id, c.deleted) for c in gone.changes] == [(str(added.id), True)]
    reread = await observer.reread([Hint(str(added.id), NOW.date(), "1001", task)], now=NOW)
    assert [(c.deleted, c.fields.task_external_id) for c in reread] == [(True, task)]


async def test_a_hook_everhour_disabled_is_registered_again(
    everhour: tuple[EverhourState, EverhourClient],
) -> None:
    state, client = everhour
    observer = EverhourObserver(client)
    assert observer.hooks is not None
    hook = await observer.hooks.register("http://ingest.test/v1/webhooks/everhour/t0k")
    assert await observer.hooks.ensure_active(hook.hook_id) == hook
    state.hooks[int(hook.hook_id)].is_active = False  # after failed deliveries
    again = await observer.hooks.ensure_active(hook.hook_id)
    assert again is not None
    assert again.active
    assert again.hook_id != hook.hook_id
    assert [h.target_url for h in state.hooks.values()] == [
        "http://ingest.test/v1/webhooks/everhour/t0k"
    ]
    await observer.hooks.delete(again.hook_id)
    assert await observer.hooks.ensure_active(again.hook_id) is None
