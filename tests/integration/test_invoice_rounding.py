"""Rounding as a versioned policy, on the accounting article's leased platform (issue 10).

Real Kafka and Postgres, the tool's sandbox over ASGI: a client's 15-minute policy rounds each
entry of an invoice up (7 and 20 minutes bill 45), the line and ``InvoiceExported`` name the
policy version, and the tool holds the rounded quantity and its amount. Changing the policy
makes version 2, which the next invoice uses (per line: the same 27 minutes bill 30), while the
first invoice keeps version 1; the ledger's entries keep their exact durations throughout.
"""

import json
from typing import Any

import httpx
import pytest

from timebridge_common.events import InvoiceExported
from timebridge_common.testing import end_offsets, wait_for

from .accounting_platform import (
    Platform,
    Workspace,
    connect,
    everything,
    get,
    log_time,
    platform_fixture,  # noqa: F401 - the module-scoped `platform` of these tests
    workspace,
)
from .conftest import KAFKA


async def _billable_client(platform: Platform, ws: Workspace, provider: str) -> str:
    tool: Any = platform.tools[provider]
    customer = tool.customer("Rounding Ltd")
    connection_id = str((await connect(platform, ws, provider))["connection_id"])
    await platform.invoice_export.poller.poll(connection_id)  # the first mirror
    base = f"/v1/workspaces/{ws.id}"
    async with platform.http("invoice-export", ws.admin) as api:
        clients = {c["external_id"]: c for c in await get(api, f"{base}/clients")}
        client_id = str(clients[customer]["client_id"])
        assigned = await api.put(f"{base}/projects/{ws.website}", json={"client_id": client_id})
        assert assigned.status_code == 200, assigned.text
        rate = {"project_id": ws.website, "hourly_rate": "120.00", "currency": "USD"}
        assert (await api.put(f"{base}/rates", json=rate)).status_code == 200
    return client_id


async def _log_two(platform: Platform, ws: Workspace, date: str) -> list[str]:
    """Two calls of 7 and 20 minutes."""
    entry = {"user_id": ws.ann, "date": date, "project_id": ws.website, "billable": True}
    return [await log_time(platform, ws, duration_seconds=s, **entry) for s in (420, 1200)]


async def _invoice(api: httpx.AsyncClient, ws: Workspace, client_id: str, half: int) -> str:
    base = f"/v1/workspaces/{ws.id}"
    start, end = ("2026-11-01", "2026-11-15") if half == 1 else ("2026-11-16", "2026-11-30")
    period = {"client_id": client_id, "period_start": start, "period_end": end}
    created = await api.post(f"{base}/invoices", json=period)
    assert created.status_code == 201, created.text
    invoice_id = str(created.json()["invoice_id"])
    assert (await api.post(f"{base}/invoices/{invoice_id}/export")).status_code == 202

    async def exported() -> bool:
        found = await get(api, f"{base}/invoices/{invoice_id}")
        return bool(found["status"] == "exported")

    await wait_for(exported)
    return invoice_id


@pytest.mark.parametrize("provider", ["quickbooks"])
async def test_invoice_lines_keep_the_rounding_version_that_made_them(
    platform: Platform, provider: str
) -> None:
    ws = await workspace(platform)
    client_id = await _billable_client(platform, ws, provider)
    base = f"/v1/workspaces/{ws.id}"
    start = await end_offsets(KAFKA, InvoiceExported.topic())
    async with platform.http("invoice-export", ws.admin) as api:
        policy = {"increment_minutes": 15, "applies_to": "per_entry"}
        made = await api.put(f"{base}/clients/{client_id}/rounding", json=policy)
        assert made.status_code == 200, made.text
        assert (made.json()["version"], made.json()["policy_id"]) == (1, f"client:{client_id}")
        too_long = await api.put(f"{base}/rounding", json={"increment_minutes": 61})
        assert too_long.status_code == 422, too_long.text

        first_entries = await _log_two(platform, ws, "2026-11-10")

        async def ledger(count: int) -> bool:
            return len(await get(api, f"{base}/billable-entries")) == count

        await wait_for(lambda: ledger(2))
        first = await _invoice(api, ws, client_id, 1)
        shown = await get(api, f"{base}/invoices/{first}")
        (line,) = shown["lines"]
        assert (line["quantity"], line["amount"], shown["total"]) == ("0.75", "90.00", "90.00")
        assert (line["rounding"]["version"], line["rounding"]["applies_to"]) == (1, "per_entry")
        assert shown["tool"]["amount"] == "90.00"  # the tool holds the rounded quantity

        again = {"increment_minutes": 15, "applies_to": "per_line"}
        changed = await api.put(f"{base}/clients/{client_id}/rounding", json=again)
        repeated = await api.put(f"{base}/clients/{client_id}/rounding", json=again)
        assert (changed.json()["version"], repeated.json()["version"]) == (2, 2)
        history = await get(api, f"{base}/clients/{client_id}/rounding")
        assert [v["version"] for v in history["versions"]] == [1, 2]

        second_entries = await _log_two(platform, ws, "2026-11-20")
        await wait_for(lambda: ledger(4))
        second = await _invoice(api, ws, client_id, 2)
        (line,) = (await get(api, f"{base}/invoices/{second}"))["lines"]
        assert (line["quantity"], line["amount"], line["rounding"]["version"]) == (
            "0.50",
            "60.00",
            2,
        )
        (old,) = (await get(api, f"{base}/invoices/{first}"))["lines"]
        assert (old["quantity"], old["rounding"]["version"]) == ("0.75", 1)

        durations = {e["entry_id"]: e["duration_seconds"]
                     for e in await get(api, f"{base}/billable-entries")}  # fmt: skip
        assert sorted(durations.values()) == [420, 420, 1200, 1200]  # never rounded

    async def announced() -> list[dict[str, Any]] | None:
        found = [json.loads(r.value) for r in await everything(InvoiceExported.topic(), start)]
        mine = {e["invoice_id"]: e for e in found if e["invoice_id"] in (first, second)}
        return [mine[first], mine[second]] if len(mine) == 2 else None

    exported = await wait_for(announced)
    lines = [e["lines"][0] for e in exported]
    assert [(ln["rounding"]["version"], ln["rounding"]["increment_minutes"]) for ln in lines] == [
        (1, 15),
        (2, 15),
    ]
    assert [sorted(ln["entry_ids"]) for ln in lines] == [
        sorted(first_entries),
        sorted(second_entries),
    ]
