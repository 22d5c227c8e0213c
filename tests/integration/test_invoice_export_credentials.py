"""invoice-export with its credential owner: the credentials service keeps the accounting tools'
OAuth tokens; an outage of the owner is retried, a grant the tool revoked needs the admin.

(The rotation of a token during an export's sync, and that invoice-export's database holds no
token, are part of test_invoice_export's article.)
"""

import datetime as dt
from collections.abc import Awaitable, Callable
from importlib import resources

import asyncpg
import httpx

from timebridge_common.outbound.oauth import Tokens

from .accounting_platform import (
    Platform,
    connect,
    get,
    platform_fixture,  # noqa: F401 - the module-scoped `platform` of these tests
    stored_tokens,
    workspace,
)
from .credential_owner import OWNER_URL, SERVICE_TOKEN

MIGRATIONS = "timebridge_invoice_export.adapters.migrations"


async def test_the_credential_owner_unavailable_is_retried_not_a_reauthorisation(
    platform: Platform,
) -> None:
    ws = await workspace(platform)
    tool = platform.tools["quickbooks"]
    globex = tool.customer("Globex Corporation")
    connection_id = (await connect(platform, ws, "quickbooks"))["connection_id"]
    path = f"/v1/workspaces/{ws.id}/accounting/connections/{connection_id}"
    platform.owner.source.forget(ws.id, connection_id)  # no cached access token to fall back on
    platform.owner.plug.down = True
    try:
        await platform.invoice_export.poller.poll(connection_id)
    finally:
        platform.owner.plug.down = False
    async with platform.http("invoice-export", ws.admin) as api:
        failed = await get(api, path)
        assert failed["status"] == "connected", "a passing outage asks no admin to reconnect"
        assert "credentials service answered 503" in failed["last_error"]
        assert await get(api, f"/v1/workspaces/{ws.id}/clients") == []
        await platform.invoice_export.poller.poll(connection_id)  # the owner is back
        recovered = await get(api, path)
        assert (recovered["status"], recovered["last_error"]) == ("connected", None)
        clients = await get(api, f"/v1/workspaces/{ws.id}/clients")
        # the sandbox company is the module's: customers other tests added are mirrored too
        assert globex in [c["external_id"] for c in clients]


async def test_a_grant_revoked_in_the_tool_needs_reauthorisation_until_connected_again(
    platform: Platform,
) -> None:
    ws = await workspace(platform)
    tool = platform.tools["quickbooks"]
    connection_id = (await connect(platform, ws, "quickbooks"))["connection_id"]
    path = f"/v1/workspaces/{ws.id}/accounting/connections/{connection_id}"
    kept = await stored_tokens(platform, ws.id, connection_id)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    expired = Tokens(kept.access_token, kept.refresh_token, past)
    await platform.owner.source.put_tokens(ws.id, connection_id, "quickbooks", expired)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(tool.app)) as intuit:
        revoked = await intuit.post(
            "http://quickbooks.sandbox/v2/oauth2/tokens/revoke",
            json={"token": kept.refresh_token},
            auth=("quickbooks-client", "quickbooks-secret"),
        )
    assert revoked.status_code == 200, revoked.text
    await platform.invoice_export.poller.poll(connection_id)  # the owner's refresh is refused
    owner = httpx.AsyncClient(
        transport=httpx.ASGITransport(platform.owner.service.app),
        base_url=OWNER_URL,
        headers={"authorization": f"Bearer {SERVICE_TOKEN}"},
    )
    async with owner, platform.http("invoice-export", ws.admin) as api:
        marked = await get(api, path)
        assert marked["status"] == "needs_reauthorization", marked
        assert "no longer accepts" in marked["last_error"]
        # The owner also holds the workspace's Core token (ingest handed it over): ok.
        health = await get(owner, f"/v1/workspaces/{ws.id}/connections/health")
        assert sorted((h["connection_id"], h["state"]) for h in health) == sorted(
            [(connection_id, "needs_reauthorisation"), (f"core_{ws.id}", "ok")]
        )
        again = await connect(platform, ws, "quickbooks")  # the admin connects again
        assert again["connection_id"] == connection_id
        health = await get(owner, f"/v1/workspaces/{ws.id}/connections/health")
        assert [h["state"] for h in health] == ["ok", "ok"]
        await platform.invoice_export.poller.poll(connection_id)
        assert (await get(api, path))["last_error"] is None


async def test_migration_0004_drops_the_tokens_and_asks_to_reconnect_who_held_some(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    """Tokens kept here before cannot reach the owner (another service's database): their
    connections ask the admin to connect again; the others are left as they were."""
    pool = await make_pool(await create_database("invoice-export-0004"))
    files = sorted(
        (f for f in resources.files(MIGRATIONS).iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    for file in files:
        if file.name < "0004":
            await pool.execute(file.read_text())
    await pool.execute(
        "INSERT INTO accounting_connections (connection_id, workspace_id, provider, status,"
        " tenant_id, tokens_encrypted) VALUES"
        " ('acc_held', 'ws', 'quickbooks', 'connected', 'realm-1', 'v1:sealed'),"
        " ('acc_gone', 'ws', 'quickbooks', 'disconnected', 'realm-2', NULL),"
        " ('acc_refused', 'ws', 'xero', 'needs_reauthorization', 't-1', 'v1:sealed')"
    )
    [migration] = [f for f in files if f.name.startswith("0004")]
    await pool.execute(migration.read_text())
    rows = await pool.fetch(
        "SELECT connection_id, status, last_error FROM accounting_connections"
        " ORDER BY connection_id"
    )
    assert [(r["connection_id"], r["status"]) for r in rows] == [
        ("acc_gone", "disconnected"),
        ("acc_held", "needs_reauthorization"),
        ("acc_refused", "needs_reauthorization"),
    ]
    assert "connect this tool again" in rows[1]["last_error"]
    columns = await pool.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = 'accounting_connections' AND column_name LIKE 'tokens%'"
    )
    assert columns == []
