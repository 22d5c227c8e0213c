"""Timebridge's QuickBooks Online client against the sandbox: webhooks, 429s, the sandbox's
admin API, and consent, a lost answer and a webhook over real HTTP."""

import asyncio
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from timebridge_providers.quickbooks.client import QuickBooksClient
from timebridge_providers.quickbooks.oauth import QuickBooksTokens, authorize_url
from timebridge_providers.quickbooks.webhooks import EntityChange, verify_webhook

from libs.providers.tests.quickbooks_world import (
    CLIENT_ID,
    CLIENT_SECRET,
    HOOK_URL,
    REDIRECT,
    VERIFIER,
    Receiver,
    World,
    customer,
    draft,
    exported,
    new_world,
)
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.quickbooks import (
    QuickBooksState,
    WebhookTarget,
    create_quickbooks_sandbox,
)
from timebridge_sandboxes.testing import serve


@pytest.fixture
def world() -> World:
    return new_world()


async def test_webhooks_are_signed_and_a_wrong_signature_is_refused(world: World) -> None:
    client = world.client()
    _, invoice = await exported(world, client)
    assert world.receiver.seen()[-1] == ("Invoice", invoice.id, "Create")
    assert world.receiver.changes[-1].event_id is not None
    body = json.dumps(world.state.deliveries[-1].payload).encode()
    signature = WebhookTarget(HOOK_URL, VERIFIER).signature(body)
    assert verify_webhook(VERIFIER, body, signature)
    assert not verify_webhook(VERIFIER, body + b" ", signature)
    assert not verify_webhook("another-app", body, signature)
    assert not verify_webhook(VERIFIER, body, None)

    world.state.webhook = WebhookTarget(HOOK_URL, VERIFIER, "legacy")
    await world.edit(f"invoices/{invoice.id}/void", method="POST")
    legacy = world.state.deliveries[-1].payload
    assert isinstance(legacy, dict)
    (entity,) = legacy["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert set(entity) == {"name", "id", "operation", "lastUpdated"}
    assert world.receiver.changes[-1] == EntityChange(
        realm_id=world.realm,
        entity="Invoice",
        entity_id=invoice.id,
        operation="Void",
        occurred_at=world.fake.utcnow(),
    )
    world.state.webhook = WebhookTarget(HOOK_URL, "a-rotated-token")
    await world.edit(f"invoices/{invoice.id}", {"DocNumber": "X-1"})
    assert (world.receiver.refused, world.state.deliveries[-1].status) == (1, 401)


async def test_a_429_is_waited_out_for_as_long_as_quickbooks_says(world: World) -> None:
    """A throttled burst waits ``Retry-After``; a budget above the limit waits out the window."""
    world.faults.rate_limit_storm(requests=2, retry_after_s=3)
    client = world.client()
    assert [c async for c in client.customers()] == []
    assert world.statuses == [429, 429, 200]
    assert world.fake.sleeps == [3.0, 3.0]
    throttled = world.answers[0].json()["Fault"]["Error"][0]
    assert throttled["code"] == "3001"

    world.sandbox = create_quickbooks_sandbox(
        world.state, rate_limit=RateLimit(4, 60.0, clock=world.fake.clock)
    )
    world.answers, world.fake.sleeps = [], []
    greedy = world.client(limit=(100, 60.0))
    for _ in range(6):
        assert [c async for c in greedy.customers()] == []
    assert world.statuses == [200] * 4 + [429, 200, 200]
    assert world.fake.sleeps[0] == 60.0


async def test_the_admin_api_seeds_subscribes_and_resets(world: World) -> None:
    seed = {
        "apps": [{"client_id": "other-app", "client_secret": "s", "redirect_uris": [REDIRECT]}],
        "companies": [
            {
                "name": "Beta LLC",
                "items": ["Hours"],
                "customers": [{"DisplayName": "Beta Client", "Taxable": False}],
            }
        ],
    }
    async with world.admin() as api:
        seeded = (await api.post("/seed", json=seed)).json()["companies"][0]
        hook = {"url": HOOK_URL, "verifier_token": VERIFIER, "format": "legacy"}
        assert (await api.put("/webhook", json=hook)).status_code == 200
        refused = await api.post(f"/companies/{seeded['realm_id']}/customers", json={"Nmae": "x"})
        created = await api.post(
            f"/companies/{seeded['realm_id']}/customers", json={"DisplayName": "Gamma"}
        )
        log = (await api.get("/deliveries")).json()
        assert (await api.post("/reset")).status_code == 204
    assert (seeded["accounts"], seeded["items"], seeded["customers"]) == (["1"], ["2"], ["3"])
    assert refused.json()["Fault"]["Error"][0]["code"] == "2010"
    assert created.json()["Customer"]["Id"] == "4"
    assert [d["payload"]["eventNotifications"][0]["realmId"] for d in log] == [seeded["realm_id"]]
    assert (world.state.companies, world.state.apps, world.state.webhook) == ({}, {}, None)


async def test_over_real_http_consent_lost_answer_and_a_signed_webhook() -> None:
    receiver = Receiver()
    state = QuickBooksState()
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    realm = state.add_company("Acme Consulting")
    account = state.add_account(realm, "Services")
    customer_id = state.add_customer(realm, customer("Globex Corporation"))
    faults = Faults()
    async with (
        serve(create_quickbooks_sandbox(state, faults)) as qbo_url,
        serve(receiver.app) as receiver_url,
    ):
        state.webhook = WebhookTarget(f"{receiver_url}/v1/webhooks/quickbooks", VERIFIER)
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(
                authorize_url(CLIENT_ID, REDIRECT, "s1", base_url=f"{qbo_url}/connect/oauth2")
            )
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        tokens = await QuickBooksTokens(
            CLIENT_ID, CLIENT_SECRET, token_url=f"{qbo_url}/oauth2/v1/tokens/bearer"
        ).exchange_code(code, REDIRECT)

        async def bearer() -> str:
            return tokens.access_token

        async with QuickBooksClient(qbo_url, realm, bearer, timeout_s=1.0) as client:
            item = await client.find_or_create_service_item("Hours", income_account_id=account)
            faults.lose_next_responses(1, delay_s=2.5)
            invoice = await client.create_invoice(
                draft(customer_id, item.id), request_id="loopback-1"
            )
            async with asyncio.timeout(5):
                await receiver.arrived.wait()
            assert (await client.invoice(invoice.id)).total_amt == Decimal("254.99")
    assert len(state.companies[realm].all("Invoice")) == 1
    assert ("Invoice", invoice.id, "Create") in receiver.seen()
