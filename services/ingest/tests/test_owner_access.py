"""Polls and webhook re-reads call the provider with the credential owner's access.

The owner is the kit's ``FakeCredentialSource``; the provider is the kit's ``FakeObserver``, and
the observer factory records which credential each observer was opened with. What is checked: a
connection the owner holds is read with the owner's current token (a refreshed OAuth token is
used on the next poll, not the one ingest was given), one it does not hold yet with the sealed
copy, and a credential the owner cannot hand out is a refusal (authentication), not a retry.
"""

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pytest
from timebridge_providers.kit.credentials import NeedsReauthorisationError
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.fakes.observe import FakeObserver
from timebridge_providers.kit.ports.observe import Hint, Observer

from timebridge_common.errors import TransientError
from timebridge_common.events import IntegrationSettings
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound.http import AuthenticationError
from timebridge_ingest.domain.connections import Integration, Workspace
from timebridge_ingest.domain.inbox import PendingDelivery
from timebridge_ingest.handlers.access import ConnectionAccesses, has_access
from timebridge_ingest.handlers.hooks import DeliveryWorker
from timebridge_ingest.handlers.polling import Poller

NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
HELD = Integration(
    integration_id="int_1", workspace_id="ws", provider="tracker-x",
    base_url="http://tracker.test", api_key=None, status="connected",
    settings=IntegrationSettings(frequency="hourly"), extra={"account_id": "7"}, at_owner=True,
)  # fmt: skip
SEALED = replace(HELD, integration_id="int_2", api_key="sealed-key", at_owner=False)


@dataclass
class Opened:
    """The observer factory: one observer, and the (base URL, credential, extra) of each open."""

    observer: FakeObserver = field(default_factory=lambda: FakeObserver(hooks=None))
    with_: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def __call__(
        self, provider: str, base_url: str, credential: str, extra: Mapping[str, str]
    ) -> Observer:
        self.with_.append((base_url, credential, dict(extra)))
        return self.observer


class Cursors:
    """The part of the polling store a tracker poll touches."""

    def __init__(self) -> None:
        self.cursors: dict[str, str | None] = {}

    async def cursor(self, connection_id: str) -> str | None:
        return self.cursors.get(connection_id)

    async def set_cursor(self, connection_id: str, cursor: str | None, **_: Any) -> None:
        self.cursors[connection_id] = cursor


def _poller(opened: Opened, owner: FakeCredentialSource) -> Poller:
    no_kafka = cast(EventPublisher, None)  # nothing changed at the provider: nothing published
    return Poller(
        connections=cast(Any, None), polling=cast(Any, Cursors()), observers=opened,
        publisher=no_kafka, clock=lambda: NOW, publish_timeout_s=1, health=cast(Any, object()),
        access=ConnectionAccesses(owner),
    )  # fmt: skip


def _owner_holding(token: str) -> FakeCredentialSource:
    owner = FakeCredentialSource()
    owner.put("ws", HELD.integration_id, token, base_url=HELD.base_url, extra=HELD.extra)
    return owner


async def test_a_held_connection_is_polled_with_the_owners_current_token() -> None:
    opened, owner = Opened(), _owner_holding("access-1")
    poll = _poller(opened, owner)
    await poll.poll_tracker(HELD, NOW)
    owner.put("ws", HELD.integration_id, "access-2", base_url=HELD.base_url, extra=HELD.extra)
    await poll.poll_tracker(HELD, NOW)  # the owner refreshed the token meanwhile
    assert opened.with_ == [
        ("http://tracker.test", "access-1", {"account_id": "7"}),
        ("http://tracker.test", "access-2", {"account_id": "7"}),
    ]
    assert owner.calls == [("ws", "int_1"), ("ws", "int_1")]


async def test_a_connection_not_handed_over_yet_is_polled_with_its_sealed_copy() -> None:
    opened, owner = Opened(), FakeCredentialSource()
    await _poller(opened, owner).poll_tracker(SEALED, NOW)
    assert opened.with_ == [("http://tracker.test", "sealed-key", {"account_id": "7"})]
    assert owner.calls == []


@pytest.mark.parametrize(
    "error",
    [NeedsReauthorisationError("invalid_grant"), None],
    ids=["needs-reauthorisation", "held-nowhere"],
)
async def test_a_credential_the_owner_cannot_hand_out_is_a_refusal(
    error: Exception | None,
) -> None:
    owner = FakeCredentialSource()
    if error is not None:
        owner.fail("ws", HELD.integration_id, error)
    opened = Opened()
    with pytest.raises(AuthenticationError):
        await _poller(opened, owner).poll_tracker(HELD, NOW)
    assert opened.with_ == []


async def test_an_unavailable_owner_is_transient() -> None:
    owner = FakeCredentialSource()
    owner.fail("ws", HELD.integration_id, TransientError("owner restarting", retry_after=2))
    with pytest.raises(TransientError):
        await _poller(Opened(), owner).poll_tracker(HELD, NOW)


async def test_the_core_poll_uses_the_owners_token_once_it_holds_it() -> None:
    owner = FakeCredentialSource()
    owner.put("ws", "core_ws", "core-from-owner", base_url="http://core.test")
    held = Workspace("ws", "http://core.test", "core-copy", at_owner=True)
    assert (await ConnectionAccesses(owner).home(held)).credential == "core-from-owner"
    kept = replace(held, at_owner=False)
    assert (await ConnectionAccesses(owner).home(kept)).credential == "core-copy"


def test_a_disconnected_or_keyless_connection_has_no_access() -> None:
    assert has_access(HELD)
    assert has_access(SEALED)
    assert not has_access(replace(HELD, status="disconnected"))
    assert not has_access(replace(SEALED, api_key=None))


class Inbox:
    def __init__(self, rows: list[PendingDelivery]) -> None:
        self.rows, self.finished = rows, 0

    async def claim_due(self, *_: Any) -> list[PendingDelivery]:
        claimed, self.rows = self.rows, []
        return claimed

    async def done(self, rows: list[PendingDelivery], now: dt.datetime) -> None:
        self.finished += len(rows)

    async def retry(self, rows: Any, next_at: dt.datetime, error: str) -> None:
        raise AssertionError(error)


class Store:
    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Store"]:
        yield self

    async def integration(self, integration_id: str) -> Integration:
        return HELD


async def test_webhook_re_reads_use_the_owners_token_and_follow_a_refresh() -> None:
    opened, owner = Opened(), _owner_holding("access-1")
    worker = DeliveryWorker(
        cast(Any, Store()), cast(Any, None), opened, cast(EventPublisher, None), lambda: NOW, 1,
        access=ConnectionAccesses(owner),
    )  # fmt: skip
    hint = Hint("gone", dt.date(2026, 11, 20), "u1")  # the provider no longer has it: no event
    for token in ("access-1", "access-2"):
        owner.put("ws", HELD.integration_id, token, base_url=HELD.base_url, extra=HELD.extra)
        worker.inbox = cast(Any, Inbox([PendingDelivery(HELD.integration_id, hint, 1)]))
        assert await worker.drain_once() == 1
    assert [credential for _, credential, _ in opened.with_] == ["access-1", "access-2"]
