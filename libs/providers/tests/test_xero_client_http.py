"""Timebridge's Xero client against the Xero sandbox: webhooks (intent to receive, signed
events), 429s and the call limits, and the whole flow over real HTTP."""

import asyncio
import base64
import hashlib
import hmac

import httpx
import pytest
from timebridge_providers.xero.client import XeroClient
from timebridge_providers.xero.oauth import XeroTokens, authorize_url, connections, select_tenant
from timebridge_providers.xero.webhooks import verify_webhook

from libs.providers.tests.xero_world import (
    BASE,
    CLIENT_ID,
    CLIENT_SECRET,
    HOOK_KEY,
    HOOK_URL,
    REDIRECT,
    World,
    draft,
    new_world,
)
from timebridge_sandboxes.testing import serve
from timebridge_sandboxes.xero import XeroState, create_xero_sandbox


@pytest.fixture
async def world() -> World:
    return await new_world()


async def test_intent_to_receive_then_signed_events_kept_until_delivered(world: World) -> None:
    async with world.admin() as admin:
        subscribed = await admin.put("/webhook", json={"url": HOOK_URL, "key": HOOK_KEY})
    assert subscribed.json()["status"] == "OK"
    checks = [(d.kind, d.signed_correctly, d.status) for d in world.state.deliveries]
    assert checks == [("intent_to_receive", True, 200), ("intent_to_receive", False, 401)]
    assert [p.intent_to_receive for p in world.receiver.payloads] == [True]

    client = world.client()
    async with world.admin() as admin:
        created = await admin.post(f"/tenants/{world.tenant}/contacts", json={"Name": "Initech"})
        contact = created.json()["ContactID"]
        invoice = await client.create_invoice(draft(contact), idempotency_key="tb-hook")
        world.receiver.down = True
        await admin.patch(f"/contacts/{contact}", json={"Name": "Initech Ltd"})
        world.receiver.down = False
        await admin.post(f"/invoices/{invoice.invoice_id}/approve")
    assert world.receiver.events() == [
        ("CONTACT", "CREATE", contact),
        ("INVOICE", "CREATE", invoice.invoice_id),
        ("CONTACT", "UPDATE", contact),
        ("INVOICE", "UPDATE", invoice.invoice_id),
    ]
    assert [(p.first_event_sequence, p.last_event_sequence) for p in world.receiver.payloads] == [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 4),
    ]
    last = world.receiver.payloads[-1].events[-1]
    assert (last.tenant_id, last.resource_url) == (
        world.tenant,
        f"https://api.xero.com/api.xro/2.0/Invoices/{invoice.invoice_id}",
    )
    assert last.event_date_utc == world.fake.utcnow()
    body = world.receiver.bodies[-1]
    signature = base64.b64encode(
        hmac.new(HOOK_KEY.encode(), body, hashlib.sha256).digest()
    ).decode()
    assert verify_webhook(HOOK_KEY, body, signature)
    assert not verify_webhook(HOOK_KEY, body + b" ", signature)
    assert not verify_webhook("another-key", body, signature)
    assert not verify_webhook(HOOK_KEY, body, None)

    world.receiver.key = "a-key-from-another-app"
    async with world.admin() as admin:
        refused = await admin.put("/webhook", json={"url": HOOK_URL, "key": HOOK_KEY})
    assert refused.json()["status"] == "INTENT_TO_RECEIVE_FAILED"


async def test_429_is_waited_out_as_told_and_the_budget_keeps_to_60_a_minute(world: World) -> None:
    contact = world.customer()
    client = world.client()
    world.faults.rate_limit_storm(requests=2, retry_after_s=7)
    assert (await client.contact(contact)).contact_id == contact
    assert world.answers == [429, 429, 200]
    assert world.fake.sleeps == [7.0, 7.0]

    world.answers.clear()
    for _ in range(90):
        await client.contact(contact)
    assert 429 not in world.answers
    assert world.fake.now >= 60

    world.answers.clear()
    greedy = world.client(limit=200)
    for _ in range(70):
        await greedy.contact(contact)
    assert world.answers.count(429) > 0
    assert world.answers.count(200) == 70
    async with world.http() as http:
        headers = {"Authorization": f"Bearer {world.access}", "xero-tenant-id": world.tenant}
        headers["Accept"] = "application/json"
        limited = [
            await http.get(f"{BASE}/api.xro/2.0/Contacts", headers=headers) for _ in range(61)
        ]
    assert limited[-1].status_code == 429
    assert limited[-1].headers["X-Rate-Limit-Problem"] == "minute"
    assert int(limited[-1].headers["Retry-After"]) >= 1


async def test_the_client_keeps_to_five_calls_in_progress_per_tenant(world: World) -> None:
    contact = world.customer()
    world.faults.slow_down(0.03)
    tenant_slots = asyncio.Semaphore(5)
    clients = [world.client(slots=tenant_slots) for _ in range(3)]
    await asyncio.gather(*(clients[n % 3].contact(contact) for n in range(12)))
    assert world.answers == [200] * 12
    assert world.state.peak_in_flight[world.tenant] == 5

    headers = {
        "Authorization": f"Bearer {world.access}",
        "xero-tenant-id": world.tenant,
        "Accept": "application/json",
    }
    async with world.http() as http:
        burst = await asyncio.gather(
            *(http.get(f"{BASE}/api.xro/2.0/Contacts/{contact}", headers=headers) for _ in range(7))
        )
    refused = [r for r in burst if r.status_code == 429]
    assert len(refused) == 2
    assert {r.headers["X-Rate-Limit-Problem"] for r in refused} == {"concurrent"}


async def test_over_real_http_authorise_exchange_choose_and_read() -> None:
    state = XeroState()
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    tenant = state.add_tenant("Demo Company (NZ)")
    contact = state.add_contact(tenant, "Acme Corp")
    async with serve(create_xero_sandbox(state)) as url, httpx.AsyncClient() as http:
        redirect = await http.get(
            authorize_url(CLIENT_ID, REDIRECT, "s", base=f"{url}/identity/connect/authorize")
        )
        code = httpx.URL(redirect.headers["location"]).params["code"]
        endpoint = XeroTokens(CLIENT_ID, CLIENT_SECRET, token_url=f"{url}/connect/token")
        tokens = await endpoint.exchange_code(code, REDIRECT)
        await endpoint.aclose()
        chosen = select_tenant(await connections(url, tokens.access_token))

        async def bearer() -> str:
            return tokens.access_token

        async with XeroClient(url, chosen.tenant_id, bearer) as client:
            assert [c.contact_id async for c in client.contacts()] == [contact]
