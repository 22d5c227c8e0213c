"""Tracker webhooks at ``/v1/webhooks/<provider>/<token>`` on in-memory stores and faststream's
test broker: a signed delivery (Toggl's scheme) published once with the poll's observation id, its
validation ping answered while the hook is being registered, bad/missing/stale signatures refused
with nothing published; a signed hint (ClickUp's scheme) stored once, refused unsigned; and the
registration wrapper keeping the hook's secret (proposed before the provider is called, replaced
by the one it answers)."""

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from timebridge_providers.clickup.webhooks import sign as clickup_sign
from timebridge_providers.kit.fakes.observe import FakeHooks, FakeObserver
from timebridge_providers.kit.ports.observe import Change, Hint, HookState, Observer
from timebridge_providers.toggl.webhooks import sign as toggl_sign

from timebridge_common.crypto import SecretBox
from timebridge_common.errors import TransientError
from timebridge_common.events import IntegrationSettings, TimeEntryFields, TimeEntryLogged, UserRef
from timebridge_common.events.codec import decode
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.publisher import UnavailableError
from timebridge_common.testing import in_memory_tracing
from timebridge_ingest.bootstrap import bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Integration, hook_token_hash
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.hook_secrets import HookSecrets, keeping_secrets
from timebridge_ingest.handlers.hooks import HookIntake

NOW = dt.datetime(2026, 11, 5, 9, 0, 5, tzinfo=dt.UTC)
SECRET = "hook-secret-0123456789abcdef"
TOKEN_HASH = hook_token_hash("the-url-token")


class MemorySecrets:
    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], str] = {}

    async def get(self, workspace_id: str, source: str) -> str | None:
        return self.kept.get((workspace_id, source))

    async def put(self, workspace_id: str, source: str, secret: str) -> None:
        self.kept[(workspace_id, source)] = secret


@dataclass
class Hooks:
    by_hash: dict[str, Integration] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)

    async def integration_by_hook(self, token_hash: str) -> Integration | None:
        return self.by_hash.get(token_hash)

    async def pending_hook_exists(self, token_hash: str) -> bool:
        return token_hash in self.pending

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        yield self


@dataclass
class Inbox:
    hints: list[tuple[str, Hint]] = field(default_factory=list)

    async def put(self, integration_id: str, hint: Hint, now: dt.datetime, *, limit: int) -> bool:
        self.hints.append((integration_id, hint))
        return True


def integration(provider: str) -> Integration:
    return Integration(
        integration_id=f"int_{provider}",
        workspace_id="ws",
        provider=provider,
        base_url=f"http://{provider}.test",
        api_key="key",
        status="connected",
        settings=IntegrationSettings(frequency="realtime"),
        hook_id="6",
        hook_token_hash=TOKEN_HASH,
    )


@dataclass
class World:
    intake: HookIntake
    hooks: Hooks
    inbox: Inbox
    published: list[tuple[str, TimeEntryLogged]]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    secrets = MemorySecrets()
    ingest = bootstrap(
        Settings(
            encryption_key=SecretBox.generate_key(),
            admin_token="admin-token",
            credentials_url="http://credentials.test",
            service_token="svc-token",
        ),
        broker=KafkaBroker(),
        secrets=secrets,
        tracer_provider=in_memory_tracing("ingest")[0],
    )
    published: list[tuple[str, TimeEntryLogged]] = []

    @ingest.runtime.broker.subscriber(TimeEntryLogged.topic())
    async def capture(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        envelope, event = decode(decode_headers(record.headers), record.value, TimeEntryLogged)
        published.append((str(envelope.event_id), event))

    hook_secrets = HookSecrets(secrets)
    await hook_secrets.put(TOKEN_HASH, SECRET)
    hooks, inbox = Hooks(), Inbox()
    async with TestKafkaBroker(ingest.runtime.broker) as broker:
        ingest.runtime.broker = broker
        intake = HookIntake(
            hooks,
            inbox,  # type: ignore[arg-type]
            lambda: NOW,
            secrets=hook_secrets,
            publisher=ingest.publisher,
            tolerance_s=300,
        )
        yield World(intake, hooks, inbox, published)


def toggl_delivery(*, event_id: int = 42, sent: str = "2026-11-05T09:00:00Z") -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "metadata": {"action": "updated", "model": "time_entry", "workspace_id": "7"},
            "payload": {
                "id": 11,
                "workspace_id": 7,
                "user_id": 3,
                "start": "2026-11-05T08:00:00+00:00",
                "stop": "2026-11-05T08:30:00+00:00",
                "duration": 1800,
                "description": "hooked",
                "billable": True,
                "at": "2026-11-05T08:59:00+00:00",
            },
            "subscription_id": 6,
            "timestamp": sent,
        }
    ).encode()


async def test_a_signed_delivery_is_published_once_with_the_polls_observation_id(
    world: World,
) -> None:
    world.hooks.by_hash[TOKEN_HASH] = integration("toggl")
    body = toggl_delivery()
    headers = {"x-webhook-signature-256": toggl_sign(SECRET, body)}
    answer = await world.intake.receive("toggl", TOKEN_HASH, headers, body)
    assert (answer.accepted, answer.status) == (True, "accepted")
    [(event_id, event)] = world.published
    assert (event.source, event.external_id, event.integration_id) == ("toggl", "11", "int_toggl")
    assert (event.entry.duration_seconds, event.entry.notes, event.observed_via) == (
        1800,
        "hooked",
        "webhook",
    )
    # A poll of the same version is the same event: its id names entry, version and deletion.
    polled = event.model_copy(update={"observed_via": "poll"})
    assert event_id == str(polled.observation_id())

    again = await world.intake.receive("toggl", TOKEN_HASH, headers, body)
    assert (again.accepted, again.status) == (True, "duplicate")
    assert len(world.published) == 1, "a replayed delivery is not published again"


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, toggl_delivery(), "missing"),
        ({"x-webhook-signature-256": "sha256=" + "0" * 64}, toggl_delivery(), "does not match"),
        ({"x-webhook-signature-256": "sha256=é"}, toggl_delivery(), "malformed"),
        (
            {
                "x-webhook-signature-256": toggl_sign(
                    SECRET, toggl_delivery(sent="2026-11-05T08:50Z")
                )
            },
            toggl_delivery(sent="2026-11-05T08:50Z"),
            "more than 300s",
        ),
    ],
)
async def test_a_bad_missing_or_stale_signature_is_refused_and_nothing_published(
    world: World, headers: dict[str, str], body: bytes, reason: str
) -> None:
    world.hooks.by_hash[TOKEN_HASH] = integration("toggl")
    with pytest.raises(RejectedError, match=reason) as refused:
        await world.intake.receive("toggl", TOKEN_HASH, headers, body)
    assert refused.value.status == 401
    assert world.published == []


async def test_the_validation_ping_is_answered_while_the_hook_is_registered(world: World) -> None:
    ping = json.dumps(
        {"event_id": 0, "payload": "ping", "subscription_id": 6, "validation_code": "c0de",
         "timestamp": "2026-11-05T09:00:01Z"}
    ).encode()  # fmt: skip
    headers = {"X-Webhook-Signature-256": toggl_sign(SECRET, ping)}
    with pytest.raises(RejectedError) as unknown:  # neither registered nor being registered
        await world.intake.receive("toggl", TOKEN_HASH, headers, ping)
    assert unknown.value.status == 404
    world.hooks.pending.add(TOKEN_HASH)
    answer = await world.intake.receive("toggl", TOKEN_HASH, headers, ping)
    assert answer.reply == {"validation_code": "c0de"}
    with pytest.raises(RejectedError) as forged:
        await world.intake.receive("toggl", TOKEN_HASH, {}, ping)
    assert forged.value.status == 401
    assert world.published == []


def clickup_delivery(item: str = "900", made: dt.datetime = NOW) -> bytes:
    ms = str(int(made.timestamp() * 1000))
    return json.dumps(
        {
            "event": "taskTimeTrackedUpdated",
            "history_items": [
                {"id": item, "date": ms, "user": {"id": 7},
                 "after": {"id": "4242", "start": ms, "end": ms, "time": "0"}}
            ],
            "task_id": "86abc",
            "data": {"interval_id": "4242"},
        }
    ).encode()  # fmt: skip


async def test_a_signed_hint_is_stored_once_and_an_unsigned_one_refused(world: World) -> None:
    world.hooks.by_hash[TOKEN_HASH] = integration("clickup")
    body = clickup_delivery()
    signed = {"x-signature": clickup_sign(SECRET, body)}
    for bad in ({}, {"x-signature": clickup_sign("guessed", body)}):
        with pytest.raises(RejectedError) as refused:
            await world.intake.receive("clickup", TOKEN_HASH, bad, body)
        assert refused.value.status == 401
    stale = clickup_delivery(made=NOW - dt.timedelta(minutes=10))
    with pytest.raises(RejectedError, match="from now"):
        await world.intake.receive(
            "clickup", TOKEN_HASH, {"x-signature": clickup_sign(SECRET, stale)}, stale
        )
    assert world.inbox.hints == []
    answer = await world.intake.receive("clickup", TOKEN_HASH, signed, body)
    assert (answer.accepted, answer.status) == (True, "accepted")
    again = await world.intake.receive("clickup", TOKEN_HASH, signed, body)
    assert again.status == "duplicate"
    assert [(i, h.external_id, h.task_id) for i, h in world.inbox.hints] == [
        ("int_clickup", "4242", "86abc")
    ]


async def test_registration_keeps_the_secret_proposed_before_calling_the_provider() -> None:
    secrets = MemorySecrets()
    kept = HookSecrets(secrets)
    seen_at_registration: list[str | None] = []

    class ProviderPicks(FakeHooks):
        async def register(self, target_url: str, secret: str | None = None) -> HookState:
            seen_at_registration.append(await kept.get(hook_token_hash("tok")))
            state = await super().register(target_url, secret)
            return replace(state, secret=self.picked)

        picked: str | None = None

    provider_hooks = ProviderPicks()

    def observers(provider: str, base_url: str, key: str, extra: Any) -> Observer:
        return FakeObserver(hooks=provider_hooks)

    opened = keeping_secrets(observers, kept)("tracker", "http://t.test", "key", {})
    assert opened.hooks is not None
    await opened.hooks.register("https://ingest.test/v1/webhooks/tracker/tok")
    proposed = provider_hooks.secrets["1"]
    assert proposed is not None
    assert len(proposed) >= 32
    assert seen_at_registration == [proposed], "stored before the provider could ping"
    assert await kept.get(hook_token_hash("tok")) == proposed
    provider_hooks.picked = "the-providers-own-secret"
    await opened.hooks.register("https://ingest.test/v1/webhooks/tracker/tok2")
    assert await kept.get(hook_token_hash("tok2")) == "the-providers-own-secret"
    assert SECRET not in json.dumps(list(secrets.kept))


class RendersDeliveries(FakeObserver):
    """A tracker's observer that renders a delivery as its poll would (the member's zone)."""

    def __init__(self, fail: Exception | None = None) -> None:
        super().__init__(hooks=None)
        self.fail = fail

    async def delivered(self, body: bytes) -> Change | None:
        if self.fail is not None:
            raise self.fail
        entry = json.loads(body)["payload"]
        fields = TimeEntryFields(
            user=UserRef(external_id=str(entry["user_id"]), email="ann@example.com"),
            date=dt.date(2026, 11, 5),
            timezone="Europe/Berlin",
            duration_seconds=entry["duration"],
            billable=entry["billable"],
        )
        return Change(str(entry["id"]), fields, dt.datetime.fromisoformat(entry["at"]))


async def test_a_signed_delivery_is_published_as_the_poll_renders_it(world: World) -> None:
    world.hooks.by_hash[TOKEN_HASH] = integration("toggl")
    opened: list[tuple[str, str, str]] = []

    def observers(provider: str, base_url: str, key: str, extra: Any) -> Observer:
        opened.append((provider, base_url, key))
        return RendersDeliveries()

    world.intake.observers = observers
    body = toggl_delivery()
    headers = {"x-webhook-signature-256": toggl_sign(SECRET, body)}
    await world.intake.receive("toggl", TOKEN_HASH, headers, body)
    [(_, event)] = world.published
    assert opened == [("toggl", "http://toggl.test", "key")]
    assert (event.entry.timezone, event.entry.user.email) == ("Europe/Berlin", "ann@example.com")


async def test_a_tracker_that_cannot_be_asked_is_a_503_and_nothing_published(
    world: World,
) -> None:
    world.hooks.by_hash[TOKEN_HASH] = integration("toggl")
    down = RendersDeliveries(TransientError("toggl answered 503"))
    world.intake.observers = lambda *_: down
    body = toggl_delivery()
    headers = {"x-webhook-signature-256": toggl_sign(SECRET, body)}
    with pytest.raises(UnavailableError, match="could not be asked"):
        await world.intake.receive("toggl", TOKEN_HASH, headers, body)
    down.fail = None
    answer = await world.intake.receive("toggl", TOKEN_HASH, headers, body)
    assert answer.status == "accepted", "Toggl's retry is taken: the first try claimed nothing"
    assert len(world.published) == 1


async def test_a_secret_the_provider_lists_for_a_hook_is_kept_when_it_is_checked() -> None:
    """A hook registered before ingest kept secrets (or one whose secret was rotated) heals at
    the next check instead of having every delivery refused."""
    kept = HookSecrets(MemorySecrets())
    url = "https://ingest.test/v1/webhooks/tracker/old-token"

    class Lists(FakeHooks):
        async def ensure_active(self, hook_id: str) -> HookState | None:
            return HookState(hook_id, True, "listed-secret", url)

    def observers(provider: str, base_url: str, key: str, extra: Any) -> Observer:
        return FakeObserver(hooks=Lists())

    hooks = keeping_secrets(observers, kept)("tracker", "http://t.test", "key", {}).hooks
    assert hooks is not None
    assert await kept.get(hook_token_hash("old-token")) is None
    await hooks.ensure_active("7")
    assert await kept.get(hook_token_hash("old-token")) == "listed-secret"
