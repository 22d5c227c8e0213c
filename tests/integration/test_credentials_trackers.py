"""Tracker credentials through their one owner: ingest hands every key it is given to the real
credentials service (and the ones it saved before the owner held them, at start-up); a reader
takes its access from the owner (``ConnectionAccess``), never from the event.

Real Postgres, Kafka and HTTP (ASGI) for ingest and the credentials service; the Core and
Everhour sandboxes answer the connection checks. About 10 s.
"""

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from timebridge_providers.installed import registry
from timebridge_providers.kit.connection_access import ConnectionAccess
from timebridge_providers.kit.credentials import NeedsReauthorisationError, UnknownCredentialError
from timebridge_providers.kit.session import Access, Session

from timebridge_common.crypto import SecretBox
from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import ConnectionChanged, IntegrationSettings
from timebridge_common.outbound.http import AuthenticationError, RequestBudget
from timebridge_common.testing import in_memory_tracing, wait_for
from timebridge_ingest.adapters.postgres import PostgresConnections
from timebridge_ingest.bootstrap import Ingest, bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Integration, Workspace
from timebridge_ingest.handlers.connections import Connections
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit

from .conftest import kafka_config, unique
from .credential_owner import OWNER_SETTINGS, Owner, rows_holding, start_owner

EVERHOUR_URL, CORE_URL = "http://everhour.sandbox", "http://core.sandbox"
HOURLY = IntegrationSettings(frequency="hourly")
ADMIN_TOKEN = "core-admin-ann"  # polled: no webhook to register


class Sessions:
    def __init__(self, apps: dict[str, object]) -> None:
        self._apps = apps

    def session(self, provider: str, access: Access) -> Session:
        transport = httpx.ASGITransport(app=self._apps[provider])  # type: ignore[arg-type]
        return Session(
            provider, access, httpx.AsyncClient(transport=transport), RequestBudget(10**6, 1)
        )


def _settings(key: str) -> Settings:
    return Settings(
        kafka=kafka_config(), encryption_key=SecretStr(key), admin_token=SecretStr("admin"),
        everhour_api_url=EVERHOUR_URL, poll_tick_s=3600, **OWNER_SETTINGS,
    )  # fmt: skip


async def _ingest(
    stack: contextlib.AsyncExitStack, pool: asyncpg.Pool, key: str, sessions: Sessions,
    owner: Owner,
) -> Ingest:  # fmt: skip
    ingest: Ingest = bootstrap(
        _settings(key),
        pool=pool,
        tracer_provider=in_memory_tracing("ingest")[0],
        clients=sessions,
        credentials=owner.source,
    )
    await ingest.runtime.start()
    stack.push_async_callback(ingest.runtime.stop)
    assert ingest.connections is not None
    return ingest


def _connections(ingest: Ingest) -> Connections:
    assert ingest.connections is not None
    return ingest.connections


async def _replaces_the_key(
    ingest: Ingest, owner: Owner, pool: asyncpg.Pool, *, workspace: str, integration: str,
    keys: list[str],
) -> None:  # fmt: skip
    """``PUT .../integrations/{id}/credentials``, as the console's Re-connect calls it."""
    url = f"http://ingest/v1/workspaces/{workspace}/integrations/{integration}/credentials"
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    before = await owner.source.access(workspace, integration)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ingest.app)) as http:
        assert (await http.put(url, json={"api_key": keys[1]})).status_code == 401
        wrong = await http.put(url, json={"api_key": "ek-not-a-key"}, headers=admin)
        assert wrong.status_code == 422, wrong.text
        assert "connection test failed" in wrong.json()["detail"]
        owner.plug.down = True
        down = await http.put(url, json={"api_key": keys[1]}, headers=admin)
        owner.plug.down = False
        assert down.status_code == 503, down.text
        owner.source.forget(workspace, integration)
        assert await owner.source.access(workspace, integration) == before, "nothing changed"
        replaced = await http.put(url, json={"api_key": keys[1]}, headers=admin)
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["integration_id"], replaced.json()["status"]) == (
        integration, "connected",
    )  # fmt: skip
    assert (await owner.source.access(workspace, integration)).credential == keys[1]
    sealed = await pool.fetchval(
        "SELECT api_key_enc FROM integrations WHERE integration_id = $1", integration
    )
    assert sealed is None, "the owner holds the key; ingest keeps no copy"


async def _held(owner: Owner, workspace: str, connection: str) -> Access:
    for _ in range(100):
        with contextlib.suppress(UnknownCredentialError):
            return await owner.source.access(workspace, connection)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the owner never got {connection}")


@pytest.mark.usefixtures("topics")
async def test_ingest_hands_tracker_keys_to_the_owner_and_readers_take_them_from_it(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    everhour, core = EverhourState(), CoreState()
    keys = [f"ek-{unique('k')}" for _ in range(2)]
    for n, key in enumerate(keys):
        everhour.add_user(f"Admin {n}", api_key=key, email=f"a{n}@acme.test")
    workspace = unique("ws")
    core.add_service_token(workspace, "core-service-token")
    core.add_user(workspace, "Ann", email="ann@acme.test", role="admin", token=ADMIN_TOKEN)
    sessions = Sessions({
        "everhour": create_everhour_sandbox(everhour, rate_limit=RateLimit(10_000, 10)),
        "core": create_core_sandbox(core, rate_limit=RateLimit(10_000, 1)),
    })  # fmt: skip
    platform_key = SecretBox.generate_key()
    dsn = await create_database(unique("ingest-owner"))
    pool = await make_pool(dsn)
    # Before the owner: the Core token and a tracker key saved (sealed) by ingest only, as an
    # ingest of the previous release left them.
    before = bootstrap(_settings(platform_key), pool=pool, clients=sessions)
    await apply_migrations(pool, *before.runtime.migrations)
    old = Integration(
        integration_id="int_saved_before", workspace_id=workspace, provider="everhour",
        base_url=EVERHOUR_URL, api_key=keys[0], status="connected", settings=HOURLY,
    )  # fmt: skip
    async with PostgresConnections(pool, SecretBox(platform_key)).transaction() as tx:
        await tx.put_workspace(Workspace(workspace, CORE_URL, "core-service-token"))
        await tx.put_integration(old)
    async with contextlib.AsyncExitStack() as stack:
        owner = await start_owner(
            stack, kafka=kafka_config(), apps={}, token_transport=None, core=None,
            create_database=create_database, make_pool=make_pool, name=unique("owner"),
        )  # fmt: skip
        pool = await make_pool(dsn)  # the same database, after a restart
        ingest = await _ingest(stack, pool, platform_key, sessions, owner)
        connections = _connections(ingest)
        # The upgrade: what was saved before is handed over at start-up, nobody reconnects.
        assert await _held(owner, workspace, old.integration_id) == Access(
            EVERHOUR_URL, keys[0], {}
        )
        assert (await _held(owner, workspace, f"core_{workspace}")).credential == (
            "core-service-token"
        )

        async def wiped() -> bool:  # once handed over, ingest keeps no copy of either
            copies = await pool.fetchval(
                "SELECT (SELECT count(*) FROM integrations WHERE integration_id = $1"
                " AND api_key_enc IS NOT NULL) + (SELECT count(*) FROM workspaces"
                " WHERE workspace_id = $2 AND core_token_enc IS NOT NULL)",
                old.integration_id,
                workspace,
            )
            return bool(copies == 0)

        await wait_for(wiped)
        # A new connection: the owner holds the key before ingest saves anything.
        new = await connections.connect(workspace, "everhour", keys[1], HOURLY)
        assert new.at_owner
        copy = ConnectionChanged(
            workspace_id=workspace, connection_id=new.integration_id, provider="everhour",
            status="connected", base_url=new.base_url, revision=1,
            changed_at=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        access = await ConnectionAccess(owner.source)(copy)  # how mapping and the resolver read
        assert access == Access(EVERHOUR_URL, keys[1], {})
        assert await rows_holding(owner.dsn, keys[1]) == [], "sealed at the owner"
        # Re-testing a saved connection uses the key the owner holds, not a copy of its own.
        assert (await connections.retest(workspace, new.integration_id)).ok
        await owner.source.put_key(
            workspace, new.integration_id, "everhour", "ek-revoked", base_url=EVERHOUR_URL
        )
        retested = await connections.retest(workspace, new.integration_id)
        assert (retested.ok, retested.error_kind) == (False, "bad_key")
        # Polls read with what the owner hands out (an OAuth tracker's refreshed token), not
        # with the key ingest was given: the revoked one is refused, the next one is used.
        assert ingest.poller is not None
        polled = await connections.get(workspace, new.integration_id)
        with pytest.raises(AuthenticationError):
            await ingest.poller.poll_tracker(polled, dt.datetime.now(dt.UTC))
        await owner.source.put_key(
            workspace, new.integration_id, "everhour", keys[0], base_url=EVERHOUR_URL
        )
        assert await ingest.poller.poll_tracker(polled, dt.datetime.now(dt.UTC)) == 0
        # Re-connecting keeps the integration: the new key is tested, handed to the owner, and
        # the integration saved again with no copy of the key here.
        await _replaces_the_key(
            ingest, owner, pool, workspace=workspace, integration=new.integration_id, keys=keys
        )
        # Disconnecting has the owner forget the key.
        await connections.disconnect(workspace, new.integration_id)
        owner.source.forget(workspace, new.integration_id)
        with pytest.raises(UnknownCredentialError):
            await owner.source.access(workspace, new.integration_id)


@pytest.mark.usefixtures("topics")
async def test_a_key_the_tracker_refuses_is_reported_and_then_needs_re_authorisation(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    """What mapping and the resolver do with a 401 (``ConnectionAccess.reporting``): the real
    owner marks the key refused, answers 409 from then on, so nobody retries it as transient."""
    everhour = EverhourState()
    sessions = Sessions(
        {"everhour": create_everhour_sandbox(everhour, rate_limit=RateLimit(10_000, 10))}
    )
    workspace, connection = unique("ws"), unique("int")
    copy = ConnectionChanged(
        workspace_id=workspace, connection_id=connection, provider="everhour",
        status="connected", base_url=EVERHOUR_URL, revision=1, changed_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        owner = await start_owner(
            stack, kafka=kafka_config(), apps={}, token_transport=None, core=None,
            create_database=create_database, make_pool=make_pool, name=unique("owner"),
        )  # fmt: skip
        await owner.source.put_key(
            workspace, connection, "everhour", "ek-revoked", base_url=EVERHOUR_URL
        )
        access = ConnectionAccess(owner.source)
        directory = registry().get("everhour").directory
        assert directory is not None
        opened = directory(sessions.session("everhour", await access(copy)))
        with pytest.raises(AuthenticationError):
            await access.reporting(copy, opened).users()
        with pytest.raises(NeedsReauthorisationError):
            await owner.source.access(workspace, connection)
