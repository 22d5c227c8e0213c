"""Tracker webhooks whose handshake needs the hook's secret or hands one over (issue 8), on
in-memory stores: Wrike's handshake answered with the HMAC of its value under the secret kept, a
batch of its events stored as one hint per timelog, a bad ``X-Request-Hash`` refused with nothing
stored; Hubstaff's verification keeping the secret it hands over only while the hook is being
registered, and the registration wrapper activating the hook with it."""

import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from typing import Any

import pytest
from test_hook_intake import (  # type: ignore[import-not-found]  # sibling (conftest.py)
    NOW,
    SECRET,
    TOKEN_HASH,
    Hooks,
    Inbox,
    MemorySecrets,
    integration,
)
from timebridge_providers.hubstaff.webhooks import sign as hubstaff_sign
from timebridge_providers.kit.fakes.observe import FakeHooks, FakeObserver
from timebridge_providers.kit.ports.observe import HookState, Observer
from timebridge_providers.wrike.webhooks import sign as wrike_sign

from timebridge_ingest.domain.connections import hook_token_hash
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.hook_secrets import HookSecrets, keeping_secrets
from timebridge_ingest.handlers.hooks import HookIntake


@dataclass
class World:
    intake: HookIntake
    hooks: Hooks
    inbox: Inbox
    secrets: HookSecrets


@pytest.fixture
async def world() -> World:
    secrets = HookSecrets(MemorySecrets())
    await secrets.put(TOKEN_HASH, SECRET)
    hooks, inbox = Hooks(), Inbox()
    intake = HookIntake(hooks, inbox, lambda: NOW, secrets=secrets, tolerance_s=300)
    return World(intake, hooks, inbox, secrets)


def wrike_batch(*timelogs: str) -> bytes:
    return json.dumps(
        [
            {
                "timeTrackerId": timelog,
                "type": "Updated",
                "hours": "1.5",
                "taskId": "IEAT00000001",
                "webhookId": "IEAW00000009",
                "eventAuthorId": "KUA000000001",
                "eventType": "TimelogChanged",
                "lastUpdatedDate": "2026-11-05T09:00:00Z",
            }
            for timelog in timelogs
        ]
    ).encode()


async def test_wrikes_handshake_is_answered_with_the_hmac_under_the_kept_secret(
    world: World,
) -> None:
    world.hooks.pending.add(TOKEN_HASH)
    handshake = json.dumps({"requestType": "WebHook secret verification"}).encode()
    answer = await world.intake.receive(
        "wrike", TOKEN_HASH, {"X-Hook-Secret": "wrikes-random-value"}, handshake
    )
    expected = hmac.new(SECRET.encode(), b"wrikes-random-value", hashlib.sha256).hexdigest()
    assert answer.headers == {"X-Hook-Secret": expected}
    assert not answer.accepted
    assert await world.secrets.get(TOKEN_HASH) == SECRET, "Wrike hands no secret over"


async def test_a_connected_wrike_hook_signs_nothing_chosen_by_whoever_holds_its_url(
    world: World,
) -> None:
    """The handshake's answer is the HMAC of the value sent under the hook's secret: answered for
    a connected hook, it would sign a delivery body of the sender's choosing."""
    world.hooks.by_hash[TOKEN_HASH] = integration("wrike")
    handshake = json.dumps({"requestType": "WebHook secret verification"}).encode()
    forged = wrike_batch("IEAL0000FORGE")
    with pytest.raises(RejectedError) as refused:
        await world.intake.receive(
            "wrike", TOKEN_HASH, {"X-Hook-Secret": forged.decode()[:200]}, handshake
        )
    assert refused.value.status == 409


async def test_a_wrike_batch_stores_a_hint_per_timelog_and_a_bad_hash_is_401(world: World) -> None:
    world.hooks.by_hash[TOKEN_HASH] = integration("wrike")
    body = wrike_batch("IEAL00000001", "IEAL00000002", "IEAL00000001")
    for bad in ({}, {"X-Request-Hash": wrike_sign("guessed", body)}):
        with pytest.raises(RejectedError) as refused:
            await world.intake.receive("wrike", TOKEN_HASH, bad, body)
        assert refused.value.status == 401
    assert world.inbox.hints == []
    answer = await world.intake.receive(
        "wrike", TOKEN_HASH, {"X-Request-Hash": wrike_sign(SECRET, body)}, body
    )
    assert (answer.accepted, answer.status) == (True, "accepted")
    assert [(h.external_id, h.task_id) for _, h in world.inbox.hints] == [
        ("IEAL00000001", "IEAT00000001"),
        ("IEAL00000002", "IEAT00000001"),
    ]


async def test_hubstaffs_secret_is_kept_only_while_the_hook_is_being_registered(
    world: World,
) -> None:
    world.hooks.pending.add(TOKEN_HASH)
    answer = await world.intake.receive(
        "hubstaff", TOKEN_HASH, {"X-Hook-Secret": "hubstaffs-own-secret"}, b""
    )
    assert answer.headers == {"X-Hook-Secret": "hubstaffs-own-secret"}
    assert await world.secrets.get(TOKEN_HASH) == "hubstaffs-own-secret"
    world.hooks.pending.clear()
    world.hooks.by_hash[TOKEN_HASH] = integration("hubstaff")
    with pytest.raises(RejectedError) as refused:
        await world.intake.receive("hubstaff", TOKEN_HASH, {"X-Hook-Secret": "an-attacker"}, b"")
    assert refused.value.status == 409
    assert await world.secrets.get(TOKEN_HASH) == "hubstaffs-own-secret"
    body = json.dumps(
        {
            "id": "69d37f9f-483e-4be1-92c3-b2377203a8cd",
            "event": "timer.stop",
            "created_at": "2026-11-05T09:00:00",
            "payload": {
                "user_id": 7,
                "project_id": 8,
                "task_id": None,
                "tracking_stopped_at": "2026-11-05T08:59:00Z",
            },
        }
    ).encode()
    signed = {"X-Hook-Signature": hubstaff_sign("hubstaffs-own-secret", body)}
    accepted = await world.intake.receive("hubstaff", TOKEN_HASH, signed, body)
    assert accepted.accepted
    [(_, hint)] = world.inbox.hints
    assert hint.external_id == "day:7:8:-:2026-11-05"


async def test_registration_activates_a_hook_with_the_secret_its_handshake_handed_over() -> None:
    kept = HookSecrets(MemorySecrets())
    activated: list[tuple[str, str]] = []

    class Activated(FakeHooks):
        handed: str | None = None

        async def register(self, target_url: str, secret: str | None = None) -> HookState:
            state = await super().register(target_url, secret)
            if self.handed is not None:  # the verification reached the receiver meanwhile
                await kept.put(hook_token_hash(target_url.rpartition("/")[2]), self.handed)
            return replace(state, active=False)

        async def activate(self, hook_id: str, secret: str) -> HookState:
            activated.append((hook_id, secret))
            return HookState(hook_id, True)

    provider_hooks = Activated()

    def observers(provider: str, base_url: str, key: str, extra: Any) -> Observer:
        return FakeObserver(hooks=provider_hooks)

    opened = keeping_secrets(observers, kept)("hubstaff", "http://h.test", "key", {})
    assert opened.hooks is not None
    silent = await opened.hooks.register("https://ingest.test/v1/webhooks/hubstaff/tok1")
    assert not silent.active
    assert activated == [], "no handshake came: nothing to activate with"
    provider_hooks.handed = "hubstaffs-own-secret"
    state = await opened.hooks.register("https://ingest.test/v1/webhooks/hubstaff/tok2")
    assert state.active
    assert activated == [(state.hook_id, "hubstaffs-own-secret")]
