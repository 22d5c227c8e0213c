"""Connecting an OAuth tracker by consent: the one-time state (kept hashed, spent by the first
callback, refused replayed, expired or for another provider), the owner exchanging the code,
the connection tested with the owner's access token, and nothing kept when anything refuses;
the history import asked for before the consent, checked then and started once connected."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
from timebridge_providers.kit.credentials import Authorization
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import IntegrationSettings
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.connections import Connections
from timebridge_ingest.handlers.connections import TestResult as Verdict
from timebridge_ingest.handlers.imports import Imports
from timebridge_ingest.handlers.oauth_connect import (
    STATE_TTL,
    ConsentStarted,
    OAuthConnect,
    state_hash,
)

NOW = dt.datetime(2026, 12, 6, 9, tzinfo=dt.UTC)
QBT = "quickbooks_time"
CALLBACK = "http://ingest.test/v1/oauth/quickbooks_time/callback"
ZONE = {"timezone": "Europe/Berlin"}  # QuickBooks Time's connection field


@dataclass
class MemoryStates:
    kept: dict[str, tuple[ConsentStarted, dt.datetime]] = field(default_factory=dict)

    async def add(self, state_hash: str, started: ConsentStarted, expires_at: dt.datetime) -> None:
        self.kept[state_hash] = (started, expires_at)

    async def spend(
        self, state_hash: str, provider: str, now: dt.datetime
    ) -> ConsentStarted | None:
        found = self.kept.pop(state_hash, None)
        if found is None or found[0].provider != provider or found[1] <= now:
            return None
        return found[0]


@dataclass
class Owner(FakeCredentialSource):
    """The credential owner: the consent URL of its app, codes it exchanges once."""

    codes: set[str] = field(default_factory=set)
    exchanged: list[tuple[str, str, str]] = field(default_factory=list)

    async def authorization(
        self, provider: str, state: str, redirect_uri: str | None = None
    ) -> Authorization:
        assert redirect_uri == CALLBACK  # ingest's own callback, unless the owner has one
        return Authorization(
            authorize_url=f"http://qbt.test/api/v1/authorize?state={state}",
            redirect_uri=redirect_uri,
        )

    async def exchange_code(
        self,
        workspace_id: str,
        connection_id: str,
        provider: str,
        code: str,
        redirect_uri: str,
        *,
        base_url: str = "",
        extra: Mapping[str, str] | None = None,
        returned: Mapping[str, str] | None = None,
    ) -> None:
        if code not in self.codes:
            raise InvalidMessageError("the owner refused (invalid_grant)")
        self.codes.discard(code)
        self.exchanged.append((workspace_id, connection_id, redirect_uri))
        self.put(workspace_id, connection_id, f"access-for-{code}", base_url=base_url)


class Tracker(Connections):
    """The connection use cases with the tracker's test and the store played in memory."""

    def __init__(self, works: bool = True) -> None:
        nothing = cast(Any, None)
        super().__init__(
            nothing, nothing, nothing, nothing, nothing, nothing,
            api_url=lambda p: f"http://{p}.test/api/v1", public_base_url="http://ingest.test",
            clock=lambda: NOW,
        )  # fmt: skip
        self.works = works
        self.tested_with: list[str] = []
        self.saved: list[Integration] = []

    async def test(
        self,
        provider: str,
        api_key: str,
        fields: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
    ) -> Verdict:
        self.tested_with.append(api_key)
        if self.works:
            return Verdict(True, account={"user_id": "7", "name": "Ann Admin"})
        return Verdict(False, error_kind="bad_key", message="QuickBooks Time: 401")

    async def keep_connected(self, integration: Integration) -> Integration:
        self.saved.append(integration)
        return integration


def world(works: bool = True) -> tuple[OAuthConnect, MemoryStates, Owner, Tracker]:
    states, owner, tracker = MemoryStates(), Owner(), Tracker(works)
    clock = [NOW]
    consent = OAuthConnect(tracker, states, owner, lambda: clock[0])
    return consent, states, owner, tracker


async def start(consent: OAuthConnect) -> str:
    settings = IntegrationSettings(frequency="hourly")
    started = await consent.start("ws-1", QBT, "ann", settings, ZONE)
    assert started.expires_at == NOW + STATE_TTL
    with pytest.raises(RejectedError, match="needs the connection field timezone"):
        await consent.start("ws-1", QBT, "ann", settings, {})
    return parse_qs(urlsplit(started.authorize_url).query)["state"][0]


async def test_consent_connects_once_and_a_replayed_state_is_refused() -> None:
    consent, states, owner, tracker = world()
    state = await start(consent)
    assert list(states.kept) == [state_hash(state)]  # only its hash is kept
    owner.codes.add("code-1")
    connected = await consent.complete(QBT, {"code": "code-1", "state": state})
    assert (connected.importing, connected.import_error) == (False, None)  # none asked for
    done = connected.integration
    assert (done.workspace_id, done.provider, done.status, done.at_owner) == (
        "ws-1", QBT, "connected", True
    )  # fmt: skip
    assert done.api_key is None  # the token stays at the owner
    assert done.settings.frequency == "hourly"
    assert done.extra == ZONE
    assert owner.exchanged == [("ws-1", done.integration_id, CALLBACK)]
    assert tracker.tested_with == ["access-for-code-1"]
    assert tracker.saved == [done]
    with pytest.raises(RejectedError, match="unknown, used or expired state") as replayed:
        await consent.complete(QBT, {"code": "code-1", "state": state})
    assert replayed.value.status == 422
    assert len(tracker.saved) == 1


async def test_expired_foreign_and_missing_states_are_refused_and_spent() -> None:
    consent, states, owner, tracker = world()
    owner.codes.add("code-1")
    late = await start(consent)
    consent.clock = lambda: NOW + STATE_TTL
    with pytest.raises(RejectedError, match="expired"):
        await consent.complete(QBT, {"code": "code-1", "state": late})
    consent.clock = lambda: NOW
    other = await start(consent)
    with pytest.raises(RejectedError, match="expired"):
        await consent.complete("wrike", {"code": "code-1", "state": other})
    with pytest.raises(RejectedError, match="needs a state"):
        await consent.complete(QBT, {"code": "code-1"})
    assert states.kept == {}
    assert owner.exchanged == []
    assert tracker.saved == []


async def test_a_denied_consent_or_refused_code_keeps_nothing() -> None:
    consent, _, owner, tracker = world()
    denied = await start(consent)
    with pytest.raises(RejectedError, match=r"did not grant access \(access_denied\)"):
        await consent.complete(QBT, {"error": "access_denied", "state": denied})
    refused = await start(consent)
    with pytest.raises(RejectedError, match="refused the consent") as exc:
        await consent.complete(QBT, {"code": "spent", "state": refused})
    assert exc.value.status == 422
    assert tracker.saved == []
    assert owner.accesses == {}


async def test_a_failed_connection_test_makes_the_owner_forget_the_tokens() -> None:
    consent, _, owner, tracker = world(works=False)
    owner.codes.add("code-1")
    state = await start(consent)
    with pytest.raises(RejectedError, match="connection test failed"):
        await consent.complete(QBT, {"code": "code-1", "state": state})
    assert len(owner.exchanged) == 1
    assert owner.accesses == {}  # forgotten
    assert tracker.saved == []


async def test_start_refuses_key_trackers_and_unknown_ones_and_an_unavailable_owner() -> None:
    consent, states, owner, _ = world()
    with pytest.raises(RejectedError, match="not connected by consent") as key:
        await consent.start("ws-1", "everhour", "ann", IntegrationSettings(), {})
    assert key.value.status == 422
    with pytest.raises(RejectedError) as unknown:
        await consent.start("ws-1", "nope", "ann", IntegrationSettings(), {})
    assert unknown.value.status == 404

    async def down(provider: str, state: str, redirect_uri: str | None = None) -> Authorization:
        raise TransientError("credentials service answered 503")

    owner.authorization = down  # type: ignore[method-assign]
    with pytest.raises(RejectedError) as unavailable:
        await consent.start("ws-1", QBT, "ann", IntegrationSettings(), ZONE)
    assert unavailable.value.status == 503
    assert states.kept == {}


@dataclass
class Importing:
    """The imports use case: the runs started (or a refusal, as the imports API gives one)."""

    started: list[tuple[str, str, str, dt.date, dt.date | None]] = field(default_factory=list)
    refusal: str | None = None

    async def start(
        self,
        workspace_id: str,
        integration_id: str,
        *,
        kind: str,
        from_date: dt.date,
        to_date: dt.date | None,
    ) -> None:
        if self.refusal is not None:
            raise RejectedError(409, self.refusal)
        self.started.append((workspace_id, integration_id, kind, from_date, to_date))


async def test_the_history_import_asked_for_starts_once_connected() -> None:
    consent, _, owner, _ = world()
    importing = Importing()
    consent.imports = cast(Imports, importing)
    settings = IntegrationSettings(direction="tracker_to_core")
    first_day = dt.date(2026, 9, 1)
    started = await consent.start("ws-1", QBT, "ann", settings, ZONE, history_from=first_day)
    state = parse_qs(urlsplit(started.authorize_url).query)["state"][0]
    assert importing.started == []  # nothing before the consent
    owner.codes.add("code-1")
    connected = await consent.complete(QBT, {"code": "code-1", "state": state})
    assert connected.importing
    integration = connected.integration.integration_id
    assert importing.started == [("ws-1", integration, "initial", first_day, None)]

    # The import refused (one already running, say): connected all the same, and why.
    importing.refusal = "an import of this integration is not finished yet"
    owner.codes.add("code-2")
    started = await consent.start("ws-1", QBT, "ann", settings, ZONE, history_from=first_day)
    state = parse_qs(urlsplit(started.authorize_url).query)["state"][0]
    connected = await consent.complete(QBT, {"code": "code-2", "state": state})
    assert connected.integration.status == "connected"
    assert (connected.importing, connected.import_error) == (False, importing.refusal)


async def test_a_history_import_that_cannot_run_is_refused_before_the_consent() -> None:
    consent, states, _, _ = world()
    settings = IntegrationSettings(direction="tracker_to_core")
    with pytest.raises(RejectedError, match="not served here"):  # no imports wired
        await consent.start("ws-1", QBT, "ann", settings, ZONE, history_from=NOW.date())
    consent.imports = cast(Imports, Importing())
    future = NOW.date() + dt.timedelta(days=30)
    with pytest.raises(RejectedError, match="history import: the period starts") as late:
        await consent.start("ws-1", QBT, "ann", settings, ZONE, history_from=future)
    assert late.value.status == 422
    one_way = IntegrationSettings(direction="core_to_tracker")
    with pytest.raises(RejectedError, match="takes nothing from the tracker"):
        await consent.start("ws-1", QBT, "ann", one_way, ZONE, history_from=NOW.date())
    assert states.kept == {}
