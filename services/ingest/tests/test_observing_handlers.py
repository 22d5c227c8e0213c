"""The poller and the webhook re-read worker on in-memory fakes of every port (no provider named).

The observed provider is the kit's ``FakeObserver``; stores are dictionaries; Kafka is faststream's
test broker. What is checked: changes and deletions published once with the cursor kept, a
refused credential recorded as an authentication failure, a webhook the provider disabled
re-activated before the poll, and hints re-read and published.
"""

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from timebridge_providers.kit.fakes.observe import FakeObserver
from timebridge_providers.kit.ports.observe import Hint, Observer

from timebridge_common.crypto import SecretBox
from timebridge_common.errors import TransientError
from timebridge_common.events import (
    Envelope,
    Event,
    IntegrationSettings,
    TimeEntryFields,
    TimeEntryLogged,
    UserRef,
)
from timebridge_common.events.codec import decode
from timebridge_common.events.health import ConnectionHealthChanged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound.http import AuthenticationError
from timebridge_common.testing import in_memory_tracing
from timebridge_ingest.bootstrap import bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Integration, Workspace
from timebridge_ingest.domain.inbox import PendingDelivery
from timebridge_ingest.domain.polling import REALTIME_BY_POLLING, SAFETY_NET, PollHealth
from timebridge_ingest.handlers.hooks import DeliveryWorker
from timebridge_ingest.handlers.polling import Poller

NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
PROVIDER = "tracker-x"


def fields(seconds: int) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id="u1"), date=dt.date(2026, 11, 20), duration_seconds=seconds,
        billable=True,
    )  # fmt: skip


INTEGRATION = Integration(
    integration_id="int_1",
    workspace_id="ws",
    provider=PROVIDER,
    base_url="http://tracker.test",
    api_key="key",
    status="connected",
    settings=IntegrationSettings(frequency="hourly"),
    hook_id="1",
)


@dataclass
class MemoryTx:
    integrations: dict[str, Integration]
    outbox: list[tuple[Event, Envelope]] = field(default_factory=list)

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        self.outbox += events

    async def integration(self, integration_id: str, *, for_update: bool = False) -> Any:
        return self.integrations.get(integration_id)

    async def integrations_of(self, workspace_id: str) -> list[Integration]:
        return [i for i in self.integrations.values() if i.workspace_id == workspace_id]

    async def workspace(self, workspace_id: str, *, for_update: bool = False) -> Workspace:
        return Workspace(workspace_id, "http://home.test", "token")


@dataclass
class MemoryConnections:
    integrations: dict[str, Integration] = field(default_factory=dict)
    outbox: list[tuple[Event, Envelope]] = field(default_factory=list)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        tx = MemoryTx(self.integrations)
        yield tx
        self.outbox += tx.outbox  # committed


@dataclass
class MemoryPolling:
    cursors: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, tuple[dt.datetime, str | None, str | None]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    healths: dict[str, PollHealth] = field(default_factory=dict)

    async def sync_schedules(self, now: dt.datetime) -> None:
        pass

    async def claim_due(self, now: dt.datetime, lease: dt.timedelta) -> list[str]:
        return []

    async def done(
        self,
        connection_id: str,
        *,
        next_at: dt.datetime,
        now: dt.datetime,
        error: str | None,
        error_kind: str | None = None,
    ) -> None:
        self.outcomes[connection_id] = (next_at, error, error_kind)
        held = self.healths.get(connection_id)
        self.healths[connection_id] = PollHealth(
            next_poll_at=next_at,
            last_polled_at=now,
            last_ok_at=now if error is None else (held.last_ok_at if held else None),
            last_error=error,
            error_kind=error_kind,
            failures=0 if error is None else (held.failures if held else 0) + 1,
            hook_note=None,
            hook_note_at=None,
        )

    async def cursor(self, connection_id: str) -> str | None:
        return self.cursors.get(connection_id)

    async def set_cursor(
        self, connection_id: str, cursor: str, *, workspace_id: str, now: dt.datetime
    ) -> None:
        self.cursors[connection_id] = cursor

    async def health(self, connection_id: str) -> PollHealth | None:
        return self.healths.get(connection_id)

    async def note_hook(self, connection_id: str, note: str, now: dt.datetime) -> None:
        self.notes[connection_id] = note


@dataclass
class MemoryInbox:
    rows: list[PendingDelivery] = field(default_factory=list)
    finished: list[PendingDelivery] = field(default_factory=list)

    async def put(self, integration_id: str, hint: Hint, now: dt.datetime, *, limit: int) -> bool:
        self.rows.append(PendingDelivery(integration_id, hint, 1))
        return True

    async def claim_due(
        self, now: dt.datetime, lease: dt.timedelta, limit: int
    ) -> list[PendingDelivery]:
        claimed, self.rows = self.rows[:limit], self.rows[limit:]
        return claimed

    async def done(self, pending: Sequence[PendingDelivery], now: dt.datetime) -> None:
        self.finished += pending

    async def retry(
        self, pending: Sequence[PendingDelivery], next_at: dt.datetime, error: str
    ) -> None:
        self.rows += pending

    async def drop(self, integration_id: str) -> None:
        self.rows = [r for r in self.rows if r.integration_id != integration_id]


@pytest.fixture
async def kafka() -> AsyncIterator[tuple[EventPublisher, list[TimeEntryLogged]]]:
    settings = Settings(
        encryption_key=SecretBox.generate_key(),
        admin_token="admin-token",
        credentials_url="http://credentials.test",
        service_token="svc-token",
    )

    class NoSecrets:
        async def get(self, workspace_id: str, source: str) -> str | None:
            return None

        async def put(self, workspace_id: str, source: str, secret: str) -> None:
            pass

    ingest = bootstrap(
        settings,
        broker=KafkaBroker(),
        secrets=NoSecrets(),
        tracer_provider=in_memory_tracing("ingest")[0],
    )
    published: list[TimeEntryLogged] = []

    @ingest.runtime.broker.subscriber(TimeEntryLogged.topic())
    async def capture(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        published.append(decode(decode_headers(record.headers), record.value, TimeEntryLogged)[1])

    async with TestKafkaBroker(ingest.runtime.broker) as br:
        ingest.runtime.broker = br
        yield ingest.publisher, published


def poller(
    observer: Observer,
    publisher: EventPublisher,
    connections: MemoryConnections | None = None,
    **extra: Any,
) -> tuple[Poller, MemoryPolling]:
    polling = MemoryPolling()
    poll = Poller(
        connections=connections or MemoryConnections({INTEGRATION.integration_id: INTEGRATION}),
        polling=polling,
        observers=lambda provider, base_url, key, extra: observer,
        publisher=publisher,
        clock=lambda: NOW,
        publish_timeout_s=5,
        **extra,
    )
    return poll, polling


async def test_changes_and_deletions_are_published_once_and_the_cursor_kept(
    kafka: tuple[EventPublisher, list[TimeEntryLogged]],
) -> None:
    publisher, published = kafka
    observer = FakeObserver(hooks=None)
    observer.put("r1", fields(600), NOW)
    observer.put("r2", fields(300), NOW)
    poll, polling = poller(observer, publisher)
    await poll.poll_one(INTEGRATION.integration_id)
    await poll.poll_one(INTEGRATION.integration_id)
    observer.delete("r2", NOW + dt.timedelta(minutes=1))
    await poll.poll_one(INTEGRATION.integration_id)
    assert [(e.source, e.external_id, e.deleted, e.integration_id) for e in published] == [
        (PROVIDER, "r1", False, "int_1"),
        (PROVIDER, "r2", False, "int_1"),
        (PROVIDER, "r2", True, "int_1"),
    ]
    assert polling.cursors["int_1"] == "3"
    assert polling.outcomes["int_1"] == (NOW + dt.timedelta(hours=1), None, None)


async def test_a_refused_credential_is_an_authentication_failure_polled_much_later(
    kafka: tuple[EventPublisher, list[TimeEntryLogged]],
) -> None:
    publisher, _ = kafka

    class Revoked(FakeObserver):
        async def changes(self, cursor: str | None, **_: Any) -> Any:
            raise AuthenticationError(PROVIDER, "GET", "/time", 401, "key revoked")

    poll, polling = poller(Revoked(hooks=None), publisher)
    await poll.poll_one(INTEGRATION.integration_id)
    next_at, error, kind = polling.outcomes["int_1"]
    assert kind == "authentication"
    assert error is not None
    assert error.startswith("authentication failed:")
    assert next_at == NOW + dt.timedelta(minutes=15)


async def test_a_state_change_is_published_once_not_once_per_poll(
    kafka: tuple[EventPublisher, list[TimeEntryLogged]],
) -> None:
    """ok -> needs re-authorisation (once, over three refused polls) -> failing -> ok again."""
    publisher, _ = kafka
    answers: list[Exception | None] = [None]

    class Flaky(FakeObserver):
        async def changes(self, cursor: str | None, **kwargs: Any) -> Any:
            if answers[-1] is not None:
                raise answers[-1]
            return await super().changes(cursor, **kwargs)

    connections = MemoryConnections({INTEGRATION.integration_id: INTEGRATION})
    poll, _ = poller(Flaky(hooks=None), publisher, connections)
    await poll.poll_one("int_1")  # first poll, works: nothing to say
    answers.append(AuthenticationError(PROVIDER, "GET", "/time", 401, '{"message":"bad key"}'))
    for _ in range(3):
        await poll.poll_one("int_1")
    answers.append(TransientError("503 from the tracker"))
    await poll.poll_one("int_1")
    await poll.poll_one("int_1")
    answers.append(None)
    await poll.poll_one("int_1")
    await poll.poll_one("int_1")
    events = [e for e, _ in connections.outbox]
    assert all(isinstance(e, ConnectionHealthChanged) for e in events)
    changes = [e for e in events if isinstance(e, ConnectionHealthChanged)]
    assert [(e.previous_state, e.state, e.error_class, e.failures) for e in changes] == [
        ("ok", "needs_reauthorisation", "authentication", 1),
        ("needs_reauthorisation", "failing", "unavailable", 4),
        ("failing", "ok", None, 0),
    ]
    refused = changes[0]
    assert (refused.workspace_id, refused.integration_id, refused.provider) == (
        "ws",
        "int_1",
        PROVIDER,
    )
    assert refused.provider_response == '401 {"message":"bad key"}'
    assert refused.message is not None
    assert refused.message.startswith("authentication failed:")
    assert refused.changed_at == NOW
    assert changes[1].provider_response is None  # no answer from the provider, only a 503


async def test_the_same_transition_seen_again_after_a_crash_has_the_same_event_id(
    kafka: tuple[EventPublisher, list[TimeEntryLogged]],
) -> None:
    """The outcome is recorded after the event is staged: a crash in between repeats the
    transition on the next poll, with the same id (downstream stores it once)."""
    publisher, _ = kafka

    class Revoked(FakeObserver):
        async def changes(self, cursor: str | None, **_: Any) -> Any:
            raise AuthenticationError(PROVIDER, "GET", "/time", 401, "key revoked")

    connections = MemoryConnections({INTEGRATION.integration_id: INTEGRATION})
    poll, polling = poller(Revoked(hooks=None), publisher, connections)
    crashed = False

    async def crash_once(connection_id: str, **_: Any) -> None:
        nonlocal crashed
        crashed = True
        raise RuntimeError("killed before the outcome was recorded")

    recorded = polling.done
    polling.done = crash_once  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await poll.poll_one("int_1")
    polling.done = recorded  # type: ignore[method-assign]
    await poll.poll_one("int_1")
    await poll.poll_one("int_1")
    assert crashed
    ids = [envelope.event_id for _, envelope in connections.outbox]
    assert len(ids) == 2
    assert ids[0] == ids[1]


async def test_a_daily_integration_is_polled_next_at_the_end_of_its_workspaces_day(
    kafka: tuple[EventPublisher, list[TimeEntryLogged]],
) -> None:
    """Berlin's day ends at 23:00 UTC in November; the schedule stores it, so a restart keeps
    it (the next poll is neither skipped nor repeated). The UTC override wins when set."""
    publisher, _ = kafka
    settings = IntegrationSettings(frequency="daily", timezone="Europe/Berlin")
    daily = replace(INTEGRATION, settings=settings)
    poll, polling = poller(FakeObserver(hooks=None), publisher, MemoryConnections({"int_1": daily}))
    await poll.poll_one("int_1")
    assert polling.outcomes["int_1"][0] == dt.datetime(2026, 11, 21, 23, tzinfo=dt.UTC)
    fixed, polling = poller(
        FakeObserver(hooks=None),
        publisher,
        MemoryConnections({"int_1": daily}),
        daily_at=dt.time(2, 30),
    )
    await fixed.poll_one("int_1")
    assert polling.outcomes["int_1"][0] == dt.datetime(2026, 11, 22, 2, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("provider", "every"),
    [("wrike", SAFETY_NET), ("hubstaff", REALTIME_BY_POLLING), ("harvest", REALTIME_BY_POLLING)],
)
async def test_a_realtime_tracker_whose_webhooks_miss_changes_is_polled_as_often_as_without(
    kafka: tuple[EventPublisher, list[TimeEntryLogged]], provider: str, every: dt.timedelta
) -> None:
    """Wrike's webhooks report every timelog change: polling is the safety net. Hubstaff's miss
    manual and deleted time: polled as often as a tracker without webhooks (Harvest)."""
    publisher, _ = kafka
    realtime = replace(
        INTEGRATION, provider=provider, settings=IntegrationSettings(frequency="realtime")
    )
    poll, polling = poller(
        FakeObserver(hooks=None), publisher, MemoryConnections({"int_1": realtime})
    )
    await poll.poll_one("int_1")
    assert polling.outcomes["int_1"][0] == NOW + every


async def test_a_disabled_hook_is_re_activated_before_the_poll_that_covers_the_gap(
    kafka: tuple[EventPublisher, list[TimeEntryLogged]],
) -> None:
    publisher, published = kafka
    observer = FakeObserver()
    assert observer.hooks is not None
    kept: list[str] = []

    async def keeper(integration: Integration) -> str | None:
        assert observer.hooks is not None
        state = await observer.hooks.ensure_active(integration.hook_id or "")
        if state is None or state.hook_id == integration.hook_id:
            return None
        kept.append(state.hook_id)
        return "re-activated"

    hook = await observer.hooks.register("http://ingest.test/v1/webhooks/tracker-x/t")
    observer.hooks.disable(hook.hook_id)
    observer.put("missed", fields(60), NOW)
    poll, polling = poller(observer, publisher, hook_keeper=keeper)
    await poll.poll_one(INTEGRATION.integration_id)
    assert polling.notes == {"int_1": "re-activated"}
    assert observer.hooks.active == {kept[0]: True}
    assert [e.external_id for e in published] == ["missed"]


async def test_hints_are_re_read_and_published_as_the_provider_has_them(
    kafka: tuple[EventPublisher, list[TimeEntryLogged]],
) -> None:
    publisher, published = kafka
    observer = FakeObserver(hooks=None)
    observer.put("r1", fields(900), NOW)
    inbox = MemoryInbox()
    worker = DeliveryWorker(
        MemoryConnections({INTEGRATION.integration_id: INTEGRATION}),
        inbox,
        lambda provider, base_url, key, extra: observer,
        publisher,
        lambda: NOW,
        5,
    )
    await inbox.put("int_1", Hint("r1", dt.date(2026, 11, 20), "u1"), NOW, limit=10)
    assert await worker.drain_once() == 1
    assert [(e.external_id, e.entry.duration_seconds, e.observed_via) for e in published] == [
        ("r1", 900, "webhook")
    ]
    assert len(inbox.finished) == 1
