"""Timebridge's FreshBooks client against the sandbox: callbacks verified then signed, 429s and
the per-user limit, and the whole flow over real HTTP."""

import asyncio
from decimal import Decimal

import httpx
import pytest
from timebridge_providers.freshbooks.client import FreshBooksClient
from timebridge_providers.freshbooks.oauth import FreshBooksTokens, authorize_url
from timebridge_providers.freshbooks.webhooks import verify_webhook, webhook_signature
from timebridge_providers.freshbooks.wire import (
    InvoiceDraft,
    Line,
    Money,
)

from libs.providers.tests.freshbooks_world import (
    CLIENT_ID,
    CLIENT_SECRET,
    DAY,
    HOOK,
    REDIRECT,
    Receiver,
    World,
    constant_token,
    new_world,
)
from timebridge_common.outbound.http import (
    ProviderError,
)
from timebridge_sandboxes.freshbooks import FreshBooksState, create_freshbooks_sandbox
from timebridge_sandboxes.testing import serve


@pytest.fixture
def world() -> World:
    return new_world()


async def test_a_callback_is_verified_then_deliveries_are_signed(world: World) -> None:
    client = world.client()
    callback = await client.create_callback("invoice", HOOK)
    assert (callback.event, callback.uri, callback.verified) == ("invoice", HOOK, False)
    (verification,) = world.receiver.verifications()
    assert verification.object_id == callback.callbackid
    assert verification.verifier is not None
    verifier = verification.verifier

    await client.ensure_invoice(world.draft())
    assert world.receiver.events() == []
    with pytest.raises(ProviderError) as wrong:
        await client.verify_callback(callback.callbackid, "not-it")
    assert wrong.value.status == 422
    await client.resend_verification(callback.callbackid)
    assert [v.verifier for v in world.receiver.verifications()] == [verifier, verifier]
    assert (await client.verify_callback(callback.callbackid, verifier)).verified
    assert [(c.callbackid, c.verified) for c in await client.callbacks()] == [
        (callback.callbackid, True)
    ]

    created = await client.ensure_invoice(world.draft("tb-inv-2"))
    async with world.admin() as admin:
        await admin.post(f"/invoices/{created.id}/sent")
    events = world.receiver.events()
    assert [(d.name, d.object_id) for d, _, _ in events] == [
        ("invoice.create", created.id),
        ("invoice.update", created.id),
    ]
    delivery, fields, signature = events[0]
    business = world.state.businesses[world.account]
    assert (delivery.account_id, delivery.business_id, delivery.identity_id) == (
        world.account,
        business.id,
        world.identity,
    )
    assert [key for key, _ in fields] == [
        "name",
        "object_id",
        "account_id",
        "business_id",
        "identity_id",
        "user_id",
    ]
    assert verify_webhook(verifier, fields, signature)
    assert not verify_webhook("another-verifier", fields, signature)
    assert not verify_webhook(verifier, [*fields[:1], ("object_id", "1"), *fields[2:]], signature)
    assert not verify_webhook(verifier, list(reversed(fields)), signature)
    assert not verify_webhook(verifier, fields, None)

    await client.delete_callback(callback.callbackid)
    assert await client.callbacks() == []
    with pytest.raises(ProviderError) as bad_event:
        await client.create_callback("invoice.explode", HOOK)
    assert bad_event.value.status == 422


def test_the_signature_is_freshbooks_documented_one() -> None:
    """A known answer of FreshBooks' Python snippet, with the SDK docs' example form."""
    fields = {
        "name": "invoice.create",
        "object_id": "1234567",
        "account_id": "6BApk",
        "business_id": "6543",
        "identity_id": "1234",
        "user_id": "1",
    }
    expected = "tTJRodOET/n9SiZYWDOAp/2V8SYeFhS9HRr+HKqJEh8="
    assert webhook_signature("s3cr3t-verifier", fields) == expected
    assert verify_webhook("s3cr3t-verifier", list(fields.items()), expected)


async def test_a_429_storm_is_waited_out_as_told(world: World) -> None:
    world.faults.rate_limit_storm(requests=2, retry_after_s=7)
    client = world.client()
    assert (await client.me()).identity_id == world.identity
    assert world.answers == [429, 429, 200]
    assert world.fake.sleeps == [7.0, 7.0]


async def test_the_sandbox_limits_each_user_and_the_budget_stays_under_it(world: World) -> None:
    client = world.client()
    for _ in range(70):
        await client.client(world.customer)
    assert 429 not in world.answers
    assert world.fake.now >= 60.0  # the 61st waited for the first to leave the window

    greedy = world.client(limit=300)
    for _ in range(70):
        await greedy.client(world.customer)
    assert world.answers.count(429) > 0
    assert world.answers.count(200) == 140


async def test_over_real_http_consent_verification_and_a_signed_delivery() -> None:
    state, receiver = FreshBooksState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET), Receiver()
    account = state.add_business("Acme Studio")
    state.add_identity("Ann", "Admin", "ann@acme.test", {account: "owner"})
    customer = state.add_client(account, organization="American Cyanamid")
    async with (
        serve(create_freshbooks_sandbox(state)) as freshbooks_url,
        serve(receiver.app) as receiver_url,
        httpx.AsyncClient(base_url=freshbooks_url) as http,
    ):
        consent = await http.get(authorize_url(CLIENT_ID, REDIRECT, base_url="/oauth/authorize"))
        code = httpx.URL(consent.headers["location"]).params["code"]
        tokens = await FreshBooksTokens(
            CLIENT_ID, CLIENT_SECRET, base_url=freshbooks_url
        ).exchange_code(code, REDIRECT)
        async with FreshBooksClient(
            freshbooks_url, account, constant_token(tokens.access_token)
        ) as client:
            callback = await client.create_callback(
                "invoice.update", f"{receiver_url}/hooks/freshbooks/a1"
            )
            async with asyncio.timeout(5):
                await receiver.arrived.wait()
            (verification,) = receiver.verifications()
            assert verification.verifier is not None
            await client.verify_callback(callback.callbackid, verification.verifier)

            receiver.arrived.clear()
            invoice = await client.ensure_invoice(
                InvoiceDraft(
                    customerid=customer,
                    create_date=DAY,
                    currency_code="USD",
                    po_number="tb-inv-9",
                    lines=(Line(name="Work", unit_cost=Money(amount=Decimal(90), code="USD")),),
                )
            )
            assert (await http.post(f"/_sandbox/invoices/{invoice.id}/viewed")).status_code == 200
            async with asyncio.timeout(5):
                await receiver.arrived.wait()
        ((delivery, fields, signature),) = receiver.events()
        assert (delivery.name, delivery.object_id) == ("invoice.update", invoice.id)
        assert verify_webhook(verification.verifier, fields, signature)
        deliveries = (await http.get("/_sandbox/deliveries")).json()
        assert [(d["form"]["name"], d["signed"], d["status"]) for d in deliveries] == [
            ("callback.verify", False, 200),
            ("invoice.update", True, 200),
        ]
