"""The accounting article end to end, for QuickBooks Online, Xero and FreshBooks.

Real Kafka and Postgres; ingest and invoice-export run in this process on their own databases
and consumer groups; Core and the three accounting tools are the sandboxes, reached (and posting
their webhooks) over httpx's ASGI transport. Per tool, an admin connects it through OAuth, the
clients are mirrored and follow renames and archiving in the tool, projects are assigned and
rates set, Core time becomes a draft invoice exported once (though Export is pressed twice and
an answer is lost), the entries are locked, the tool's status, number, date and amount changes
come back (with the amount warning), a rotated refresh token is saved, and an invoice deleted in
the tool, then in Timebridge, gives its entries back.
"""

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from timebridge_common.events import (
    InvoiceDeleted,
    InvoiceExported,
    InvoiceExportRequested,
    InvoiceStatusChanged,
)
from timebridge_common.outbound.oauth import ReauthorizationNeededError, Tokens
from timebridge_common.testing import (
    end_offsets,
    read_topic,
    wait_for,
)

from .accounting_platform import (
    Platform,
    connect,
    everything,
    get,
    log_time,
    platform_fixture,  # noqa: F401 - the module-scoped `platform` of these tests
    redeliver,
    stored_tokens,
    workspace,
)
from .accounting_sandboxes import ADDRESS, CORE_URL, Xero, _redirect
from .conftest import KAFKA
from .credential_owner import rows_holding


@pytest.mark.parametrize("provider", ["quickbooks", "xero", "freshbooks"])
async def test_the_accounting_article_end_to_end(platform: Platform, provider: str) -> None:
    tool = platform.tools[provider]
    ws = await workspace(platform)
    globex = tool.customer("Globex Corporation")
    initech = tool.customer("Initech")
    connection = await connect(platform, ws, provider)
    connection_id = connection["connection_id"]
    base = f"/v1/workspaces/{ws.id}"
    poller = platform.invoice_export.poller
    await poller.poll(connection_id)  # the first mirror (and FreshBooks' callbacks)

    async with platform.http("invoice-export", ws.admin) as api:
        if provider == "freshbooks":  # its callbacks are confirmed with the posted verifiers

            async def verified() -> bool:
                found = await get(api, f"{base}/accounting/connections/{connection_id}")
                return bool(found["verified_webhooks"] == 3)

            await wait_for(verified)
        # -- Sync clients: all active clients, marked with their tool -------------------------
        clients = {c["external_id"]: c for c in await get(api, f"{base}/clients")}
        assert set(clients) == {globex, initech}
        mirrored = clients[globex]
        assert (mirrored["name"], mirrored["source"], mirrored["email"]) == (
            "Globex Corporation",
            provider,
            "ap@globex.test",
        )
        assert {k: mirrored["address"][k] for k in ADDRESS} == ADDRESS
        assert mirrored["tax"]["tax_number"] == "12-3456789"
        assert mirrored["status"] == "active"
        client_id = mirrored["client_id"]

        # -- A rename in the tool comes back through its webhook ------------------------------
        await tool.rename(globex, "Globex Corp")

        async def renamed() -> bool:
            found = await get(api, f"{base}/clients/{client_id}")
            return bool(found["name"] == "Globex Corp")

        await wait_for(renamed)
        # -- archiving in the tool, picked up by the periodic poll ----------------------------
        await tool.archive(initech)
        await poller.poll(connection_id)
        initech_client = clients[initech]["client_id"]

        async def archived() -> bool:
            found = await get(api, f"{base}/clients/{initech_client}")
            return bool(found["status"] == "archived" and found["archived_by"] == "tool")

        await wait_for(archived)
        refused = await api.delete(f"{base}/clients/{client_id}")
        assert refused.status_code == 409
        assert "only archived" in refused.json()["detail"]

        # -- Projects assigned to the client, rates per project and per user -----------------
        assigned = await api.put(f"{base}/projects/{ws.website}", json={"client_id": client_id})
        assert assigned.status_code == 200, assigned.text
        rates = [
            {"project_id": ws.website, "hourly_rate": "120.00", "currency": "USD"},
            {"project_id": ws.website, "user_id": ws.max, "hourly_rate": "150", "currency": "USD"},
        ]
        for rate in rates:
            put = await api.put(f"{base}/rates", json=rate)
            assert put.status_code == 200, put.text
        expense = await api.post(
            f"{base}/expenses",
            json={
                "project_id": ws.website,
                "date": "2026-11-15",
                "description": "Train ticket",
                "amount": "42.50",
                "currency": "USD",
            },
        )
        assert expense.status_code == 201, expense.text

    # -- Core time: billable hours of the period, one outside, one not billable -------------
    web = {"project_id": ws.website, "billable": True}
    ann_1 = await log_time(
        platform, ws, user_id=ws.ann, date="2026-11-10", duration_seconds=5400, **web
    )
    await log_time(platform, ws, user_id=ws.ann, date="2026-11-12", duration_seconds=1800, **web)
    await log_time(platform, ws, user_id=ws.max, date="2026-11-11", duration_seconds=2700, **web)
    await log_time(
        platform, ws, user_id=ws.ann, date="2026-11-13", duration_seconds=3600,
        project_id=ws.website, billable=False,
    )  # fmt: skip
    december = await log_time(
        platform, ws, user_id=ws.ann, date="2026-12-02", duration_seconds=900, **web
    )

    async with platform.http("invoice-export", ws.admin) as api:

        async def ledger() -> list[Any] | None:
            entries = await get(api, f"{base}/billable-entries")
            return entries if len(entries) == 5 else None

        await wait_for(ledger)

        # -- Create, preview and export a draft ------------------------------------------------
        created = await api.post(
            f"{base}/invoices",
            json={"client_id": client_id, "period_start": "2026-11-01", "period_end": "2026-11-30"},
        )
        assert created.status_code == 201, created.text
        draft = created.json()
        invoice_id = draft["invoice_id"]
        assert (draft["status"], draft["editable"], draft["currency"]) == ("draft", True, "USD")
        assert [(line["description"], line["quantity"], line["unit_price"], line["amount"])
                for line in draft["lines"]] == [
            ("Website - Ann", "2.00", "120.0000", "240.00"),
            ("Website - Max", "0.75", "150.0000", "112.50"),
            ("Train ticket", "1", "42.50", "42.50"),
        ]  # fmt: skip
        assert (draft["total"], draft["problems"]) == ("395.00", [])
        empty = await api.post(
            f"{base}/invoices",
            json={"client_id": client_id, "period_start": "2026-11-01", "period_end": "2026-11-30"},
        )
        assert empty.status_code == 422, "the period's entries are on the first draft"

        offsets = {
            name: await end_offsets(KAFKA, topic)
            for name, topic in (
                ("exported", InvoiceExported.topic()),
                ("status", InvoiceStatusChanged.topic()),
                ("deleted", InvoiceDeleted.topic()),
                ("requested", InvoiceExportRequested.topic()),
            )
        }
        for _ in range(2):  # Export pressed twice
            export = await api.post(f"{base}/invoices/{invoice_id}/export")
            assert export.status_code == 202, export.text
            assert export.json()["status"] in ("exporting", "exported")

        async def exported() -> dict[str, Any] | None:
            found = await get(api, f"{base}/invoices/{invoice_id}")
            return found if found["status"] == "exported" else None

        invoice = await wait_for(exported)
        assert invoice["editable"] is False
        frozen = await api.post(f"{base}/invoices/{invoice_id}/refresh")
        assert frozen.status_code == 409, "an exported invoice cannot be edited in Timebridge"
        in_tool = tool.invoices()
        assert len(in_tool) == 1, in_tool
        tool_id, _, lines = in_tool[0]
        assert invoice["tool"]["provider_invoice_id"] == tool_id
        assert invoice["tool"]["status"] == "draft"
        assert invoice["tool"]["amount"] == "395.00"
        assert [(d, q.normalize(), p.normalize()) for d, q, p in lines] == [
            ("Website - Ann", Decimal(2), Decimal(120)),
            ("Website - Max", Decimal("0.75"), Decimal(150)),
            ("Train ticket", Decimal(1), Decimal("42.5")),
        ]
        records = await read_topic(
            KAFKA,
            offsets["exported"],
            until=lambda rs: any(json.loads(r.value)["invoice_id"] == invoice_id for r in rs),
        )
        published = [json.loads(r.value) for r in records]
        mine = [e for e in published if e["invoice_id"] == invoice_id]
        assert len(mine) == 1, "one InvoiceExported however often Export was pressed"
        assert mine[0]["total"] == "395.00"
        assert len(mine[0]["entry_ids"]) == 3
        assert ann_1 in mine[0]["entry_ids"]
        entries = await get(api, f"{base}/billable-entries")
        assert {e["entry_id"]: e["invoice_id"] for e in entries if e["invoice_id"]} == {
            e: invoice_id for e in mine[0]["entry_ids"]
        }

        # -- A redelivered export request (same record, same event id) changes nothing -------
        requests = await read_topic(
            KAFKA,
            offsets["requested"],
            until=lambda rs: any(json.loads(r.value)["invoice_id"] == invoice_id for r in rs),
        )
        await redeliver(
            [r for r in requests if json.loads(r.value)["invoice_id"] == invoice_id],
            group=f"{platform.invoice_export.settings.kafka.group_prefix}-invoice-export",
        )
        assert len(tool.invoices()) == 1
        exports = await everything(InvoiceExported.topic(), offsets["exported"])
        assert [json.loads(r.value)["invoice_id"] for r in exports].count(invoice_id) == 1

    # -- The entries are locked: a change in Core is a warning, not a new amount -------------
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.core_app), base_url=CORE_URL
    ) as core:
        edited = await core.patch(
            f"/_sandbox/time-entries/{ann_1}", json={"duration_seconds": 7200}
        )
        assert edited.status_code == 200, edited.text
    await platform.webhooks.drain()

    async with platform.http("invoice-export", ws.admin) as api:

        async def warned() -> dict[str, Any] | None:
            found = await get(api, f"{base}/invoices/{invoice_id}")
            changed = any(ann_1 in w and "after it was invoiced" in w for w in found["warnings"])
            return found if changed else None

        invoice = await wait_for(warned)
        assert invoice["total"] == "395.00"

        # -- Status, number, date and amount follow the tool; a changed amount warns --------
        new_amount = await tool.edit_amount(tool_id)

        async def amount_changed() -> dict[str, Any] | None:
            found = await get(api, f"{base}/invoices/{invoice_id}")
            return found if found["amount_changed"] else None

        invoice = await wait_for(amount_changed)
        assert Decimal(invoice["tool"]["amount"]) == new_amount
        assert invoice["tool"]["number"] == "TB-2026-11"
        assert invoice["tool"]["issue_date"] == "2026-12-01"
        assert any("500" in w and "395" in w for w in invoice["warnings"]), invoice["warnings"]
        await tool.send(tool_id)
        await tool.pay(tool_id)
        if provider == "freshbooks":
            # FreshBooks' notices carry no time: "invoice.update" of this invoice again within
            # a minute is indistinguishable from a replay, so it is not republished
            # (test_accounting_webhook_replay); the poll brings the change.
            await poller.poll(connection_id)

        async def paid() -> dict[str, Any] | None:
            found = await get(api, f"{base}/invoices/{invoice_id}")
            return found if found["tool"]["status"] == "paid" else None

        await wait_for(paid)
        refused = await api.delete(f"{base}/invoices/{invoice_id}")
        assert refused.status_code == 409, "an invoice the tool still has is deleted there first"
        changes = await read_topic(
            KAFKA,
            offsets["status"],
            until=lambda rs: any(json.loads(r.value)["status"] == "paid" for r in rs),
        )
        statuses = [json.loads(r.value) for r in changes]
        assert {s["status"] for s in statuses if s["invoice_id"] == invoice_id} >= {"paid"}

        # -- Token rotation during an export's sync: the credential owner refreshes at the
        # tool, saves the rotated refresh token, and invoice-export never holds one -----------
        before = await stored_tokens(platform, ws.id, connection_id)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        expired = Tokens(before.access_token, before.refresh_token, past)
        await platform.owner.source.put_tokens(ws.id, connection_id, provider, expired)
        synced = await api.post(f"{base}/invoices/{invoice_id}/sync")
        assert synced.status_code == 200, synced.text
        after = await stored_tokens(platform, ws.id, connection_id)
        assert after.refresh_token != before.refresh_token
        assert after.access_token != before.access_token
        assert after.expires_at > dt.datetime.now(dt.UTC)
        for secret in (before.refresh_token, after.refresh_token, after.access_token):
            assert await rows_holding(platform.invoice_dsn, secret) == []
        assert await rows_holding(platform.owner.dsn, after.refresh_token) == [], "sealed"
        assert not await token_columns(platform.invoice_dsn)
        flow = platform.accounting.oauth(provider, _redirect(provider))
        if provider != "xero":  # Xero accepts the previous refresh token for 30 minutes
            with pytest.raises(ReauthorizationNeededError):
                await flow.endpoint.refresh(before.refresh_token)

        # -- December: an export whose answer is lost is made once, then deleted in the tool --
        second = await api.post(
            f"{base}/invoices",
            json={"client_id": client_id, "period_start": "2026-12-01", "period_end": "2026-12-31"},
        )
        assert second.status_code == 201, second.text
        second_id = second.json()["invoice_id"]
        tool.faults.lose_next_responses(1, delay_s=6.0)
        export = await api.post(f"{base}/invoices/{second_id}/export")
        assert export.status_code == 202, export.text

        async def second_exported() -> dict[str, Any] | None:
            found = await get(api, f"{base}/invoices/{second_id}")
            return found if found["status"] == "exported" else None

        exported_second = await wait_for(second_exported, timeout_s=60)
        assert len(tool.invoices()) == 2, tool.invoices()
        second_tool_id = exported_second["tool"]["provider_invoice_id"]
        await tool.delete(second_tool_id)

        async def deleted_in_tool() -> dict[str, Any] | None:
            found = await get(api, f"{base}/invoices/{second_id}")
            return found if found["tool"]["status"] == "deleted" else None

        shown = await wait_for(deleted_in_tool)
        assert any("delete it here" in w for w in shown["warnings"])
        deleted = await api.delete(f"{base}/invoices/{second_id}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["status"] == "deleted"
        entries = {e["entry_id"]: e for e in await get(api, f"{base}/billable-entries")}
        assert entries[december]["invoice_id"] is None, "uninvoiced again"
        gone = await read_topic(
            KAFKA,
            offsets["deleted"],
            until=lambda rs: any(json.loads(r.value)["invoice_id"] == second_id for r in rs),
        )
        event = next(
            json.loads(r.value) for r in gone if json.loads(r.value)["invoice_id"] == second_id
        )
        assert (event["was_exported"], event["entry_ids"]) == (True, [december])

    # -- Reports show which entries are invoiced (and no longer, once the invoice is deleted) --
    async with platform.http("reporting", ws.admin) as reports:

        async def reported() -> bool:
            mine = await get(reports, f"{base}/entries/core/{ann_1}/invoice")
            gone = await get(reports, f"{base}/entries/core/{december}/invoice")
            return bool(mine and mine["invoice_id"] == invoice_id and gone is None)

        await wait_for(reported)
        listed = {i["invoice_id"]: i for i in await get(reports, f"{base}/invoices")}
        assert (listed[invoice_id]["tool_status"], listed[invoice_id]["entries"]) == ("paid", 3)
        assert listed[second_id]["deleted_at"] is not None


async def test_a_consent_for_several_companies_waits_for_the_admins_choice(
    platform: Platform,
) -> None:
    xero = platform.tools["xero"]
    assert isinstance(xero, Xero)
    other = xero.state.add_tenant("Globex Holdings")
    xero.state.consent = [xero.tenant, other]
    ws = await workspace(platform)
    base = f"/v1/workspaces/{ws.id}/accounting/connections"
    try:
        async with platform.http("invoice-export", ws.admin) as api:
            started = await api.post(f"/v1/workspaces/{ws.id}/accounting/xero/authorize")
            async with httpx.AsyncClient(transport=httpx.ASGITransport(xero.app)) as browser:
                consent = await browser.get(started.json()["authorize_url"])
            back = httpx.URL(consent.headers["location"])
            pending = (await api.get("/v1/oauth/xero/callback", params=dict(back.params))).json()
            assert pending["status"] == "choose_tenant"
            assert {t["name"] for t in pending["tenants"]} == {
                "Demo Company (US)",
                "Globex Holdings",
            }
            wrong = await api.post(
                f"{base}/{pending['connection_id']}/tenant", json={"tenant_id": "not-offered"}
            )
            assert wrong.status_code == 422
            chosen = await api.post(
                f"{base}/{pending['connection_id']}/tenant", json={"tenant_id": other}
            )
            assert chosen.status_code == 200, chosen.text
            assert (chosen.json()["status"], chosen.json()["tenant_name"]) == (
                "connected",
                "Globex Holdings",
            )
            connection_id = chosen.json()["connection_id"]

            # Disconnect wipes the tokens and stops syncing; connecting again revives it
            gone = await api.delete(f"{base}/{connection_id}")
            assert gone.json()["status"] == "disconnected"
            assert await platform.owner.tokens(ws.id, connection_id) is None
            started = await api.post(f"/v1/workspaces/{ws.id}/accounting/xero/authorize")
            async with httpx.AsyncClient(transport=httpx.ASGITransport(xero.app)) as browser:
                consent = await browser.get(started.json()["authorize_url"])
            back = httpx.URL(consent.headers["location"])
            again = (await api.get("/v1/oauth/xero/callback", params=dict(back.params))).json()
            assert again["status"] == "choose_tenant"  # Xero lists every organisation connected
            revived = await api.post(
                f"{base}/{again['connection_id']}/tenant", json={"tenant_id": other}
            )
            assert (revived.json()["connection_id"], revived.json()["status"]) == (
                connection_id,
                "connected",
            )
            assert await platform.owner.tokens(ws.id, connection_id) is not None
            assert await platform.owner.tokens(ws.id, again["connection_id"]) is None, "moved"
            assert [c["connection_id"] for c in (await api.get(base)).json()] == [connection_id]
            unauthorised = await api.post(
                f"/v1/workspaces/{ws.id}/accounting/xero/authorize",
                headers={"authorization": "Bearer not-a-core-token"},
            )
            assert unauthorised.status_code == 401
    finally:
        xero.state.consent = None


async def token_columns(dsn: str) -> list[str]:
    """Columns of invoice-export's tables whose name speaks of tokens."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT table_name || '.' || column_name AS c FROM information_schema.columns"
            " WHERE table_schema = 'public' AND column_name LIKE '%token%'"
        )
    finally:
        await conn.close()
    return [r["c"] for r in rows]


@pytest.mark.parametrize(
    ("path", "header", "body"),
    [
        ("/v1/webhooks/quickbooks", "intuit-signature", b'[{"id": "1"}]'),
        ("/v1/webhooks/xero", "x-xero-signature", b'{"events": []}'),
    ],
)
async def test_a_webhook_with_a_wrong_signature_is_refused_and_publishes_nothing(
    platform: Platform, path: str, header: str, body: bytes
) -> None:
    topic = "timebridge.accounting-change-notified.v1"
    before = await end_offsets(KAFKA, topic)
    async with platform.http("invoice-export") as hooks:
        answer = await hooks.post(path, content=body, headers={header: "d3Jvbmc="})
        missing = await hooks.post(path, content=body)
    assert (answer.status_code, missing.status_code) == (401, 401)
    assert await end_offsets(KAFKA, topic) == before


async def test_a_freshbooks_delivery_needs_its_callbacks_verifier(platform: Platform) -> None:
    ws = await workspace(platform)
    connection = await connect(platform, ws, "freshbooks")
    path = f"/v1/webhooks/freshbooks/{connection['connection_id']}"
    form = "name=invoice.update&object_id=7&account_id=x&business_id=1&identity_id=1&user_id=1"
    async with platform.http("invoice-export") as hooks:
        forged = await hooks.post(
            path,
            content=form,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "X-FreshBooks-Hmac-SHA256": "Zm9yZ2Vk",
            },
        )
        unknown = await hooks.post("/v1/webhooks/freshbooks/acc_nope", content=form)
    assert (forged.status_code, unknown.status_code) == (401, 404)
