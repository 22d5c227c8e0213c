"""Observing Core through the kit's observe port, against the Core sandbox."""

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.core.observe import CoreObserver, CoreWebhooks
from timebridge_providers.core.webhooks import sign
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.observe import Hint, RefusedError, webhooks_of

from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit

TOKEN = "core-observe-token"
SECRET = "s" * 40


@pytest.fixture
async def core() -> AsyncIterator[tuple[CoreState, CoreClient]]:
    state = CoreState()
    state.add_service_token("ws", TOKEN)
    app = create_core_sandbox(state, rate_limit=RateLimit(10**6, 1))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    yield state, CoreClient("http://core.sandbox", TOKEN, http=http)
    await http.aclose()


async def test_the_cursor_is_the_newest_change_and_deletions_are_seen(
    core: tuple[CoreState, CoreClient],
) -> None:
    state, client = core
    ann = state.add_user("ws", "Ann", email="ann@acme.test")
    first = state.add_entry("ws", ann, dt.date(2026, 11, 20), 900, timezone="Europe/Berlin")
    observer = CoreObserver(client)
    now = dt.datetime.now(dt.UTC)
    page = await observer.changes(None, now=now, lookback=dt.timedelta(days=31))
    assert [(c.external_id, c.deleted, c.fields.timezone) for c in page.changes] == [
        (first, False, "Europe/Berlin")
    ]
    assert dt.datetime.fromisoformat(page.cursor) == state.entries[first].updated_at
    state.entries[first].deleted_at = state.entries[first].updated_at = dt.datetime.now(dt.UTC)
    gone = await observer.changes(page.cursor, now=now, lookback=dt.timedelta(days=31))
    assert [(c.external_id, c.deleted) for c in gone.changes] == [(first, True)]
    [again] = await observer.reread([Hint(first, dt.date(2026, 11, 20), ann)], now=now)
    assert again.deleted
    assert (again.external_id, again.updated_at, again.fields.user.external_id) == (first, now, ann)


def _body(kind: str = "time_entry.created", workspace: str = "ws") -> bytes:
    return (
        f'{{"id":"dlv_1","type":"{kind}","workspace_id":"{workspace}",'
        '"occurred_at":"2026-11-21T11:59:00Z","data":{"time_entry":{"id":"te_1",'
        '"user":{"id":"u_1"},"date":"2026-11-21","duration_seconds":60,'
        '"updated_at":"2026-11-21T11:58:00Z","version":1}}}'
    ).encode()


def test_the_home_systems_webhooks_are_signed_and_carry_the_change() -> None:
    webhooks = webhooks_of(registry().home().observe)
    assert isinstance(webhooks, CoreWebhooks)
    now = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
    at = int(now.timestamp())
    body = _body()
    delivery = webhooks.verify(
        SECRET, sign(SECRET, at, body), body, account="ws", now=now, tolerance_s=300
    )
    assert delivery.delivery_id == "dlv_1"
    assert delivery.change is not None
    assert (delivery.change.external_id, delivery.change.deleted) == ("te_1", False)
    deleted = _body("time_entry.deleted")
    gone = webhooks.verify(
        SECRET, sign(SECRET, at, deleted), deleted, account="ws", now=now, tolerance_s=300
    )
    assert gone.change is not None
    assert gone.change.deleted
    ticket = b'{"type":"ticket.updated"}'
    ignored = webhooks.verify(
        SECRET, sign(SECRET, at, ticket), ticket, account="ws", now=now, tolerance_s=300
    )
    assert ignored.change is None
    refusals = [
        (sign(SECRET, at - 301, body), body, "ws"),  # stale
        (sign("other" * 8, at, body), body, "ws"),  # wrong secret
        (sign(SECRET, at, body), body, "elsewhere"),  # another workspace's delivery
        (None, body, "ws"),
    ]
    statuses = []
    for signature, payload, account in refusals:
        with pytest.raises(RefusedError) as refused:
            webhooks.verify(SECRET, signature, payload, account=account, now=now, tolerance_s=300)
        statuses.append(refused.value.status)
    assert statuses == [401, 401, 422, 401]
