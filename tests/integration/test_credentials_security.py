"""The credential owner keeps secrets in: API keys and refresh tokens appear in no log line and
no error body and are stored sealed; a workspace's admin reads only its own workspace's health,
never a credential; a sealed value copied into another tenant's row does not decrypt. And the
kit's HTTP adapter (``HttpCredentialSource``) against the served service."""

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
import structlog
from pydantic import SecretStr
from timebridge_providers.kit.credentials import (
    HttpCredentialSource,
    NeedsReauthorisationError,
    UnknownCredentialError,
)

from timebridge_common.errors import TransientError

from .credentials_platform import SERVICE_TOKEN, platform

KEY = "KEY-" + "do-not-leak-7f3a9c"
ROTATED = "KEY-" + "rotated-also-secret-11be"


async def test_api_keys_and_refresh_tokens_never_in_logs_or_error_bodies(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    async with platform(create_database, make_pool) as p:
        workspace = p.add_workspace()
        service = await p.instance()
        base = f"/v1/workspaces/{workspace}/connections"
        key_body = {"provider": "keyed", "credential": {"kind": "api_key", "secret": KEY}}
        with structlog.testing.capture_logs() as logs:
            stored = await service.call("PUT", f"{base}/k1", json=key_body)
            assert stored.status_code == 200, stored.text
            granted = await service.access(workspace, "k1")
            assert granted.json()["credential"] == KEY  # to a service, by design
            rotated = await service.call(
                "POST", f"{base}/k1/rotate",
                json={"credential": {"kind": "api_key", "secret": ROTATED}},
            )  # fmt: skip
            assert rotated.status_code == 200, rotated.text
            refusals = [
                # a key the provider does not take, an unknown field, a key with bad bytes
                await service.call("PUT", f"{base}/k2", json=key_body | {"provider": "rotating"}),
                await service.call("PUT", f"{base}/k2", json=key_body | {"oops": KEY}),
                await service.call(
                    "PUT",
                    f"{base}/k2",
                    json={
                        "provider": "keyed",
                        "credential": {"kind": "api_key", "secret": KEY + " \n"},
                    },
                ),
                await service.call("PUT", f"{base}/k2", json={"credential": {"secret": KEY}}),
                # the key as a bearer token, and an access refused
                await service.access(workspace, "k1", token=KEY),
                await service.call("GET", f"{base}/health", token=ROTATED),
                # bad bytes in the body: 400, nothing stored
                await service.call(
                    "PUT",
                    f"{base}/k3",
                    content=b'{"provider": "keyed\\u0000", "credential": 1}',
                    headers={"content-type": "application/json"},
                ),
            ]
            first = p.tokens.issue()
            await service.put_oauth(workspace, "o1", first, expires_in=0)
            p.tokens.valid.clear()
            refusals.append(await service.access(workspace, "o1"))
            health = await service.call("GET", f"{base}/health")
        assert [r.status_code for r in refusals] == [422, 422, 422, 422, 401, 401, 400, 409]
        assert any(e.get("event") == "credential stored" for e in logs)  # logs were captured
        secrets = (KEY, ROTATED, first["refresh_token"])
        bodies = [r.text for r in refusals] + [health.text, stored.text, rotated.text]
        logged = [repr(logs), caplog.text, *capsys.readouterr()]
        for secret in secrets:
            assert not [b for b in bodies if secret in b], secret
            assert not [line for line in logged if secret in line], secret
        row = await p.raw_row(workspace, "k1")
        assert row is not None
        assert ROTATED not in str(dict(row))
        assert row["secret_sealed"].startswith("v1:")


async def test_a_tenant_cannot_read_anothers_credentials(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    async with platform(create_database, make_pool) as p:
        acme, globex = p.add_workspace(), p.add_workspace()
        service = await p.instance()
        key_body = {"provider": "keyed", "credential": {"kind": "api_key", "secret": KEY}}
        put = await service.call("PUT", f"/v1/workspaces/{acme}/connections/k1", json=key_body)
        assert put.status_code == 200, put.text
        acme_admin = p.admins[acme]
        # an admin never reads a credential, not even their own workspace's
        assert (await service.access(acme, "k1", token=acme_admin)).status_code == 401
        # another workspace's admin sees nothing of acme's and cannot delete there
        health = f"/v1/workspaces/{acme}/connections/health"
        assert (await service.call("GET", health, token=p.admins[globex])).status_code == 403
        delete = f"/v1/workspaces/{acme}/connections/k1"
        assert (await service.call("DELETE", delete, token=p.admins[globex])).status_code == 403
        own = f"/v1/workspaces/{globex}/connections/health"
        assert (await service.call("GET", own, token=p.admins[globex])).json() == []
        # a service asking under the wrong workspace gets nothing
        assert (await service.access(globex, "k1")).status_code == 404
        # acme's sealed key copied into a globex row does not decrypt there
        conn = await asyncpg.connect(p.dsn)
        try:
            await conn.execute(
                "INSERT INTO credentials (workspace_id, connection_id, provider, kind,"
                " secret_sealed, updated_at) SELECT $1, connection_id, provider, kind,"
                " secret_sealed, updated_at FROM credentials WHERE workspace_id = $2",
                globex,
                acme,
            )
        finally:
            await conn.close()
        copied = await service.access(globex, "k1")
        assert copied.status_code == 409
        assert "does not decrypt" in copied.json()["detail"]
        assert KEY not in copied.text
        assert (await service.access(acme, "k1")).json()["credential"] == KEY
        # no token, a wrong token: 401
        assert (
            await service.http.post(f"/v1/workspaces/{acme}/connections/k1/access")
        ).status_code == 401
        assert (await service.access(acme, "k1", token="svc-wrong")).status_code == 401
        # acme's admin deletes acme's connection
        assert (await service.call("DELETE", delete, token=acme_admin)).status_code == 204
        assert (await service.access(acme, "k1")).status_code == 404


async def test_http_credential_source_against_the_service(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    async with platform(create_database, make_pool) as p:
        workspace = p.add_workspace()
        service = await p.instance()
        key_body = {
            "provider": "keyed", "base_url": "https://api.keyed.test", "extra": {"account": "9"},
            "credential": {"kind": "api_key", "secret": KEY},
        }  # fmt: skip
        await service.call("PUT", f"/v1/workspaces/{workspace}/connections/k1", json=key_body)
        await service.put_oauth(workspace, "o1", p.tokens.issue(), expires_in=3600)
        asked: list[str] = []

        async def count(request: httpx.Request) -> None:
            asked.append(request.url.path)

        http = httpx.AsyncClient(event_hooks={"request": [count]})
        source = HttpCredentialSource(service.url, SecretStr(SERVICE_TOKEN), http=http)
        try:
            access = await source.access(workspace, "k1")
            assert (access.base_url, access.credential, dict(access.extra)) == (
                "https://api.keyed.test", KEY, {"account": "9"}
            )  # fmt: skip
            oauth = await source.access(workspace, "o1")
            assert oauth.credential.startswith("at-")
            assert dict(oauth.extra) == {"tenant_id": "tenant-42"}
            await source.access(workspace, "k1")
            await source.access(workspace, "o1")
            assert len(asked) == 2  # both cached
            source.forget(workspace, "o1")
            await source.access(workspace, "o1")
            assert len(asked) == 3
            # the provider refused the key: reported, shown in health, no longer handed out
            await source.refused(workspace, "k1", "keyed answered 401 (invalid API key)")
            with pytest.raises(NeedsReauthorisationError, match="invalid API key"):
                await source.access(workspace, "k1")
            health = await service.call("GET", f"/v1/workspaces/{workspace}/connections/health")
            states = {s["connection_id"]: s["state"] for s in health.json()}
            assert states == {"k1": "needs_reauthorisation", "o1": "ok"}
            # a refused access token: the next access refreshes it
            refreshes = len(p.tokens.refreshes)
            await source.refused(workspace, "o1", "rotating answered 401")
            renewed = await source.access(workspace, "o1")
            assert renewed.credential != oauth.credential
            assert len(p.tokens.refreshes) == refreshes + 1
            with pytest.raises(UnknownCredentialError):
                await source.refused(workspace, "nope", "401")
            asked.clear()
            with pytest.raises(UnknownCredentialError):
                await source.access(workspace, "nope")
            await service.put_oauth(workspace, "o2", p.tokens.issue(), expires_in=0)
            p.tokens.valid.clear()
            with pytest.raises(NeedsReauthorisationError, match="needs re-authorisation"):
                await source.access(workspace, "o2")
            p.tokens.unavailable = 1
            await service.put_oauth(workspace, "o3", p.tokens.issue(), expires_in=0)
            with pytest.raises(TransientError) as down:
                await source.access(workspace, "o3")
            assert down.value.retry_after == pytest.approx(9, abs=1)
            # an access token is cached only until shortly before it expires
            later = HttpCredentialSource(
                service.url, SecretStr(SERVICE_TOKEN), http=http,
                clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=59, seconds=30),
            )  # fmt: skip
            await later.access(workspace, "o1")
            await later.access(workspace, "o1")
            assert asked[-2:] == [f"/v1/workspaces/{workspace}/connections/o1/access"] * 2
        finally:
            await http.aclose()
        unreachable = HttpCredentialSource("http://127.0.0.1:9", SecretStr(SERVICE_TOKEN))
        with pytest.raises(TransientError, match="unreachable"):
            await unreachable.access(workspace, "k1")
