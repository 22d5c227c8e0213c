"""Secrets saved before the credential owner held them are handed to it once, at start-up, and
the rules of what an admin gives to connect (a key, or an OAuth tracker's tokens)."""

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.profile import Profile

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import IntegrationSettings
from timebridge_common.outbound.oauth import Tokens
from timebridge_ingest.domain.connections import Integration, Workspace, check_sign_in
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.access import credential_from_owner
from timebridge_ingest.handlers.handover import hand_over, hand_over_until_done


def _tracker(auth: str) -> str:
    return next(n for n in registry().names("tracker") if registry().get(n).profile.auth == auth)


KEYED, OAUTH = _tracker("api_key"), _tracker("oauth2")
HOME = registry().home().name


def integration(integration_id: str, provider: str, **changes: object) -> Integration:
    made = Integration(
        integration_id=integration_id,
        workspace_id="ws",
        provider=provider,
        base_url=f"http://{provider}.test",
        api_key=f"key-{integration_id}",
        status="connected",
        settings=IntegrationSettings(),
        extra={"account_id": "7"},
    )
    return replace(made, **changes)  # type: ignore[arg-type]


@dataclass
class MemoryStore:
    workspaces: list[Workspace] = field(default_factory=list)
    integrations: list[Integration] = field(default_factory=list)
    held: list[str] = field(default_factory=list)

    async def not_at_owner(self) -> tuple[list[Workspace], list[Integration]]:
        return (
            [w for w in self.workspaces if f"core_{w.workspace_id}" not in self.held],
            [i for i in self.integrations if i.integration_id not in self.held],
        )

    async def mark_at_owner(self, connection_id: str) -> None:
        self.held.append(connection_id)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["MemoryStore"]:
        yield self


class RefusingOne(FakeCredentialSource):
    async def put_key(
        self, workspace_id: str, connection_id: str, *args: object, **kw: object
    ) -> None:
        if connection_id == "int_bad":
            raise InvalidMessageError("unknown provider")
        await super().put_key(workspace_id, connection_id, *args, **kw)  # type: ignore[arg-type]


async def test_each_saved_secret_is_handed_over_once_and_marked() -> None:
    store = MemoryStore(
        workspaces=[Workspace("ws", "http://core.test", "core-token")],
        integrations=[integration("int_1", KEYED), integration("int_bad", KEYED)],
    )
    owner = RefusingOne()
    assert await hand_over(store, owner) == 2
    core = await owner.access("ws", "core_ws")
    assert (core.credential, core.base_url, owner.providers[("ws", "core_ws")]) == (
        "core-token", "http://core.test", HOME,
    )  # fmt: skip
    keyed = await owner.access("ws", "int_1")
    assert (keyed.credential, keyed.base_url, keyed.extra) == (
        "key-int_1", f"http://{KEYED}.test", {"account_id": "7"},
    )  # fmt: skip
    assert store.held == ["core_ws", "int_1"], "the refused one is left for the next start"
    owner.calls.clear()
    assert await hand_over(store, owner) == 0
    assert ("ws", "int_1") in owner.accesses
    assert owner.calls == []


async def test_an_oauth_tracker_without_a_refresh_token_is_left_to_its_admin() -> None:
    store = MemoryStore(integrations=[integration("int_o", OAUTH)])
    owner = FakeCredentialSource()
    assert await hand_over(store, owner) == 0
    assert owner.accesses == {}
    assert store.held == []


async def test_the_owner_unavailable_is_retried_until_it_takes_them() -> None:
    store = MemoryStore(integrations=[integration("int_1", KEYED)])
    owner = FakeCredentialSource()
    down = [TransientError("owner restarting")]

    class Flaky(FakeCredentialSource):
        async def put_key(self, *args: object, **kw: object) -> None:
            if down:
                raise down.pop()
            await owner.put_key(*args, **kw)  # type: ignore[arg-type]

    await hand_over_until_done(store, Flaky(), wait_s=0)
    assert store.held == ["int_1"]
    assert ("ws", "int_1") in owner.accesses


def _profile(auth: str) -> Profile:
    return registry().get(OAUTH if auth == "oauth2" else KEYED).profile


TOKENS = Tokens("at", "rt", dt.datetime(2026, 12, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("auth", "oauth", "owner", "refusal"),
    [
        ("api_key", None, True, None),
        ("api_key", TOKENS, True, "signs in with a key"),
        ("oauth2", TOKENS, True, None),
        ("oauth2", None, True, "signs in with OAuth"),
        ("oauth2", None, False, None),
    ],
)
def test_a_key_or_oauth_tokens_as_the_provider_signs_in(
    auth: str, oauth: Tokens | None, owner: bool, refusal: str | None
) -> None:
    if refusal is None:
        check_sign_in(_profile(auth), oauth=oauth, owner=owner)
        return
    with pytest.raises(RejectedError, match=refusal) as refused:
        check_sign_in(_profile(auth), oauth=oauth, owner=owner)
    assert refused.value.status == 422


async def test_a_connections_credential_is_the_owners_once_it_holds_it() -> None:
    owner = FakeCredentialSource()
    owner.put("ws", "int_1", "refreshed-at")
    credential_of = credential_from_owner(owner)
    assert await credential_of(integration("int_1", KEYED, at_owner=True)) == "refreshed-at"
    assert await credential_of(integration("int_1", KEYED)) == "key-int_1", "not handed over yet"
    gone = integration("int_1", KEYED, at_owner=True).disconnected()
    assert await credential_of(gone) is None
    assert owner.calls == [("ws", "int_1")]
