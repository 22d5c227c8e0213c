"""The credential owner on real PostgreSQL with a real OAuth token endpoint over HTTP.

Two service instances (own pools, as two processes) asked at once refresh once (the row lock);
the rotated refresh token is saved before the access token leaves, so an instance that dies right
after saving loses nothing; a refused refresh (``invalid_grant``) marks the connection as needing
re-authorisation in health and answers 409 without asking the provider again; a token endpoint
that is down answers 503 with its Retry-After and the next call succeeds.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

from timebridge_credentials.adapters.postgres import PostgresCredentialStore
from timebridge_credentials.domain.credentials import seal_context

from .credentials_platform import platform


class DiesAfterCommit:
    """The Postgres store of an instance that is killed right after its refresh committed: the
    locked context commits, then the process is gone before it answers."""

    def __init__(self, store: PostgresCredentialStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextlib.asynccontextmanager
    async def locked(self, workspace_id: str, connection_id: str) -> AsyncIterator[Any]:
        async with self._store.locked(workspace_id, connection_id) as slot:
            yield slot
        raise SystemExit("killed between the save and the answer")


async def test_two_instances_asked_at_once_refresh_once(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    async with platform(create_database, make_pool) as p:
        workspace = p.add_workspace()
        one, two = await p.instance(), await p.instance()
        assert (await one.http.get("/healthz")).json()["service"] == "credentials"
        ready = await one.http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["postgres"] == "ok"
        first = p.tokens.issue()
        put = await one.put_oauth(workspace, "c1", first, expires_in=60)  # inside the margin
        assert put.status_code == 200, put.text
        p.tokens.delay_s = 0.3  # both callers are waiting while the refresh is under way
        answers = await asyncio.gather(
            one.access(workspace, "c1"), two.access(workspace, "c1"), one.access(workspace, "c1")
        )
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        assert p.tokens.refreshes == [first["refresh_token"]]
        [granted] = {a.json()["credential"] for a in answers}
        assert granted != first["access_token"]
        body = answers[0].json()
        assert body["extra"] == {"tenant_id": "tenant-42"}
        assert body["base_url"] == "https://api.rotating.test"
        assert "refresh" not in answers[0].text  # the refresh token never leaves
        assert answers[0].headers["cache-control"] == "no-store"
        # what is stored is what the provider now honours
        row = await p.raw_row(workspace, "c1")
        assert row is not None
        saved = p.box().decrypt(
            row["refresh_sealed"], context=seal_context(workspace, "c1", "refresh")
        )
        assert p.tokens.valid == {saved}
        health = await one.call(
            "GET", f"/v1/workspaces/{workspace}/connections/health", token=p.admins[workspace]
        )
        assert health.status_code == 200, health.text
        [state] = health.json()
        assert (state["state"], state["last_error"]) == ("ok", None)
        assert state["last_refreshed_at"] is not None


async def test_killed_after_the_save_loses_nothing(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    async with platform(create_database, make_pool) as p:
        workspace = p.add_workspace()
        doomed = await p.instance(store_wrapper=DiesAfterCommit)
        first = p.tokens.issue()
        assert (await doomed.put_oauth(workspace, "c1", first, expires_in=0)).status_code == 200
        lost = await doomed.access(workspace, "c1")
        assert lost.status_code == 500  # no answer reached the caller
        assert p.tokens.refreshes == [first["refresh_token"]]  # but the provider rotated
        restarted = await p.instance()
        again = await restarted.access(workspace, "c1")
        assert again.status_code == 200, again.text
        assert p.tokens.refreshes == [first["refresh_token"]]  # the saved token, no new refresh
        row = await p.raw_row(workspace, "c1")
        assert row is not None
        saved = p.box().decrypt(
            row["access_sealed"], context=seal_context(workspace, "c1", "access")
        )
        assert again.json()["credential"] == saved


async def test_invalid_grant_needs_reauthorisation_and_is_not_retried(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    async with platform(create_database, make_pool) as p:
        workspace = p.add_workspace()
        service = await p.instance()
        first = p.tokens.issue()
        await service.put_oauth(workspace, "c1", first, expires_in=0)
        p.tokens.valid.clear()  # the user revoked Timebridge at the provider
        refused = await service.access(workspace, "c1")
        assert refused.status_code == 409, refused.text
        assert "needs re-authorisation" in refused.json()["detail"]
        again = await service.access(workspace, "c1")
        assert again.status_code == 409
        assert "invalid_grant" in again.json()["detail"]
        assert p.tokens.refreshes == [first["refresh_token"]]  # asked once, never again
        health = await service.call(
            "GET", f"/v1/workspaces/{workspace}/connections/health", token=p.admins[workspace]
        )
        [state] = health.json()
        assert state["state"] == "needs_reauthorisation"
        assert "invalid_grant" in state["last_error"]
        # an admin connects again: the registering service puts the new consent's tokens
        await service.put_oauth(workspace, "c1", p.tokens.issue(), expires_in=3600)
        assert (await service.access(workspace, "c1")).status_code == 200
        [state] = (
            await service.call("GET", f"/v1/workspaces/{workspace}/connections/health")
        ).json()
        assert (state["state"], state["last_error"], state["revision"]) == ("ok", None, 2)


async def test_token_endpoint_down_is_503_with_retry_after_then_recovers(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    async with platform(create_database, make_pool) as p:
        workspace = p.add_workspace()
        service = await p.instance()
        first = p.tokens.issue()
        await service.put_oauth(workspace, "c1", first, expires_in=0)
        p.tokens.unavailable = 1
        down = await service.access(workspace, "c1")
        assert down.status_code == 503, down.text
        assert down.headers["retry-after"] == "9"
        [state] = (
            await service.call("GET", f"/v1/workspaces/{workspace}/connections/health")
        ).json()
        assert state["state"] == "ok"
        assert "503" in state["last_error"]
        back = await service.access(workspace, "c1")
        assert back.status_code == 200, back.text
        assert p.tokens.refreshes == [first["refresh_token"]] * 2
        [state] = (
            await service.call("GET", f"/v1/workspaces/{workspace}/connections/health")
        ).json()
        assert state["last_error"] is None
