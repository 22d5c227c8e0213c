"""The credential owner's use cases on in-memory fakes: hand-out, refresh, rotation, refusal."""

import asyncio
import datetime as dt

import pytest

from timebridge_common.errors import TransientError
from timebridge_common.outbound.oauth import Tokens
from timebridge_common.refusals import ConflictError, InvalidError, NotFoundError, UpstreamError
from timebridge_credentials.domain.credentials import NewCredential, Secret
from timebridge_credentials.handlers.owner import CredentialOwner
from timebridge_credentials.testing import (
    FakeTokenEndpoint,
    FakeTokenEndpoints,
    InMemoryCredentialStore,
    fake_provider,
    fake_registry,
    transient,
)

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
WS, OTHER_WS = "acme", "globex"


class World:
    def __init__(self) -> None:
        self.now = NOW
        self.store = InMemoryCredentialStore()
        self.endpoint = FakeTokenEndpoint(now=NOW)
        registry = fake_registry(
            fake_provider("keyed"), fake_provider("rotating", token_url="http://tokens.test")
        )
        self.owner = CredentialOwner(
            self.store,
            FakeTokenEndpoints({"rotating": self.endpoint}),
            registry,
            margin=dt.timedelta(minutes=5),
            clock=lambda: self.now,
        )

    async def connect_oauth(self, cid: str = "c1", *, expires_in_s: float = 3600) -> Tokens:
        tokens = self.endpoint.issue()
        tokens = Tokens(
            tokens.access_token, tokens.refresh_token, NOW + dt.timedelta(seconds=expires_in_s)
        )
        await self.owner.put(
            NewCredential(WS, cid, "rotating", tokens, "https://api.test", {"tenant": "t-9"})
        )
        return tokens


async def test_api_key_handed_out_as_is_and_rotated() -> None:
    w = World()
    await w.owner.put(NewCredential(WS, "k1", "keyed", Secret("key-one"), extra={"account": "7"}))
    granted = await w.owner.access(WS, "k1")
    assert (granted.credential, dict(granted.extra), granted.expires_at) == (
        "key-one",
        {"account": "7"},
        None,
    )
    status = await w.owner.rotate(WS, "k1", Secret("key-two"))
    assert status.revision == 2
    assert (await w.owner.access(WS, "k1")).credential == "key-two"
    assert dict((await w.owner.access(WS, "k1")).extra) == {"account": "7"}  # kept


async def test_fresh_access_token_needs_no_refresh() -> None:
    w = World()
    tokens = await w.connect_oauth()
    granted = await w.owner.access(WS, "c1")
    assert granted.credential == tokens.access_token
    assert granted.expires_at == tokens.expires_at
    assert w.endpoint.refreshed_with == []


async def test_near_expiry_refreshes_once_and_saves_the_rotated_token() -> None:
    w = World()
    first = await w.connect_oauth(expires_in_s=120)  # inside the 5-minute margin
    granted = await w.owner.access(WS, "c1")
    assert w.endpoint.refreshed_with == [first.refresh_token]
    stored = w.store.rows[(WS, "c1")]
    assert isinstance(stored.secret, Tokens)
    assert stored.secret.access_token == granted.credential != first.access_token
    assert stored.secret.refresh_token in w.endpoint.valid  # the rotated one, saved
    assert stored.status.last_refreshed_at == NOW
    assert (await w.owner.access(WS, "c1")).credential == granted.credential
    assert len(w.endpoint.refreshed_with) == 1


async def test_concurrent_callers_refresh_once() -> None:
    w = World()
    await w.connect_oauth(expires_in_s=0)
    w.endpoint.delay_s = 0.05
    grants = await asyncio.gather(*(w.owner.access(WS, "c1") for _ in range(5)))
    assert len(w.endpoint.refreshed_with) == 1
    assert len({g.credential for g in grants}) == 1


async def test_invalid_grant_marks_needs_reauthorisation_and_is_never_retried() -> None:
    w = World()
    tokens = await w.connect_oauth(expires_in_s=0)
    w.endpoint.valid.discard(tokens.refresh_token)  # revoked at the provider
    with pytest.raises(ConflictError, match="needs re-authorisation"):
        await w.owner.access(WS, "c1")
    [health] = await w.owner.health(WS)
    assert health.state == "needs_reauthorisation"
    assert health.last_error is not None
    assert "invalid_grant" in health.last_error
    with pytest.raises(ConflictError, match="invalid_grant"):
        await w.owner.access(WS, "c1")
    assert len(w.endpoint.refreshed_with) == 1  # not retried blindly
    await w.connect_oauth()  # an admin connects again: healthy
    [health] = await w.owner.health(WS)
    assert (health.state, health.last_error) == ("ok", None)


async def test_transient_failure_is_recorded_and_retried_later() -> None:
    w = World()
    await w.connect_oauth(expires_in_s=0)
    w.endpoint.failures.append(transient())
    with pytest.raises(TransientError) as raised:
        await w.owner.access(WS, "c1")
    assert raised.value.retry_after == 7
    [health] = await w.owner.health(WS)
    assert (health.state, health.last_error) == ("ok", "token endpoint answered 503")
    granted = await w.owner.access(WS, "c1")  # the same refresh token still works
    assert granted.credential.startswith("access-")
    [health] = await w.owner.health(WS)
    assert health.last_error is None


async def test_a_failure_after_the_refresh_keeps_nothing_half_saved() -> None:
    """The store's transaction rolls back when the slot's context raises: the fake keeps the
    old tokens, as Postgres would."""
    w = World()
    first = await w.connect_oauth(expires_in_s=0)

    async def crash_before_commit() -> None:
        async with w.store.locked(WS, "c1") as slot:
            assert slot is not None
            await slot.save_tokens(w.endpoint.issue(), NOW)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        await crash_before_commit()
    stored = w.store.rows[(WS, "c1")]
    assert isinstance(stored.secret, Tokens)
    assert stored.secret.refresh_token == first.refresh_token


async def test_no_app_configured_is_an_upstream_refusal_recorded_in_health() -> None:
    w = World()
    w.owner._endpoints = FakeTokenEndpoints({})
    await w.connect_oauth(expires_in_s=0)
    with pytest.raises(UpstreamError, match="no OAuth app"):
        await w.owner.access(WS, "c1")
    [health] = await w.owner.health(WS)
    assert health.last_error == "no OAuth app is configured for rotating"


@pytest.mark.parametrize(
    ("provider", "secret", "why"),
    [
        ("keyed", Tokens("a", "r", NOW), "does not sign in with OAuth"),
        ("rotating", Secret("k"), "needs OAuth tokens"),
        ("nobody", Secret("k"), "no provider 'nobody'"),
    ],
)
async def test_put_refuses_a_secret_the_provider_does_not_take(
    provider: str, secret: Secret | Tokens, why: str
) -> None:
    w = World()
    with pytest.raises(InvalidError, match=why):
        await w.owner.put(NewCredential(WS, "c9", provider, secret))
    assert w.store.rows == {}


async def test_keyed_by_workspace_and_connection() -> None:
    w = World()
    await w.owner.put(NewCredential(WS, "k1", "keyed", Secret("acme-key")))
    with pytest.raises(NotFoundError):
        await w.owner.access(OTHER_WS, "k1")
    assert await w.owner.health(OTHER_WS) == []
    with pytest.raises(NotFoundError):
        await w.owner.delete(OTHER_WS, "k1")
    await w.owner.delete(WS, "k1")
    with pytest.raises(NotFoundError):
        await w.owner.access(WS, "k1")
    with pytest.raises(NotFoundError):
        await w.owner.rotate(WS, "k1", Secret("x"))


def test_a_secret_does_not_show_in_its_repr() -> None:
    assert "k-123" not in repr(Secret("k-123"))
    assert "k-123" not in repr(NewCredential(WS, "k1", "keyed", Secret("k-123")))


async def test_a_refused_key_needs_reauthorisation_until_rotated() -> None:
    w = World()
    await w.owner.put(NewCredential(WS, "k1", "keyed", Secret("revoked-key")))
    status = await w.owner.refused(WS, "k1", "keyed answered 401: invalid API key")
    assert (status.state, status.last_error) == (
        "needs_reauthorisation",
        "keyed answered 401: invalid API key",
    )
    with pytest.raises(ConflictError, match="invalid API key"):
        await w.owner.access(WS, "k1")
    await w.owner.rotate(WS, "k1", Secret("new-key"))
    assert (await w.owner.access(WS, "k1")).credential == "new-key"
    with pytest.raises(NotFoundError):
        await w.owner.refused(OTHER_WS, "k1", "401")


async def test_a_refused_access_token_is_refreshed_on_the_next_access() -> None:
    w = World()
    first = await w.connect_oauth(expires_in_s=3600)
    status = await w.owner.refused(WS, "c1", "rotating answered 401")
    assert status.state == "ok"
    granted = await w.owner.access(WS, "c1")
    assert w.endpoint.refreshed_with == [first.refresh_token]
    assert granted.credential != first.access_token


async def test_a_moved_credential_is_handed_out_under_its_new_id_only() -> None:
    w = World()
    tokens = await w.connect_oauth("pending")
    await w.owner.put(NewCredential(WS, "old", "keyed", Secret("stale-key")))
    moved = await w.owner.move(WS, "pending", "old")
    assert (moved.connection_id, moved.kind) == ("old", "oauth2")
    granted = await w.owner.access(WS, "old")
    assert (granted.credential, dict(granted.extra)) == (tokens.access_token, {"tenant": "t-9"})
    with pytest.raises(NotFoundError):
        await w.owner.access(WS, "pending")
    again = await w.owner.move(WS, "pending", "old")  # a retried move
    assert again.connection_id == "old"
    with pytest.raises(NotFoundError):
        await w.owner.move(WS, "nothing", "anywhere")
