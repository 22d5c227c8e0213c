"""The accounting tools' webhooks against replays, forgeries and bad bytes (issue 13 items 2, 3,
5), on the real Kafka and PostgreSQL with the QuickBooks, Xero and FreshBooks sandboxes.

Every request invoice-export sends to a sandbox is recorded, so "no API read" and "no call to
FreshBooks" are checked on what was actually sent.
"""

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from timebridge_providers.freshbooks.webhooks import webhook_signature

from timebridge_common.crypto import SecretBox
from timebridge_common.events import AccountingChangeNotified
from timebridge_common.outbound.http import RetryPolicy
from timebridge_common.testing import LazyApp, end_offsets, in_memory_tracing, read_topic, wait_for
from timebridge_invoice_export.adapters.tools import ProductionTools
from timebridge_invoice_export.bootstrap import InvoiceExport
from timebridge_invoice_export.bootstrap import bootstrap as bootstrap_invoice_export
from timebridge_invoice_export.config import AccountingApp
from timebridge_invoice_export.config import Settings as InvoiceSettings
from timebridge_sandboxes import freshbooks as fb_sandbox
from timebridge_sandboxes import quickbooks as qbo_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import TimeoutTransport

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS, start_owner, token_hosts

INVOICE_URL = "https://invoice.test"
VERIFIER = "qbo-verifier-token-replay"
XERO_KEY = "xero-webhook-key-replay"
TOPIC = AccountingChangeNotified.topic()


def _app(provider: str, authorize: str, token: str, secret: str = "") -> AccountingApp:
    return AccountingApp(
        client_id=f"{provider}-client",
        client_secret=SecretStr(f"{provider}-secret"),
        webhook_secret=SecretStr(secret),
        api_url=f"http://{provider}.sandbox",
        authorize_url=f"http://{provider}.sandbox{authorize}",
        token_url=f"http://{provider}.sandbox{token}",
    )


@dataclass
class Rig:
    invoice_export: InvoiceExport
    sandboxes: dict[str, Any]
    qbo: qbo_sandbox.QuickBooksState
    realm: str
    fb: fb_sandbox.FreshBooksState
    sent: dict[str, list[httpx.Request]] = field(default_factory=dict)

    def hooks(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.invoice_export.app)
        return httpx.AsyncClient(transport=transport, base_url=INVOICE_URL)

    def requests(self, provider: str) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.sent.get(provider, [])]


@pytest.fixture(scope="module")
async def rig(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Rig]:
    apps: dict[str, Any] = {}
    to_invoice_export = httpx.ASGITransport(app=LazyApp(apps, "invoice-export"))
    qbo = qbo_sandbox.QuickBooksState()
    qbo.add_app(
        "quickbooks-client", "quickbooks-secret", [f"{INVOICE_URL}/v1/oauth/quickbooks/callback"]
    )
    realm = qbo.add_company("Acme Consulting")
    qbo.add_account(realm, "Services")
    fb = fb_sandbox.FreshBooksState(
        client_id="freshbooks-client", client_secret="freshbooks-secret"
    )
    account = fb.add_business("Acme Studio")
    fb.add_identity("Ann", "Admin", "ann@acme.test", {account: "owner"})
    limit = RateLimit(10**6, 60)
    sandboxes = {
        "quickbooks": qbo_sandbox.create_quickbooks_sandbox(
            qbo, Faults(), rate_limit=limit, webhook_transport=to_invoice_export
        ),
        "freshbooks": fb_sandbox.create_freshbooks_sandbox(
            fb, Faults(), rate_limit=limit, webhook_transport=to_invoice_export
        ),
    }
    sent: dict[str, list[httpx.Request]] = {}

    def tool_http(provider: str) -> httpx.AsyncClient:
        async def record(request: httpx.Request) -> None:
            sent.setdefault(provider, []).append(request)

        return httpx.AsyncClient(
            transport=TimeoutTransport(sandboxes[provider], 2.0),
            event_hooks={"request": [record]},
        )

    settings = InvoiceSettings(
        kafka=kafka_config().model_copy(
            update={"group_prefix": f"{kafka_config().group_prefix}-hooks"}
        ),
        encryption_key=SecretBox.generate_key(),
        **OWNER_SETTINGS,
        public_base_url=INVOICE_URL,
        quickbooks=_app("quickbooks", "/connect/oauth2", "/oauth2/v1/tokens/bearer", VERIFIER),
        xero=_app("xero", "/identity/connect/authorize", "/connect/token", XERO_KEY),
        freshbooks=_app("freshbooks", "/oauth/authorize", "/auth/oauth/token"),
    )
    async with contextlib.AsyncExitStack() as running:
        owner = await start_owner(
            running,
            kafka=settings.kafka,
            apps=settings.accounting_apps(),
            token_transport=token_hosts(settings.accounting_apps(), sandboxes),
            core=None,
            create_database=create_database,
            make_pool=make_pool,
            name="hooks-credentials",
        )
        invoice_export = bootstrap_invoice_export(
            settings,
            pool=await make_pool(await create_database("hooks-invoice-export")),
            tracer_provider=in_memory_tracing("invoice-export")[0],
            tools=ProductionTools(settings, http=tool_http, retry=RetryPolicy(max_attempts=2)),
            credentials=owner.source,
            background=False,
        )
        apps["invoice-export"] = invoice_export.app
        await invoice_export.runtime.start()
        running.push_async_callback(invoice_export.runtime.stop)
        yield Rig(invoice_export, sandboxes, qbo, realm, fb, sent)


async def _connect(rig: Rig, provider: str) -> str:
    """An admin's consent in the tool, then Timebridge's callback (the use cases, no Core)."""
    connections = rig.invoice_export.connections
    started = await connections.authorize(unique("ws"), provider, "u_admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(rig.sandboxes[provider])) as browser:
        consent = await browser.get(started.authorize_url)
    assert consent.status_code == 302, consent.text
    params = dict(httpx.URL(consent.headers["location"]).params)
    connection = await connections.complete(provider, params)
    assert connection.status == "connected"
    return connection.connection_id


def _qbo_delivery(realm: str, customer: str, when: dt.datetime) -> bytes:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    entity = {"name": "Customer", "id": customer, "operation": "Update", "lastUpdated": stamp}
    note = {"realmId": realm, "dataChangeEvent": {"entities": [entity]}}
    return json.dumps({"eventNotifications": [note]}).encode()


def _sign(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


async def _ours(before: Any, connection_id: str, sentinel: str) -> list[Any]:
    """Records of ``connection_id`` since ``before``, read until the sentinel's record."""

    def of(records: list[Any]) -> list[dict[str, Any]]:
        found = [json.loads(r.value) for r in records]
        return [r for r in found if r["connection_id"] == connection_id]

    records = await read_topic(
        KAFKA, before, until=lambda rs: any(r["external_id"] == sentinel for r in of(rs))
    )
    return [r for r in of(records) if r["external_id"] != sentinel]


async def test_quickbooks_replays_and_stale_deliveries_cost_no_read(rig: Rig) -> None:
    connection_id = await _connect(rig, "quickbooks")
    old = rig.qbo.add_customer(rig.realm, {"DisplayName": "Old Co"})
    fresh = rig.qbo.add_customer(rig.realm, {"DisplayName": "Fresh Co"})
    sentinel = rig.qbo.add_customer(rig.realm, {"DisplayName": "Sentinel Co"})
    before = await end_offsets(KAFKA, TOPIC)
    now = dt.datetime.now(dt.UTC)
    stale = _qbo_delivery(rig.realm, old, dt.datetime(2020, 3, 1, tzinfo=dt.UTC))
    replayed = _qbo_delivery(rig.realm, fresh, now)
    async with rig.hooks() as hooks:
        stale_answers = [
            await hooks.post(
                "/v1/webhooks/quickbooks",
                content=stale,
                headers={"intuit-signature": _sign(VERIFIER, stale)},
            )
            for _ in range(21)
        ]
        fresh_answers = [
            await hooks.post(
                "/v1/webhooks/quickbooks",
                content=replayed,
                headers={"intuit-signature": _sign(VERIFIER, replayed)},
            )
            for _ in range(5)
        ]
        last = _qbo_delivery(rig.realm, sentinel, now)
        sent = await hooks.post(
            "/v1/webhooks/quickbooks",
            content=last,
            headers={"intuit-signature": _sign(VERIFIER, last)},
        )
    assert {(a.status_code, a.json()["status"]) for a in stale_answers} == {(200, "ignored")}
    assert "older than" in stale_answers[0].json()["reason"]
    assert [a.json()["status"] for a in fresh_answers] == ["accepted"] + ["duplicate"] * 4
    assert sent.json()["status"] == "accepted"
    records = await _ours(before, connection_id, sentinel)
    assert [r["external_id"] for r in records] == [fresh]

    def read(customer: str) -> list[str]:
        return [
            r for r in rig.requests("quickbooks") if r.lower().endswith(f"/customer/{customer}")
        ]

    async def both_read() -> bool:
        return bool(read(sentinel) and read(fresh))

    await wait_for(both_read)
    assert read(old) == []
    assert len(read(fresh)) == 1


async def test_xero_stale_deliveries_publish_nothing(rig: Rig) -> None:
    before = await end_offsets(KAFKA, TOPIC)
    event = {
        "resourceUrl": "https://api.xero.com/api.xro/2.0/Contacts/1",
        "resourceId": "c0ffee00-0000-0000-0000-000000000001",
        "eventDateUtc": "2020-03-01T10:00:00.000",
        "eventType": "UPDATE",
        "eventCategory": "CONTACT",
        "tenantId": "c0ffee00-0000-0000-0000-0000000000aa",
        "tenantType": "ORGANISATION",
    }
    body = json.dumps(
        {"events": [event], "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "x"}
    ).encode()
    async with rig.hooks() as hooks:
        answers = [
            await hooks.post(
                "/v1/webhooks/xero",
                content=body,
                headers={"x-xero-signature": _sign(XERO_KEY, body)},
            )
            for _ in range(3)
        ]
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * 3
    assert await end_offsets(KAFKA, TOPIC) == before


async def test_a_forged_freshbooks_verification_calls_nothing(rig: Rig) -> None:
    connection_id = await _connect(rig, "freshbooks")
    await rig.invoice_export.poller.poll(connection_id)  # registers and verifies the callbacks
    async with rig.invoice_export.store.tx() as tx:
        connection = await tx.connection(connection_id)
    assert connection is not None
    assert connection.verified_webhooks == 3, "the genuine verifications were confirmed"
    ours = sorted(rig.fb.callbacks)
    path = f"/v1/webhooks/freshbooks/{connection_id}"
    form = {"content-type": "application/x-www-form-urlencoded"}
    calls = len(rig.requests("freshbooks"))
    async with rig.hooks() as hooks:
        unknown = await hooks.post(
            path,
            content=f"name=callback.verify&object_id=990001&verifier=forged&account_id={connection.tenant_id}",
            headers=form,
        )
        verified = await hooks.post(
            path, content=f"name=callback.verify&object_id={ours[0]}&verifier=forged", headers=form
        )
        flood = [
            await hooks.post(
                path, content=f"name=callback.verify&object_id={n}&verifier=forged", headers=form
            )
            for n in range(990002, 990012)
        ]
    assert unknown.status_code == 409, unknown.text
    assert "nothing done" in unknown.json()["detail"]
    assert (verified.status_code, verified.json()["reason"]) == (200, "already verified")
    assert {a.status_code for a in flood} == {409}
    assert len(rig.requests("freshbooks")) == calls, "no request reached FreshBooks"


async def test_a_signed_freshbooks_event_replayed_is_published_once(rig: Rig) -> None:
    connection_id = await _connect(rig, "freshbooks")
    await rig.invoice_export.poller.poll(connection_id)
    async with rig.invoice_export.store.tx() as tx:
        connection = await tx.connection(connection_id)
    assert connection is not None
    callback = next(
        c for c in rig.fb.callbacks.values() if c.event == "client" and connection_id in c.uri
    )
    before = await end_offsets(KAFKA, TOPIC)

    def event(object_id: int) -> list[tuple[str, str]]:
        return [
            ("name", "client.update"),
            ("object_id", str(object_id)),
            ("account_id", str(connection.tenant_id)),
            ("business_id", "1"),
            ("identity_id", "1"),
            ("user_id", "1"),
        ]

    async def post(fields: list[tuple[str, str]]) -> httpx.Response:
        async with rig.hooks() as hooks:
            return await hooks.post(
                f"/v1/webhooks/freshbooks/{connection_id}",
                data=dict(fields),
                headers={"X-FreshBooks-Hmac-SHA256": webhook_signature(callback.verifier, fields)},
            )

    answers = [await post(event(424201)) for _ in range(5)]
    assert [a.json()["status"] for a in answers] == ["accepted"] + ["duplicate"] * 4
    assert (await post(event(424299))).json()["status"] == "accepted"
    records = await _ours(before, connection_id, "424299")
    assert [r["external_id"] for r in records] == ["424201"]


@pytest.mark.parametrize(
    ("path", "headers", "body", "status"),
    [
        ("/v1/webhooks/quickbooks", [(b"intuit-signature", b"\xff\xfe")], b"{}", 401),
        ("/v1/webhooks/quickbooks", [(b"intuit-signature", "caf\u00e9".encode())], b"{}", 401),
        ("/v1/webhooks/xero", [(b"x-xero-signature", b"\xe9t\xe9")], b"{}", 401),
        ("/v1/webhooks/freshbooks/acc_x", [], b"name=a&object_id=\xff", 400),
        ("/v1/webhooks/freshbooks/acc_x", [], b"name=a&object_id=%ff%fe", 400),
        ("/v1/webhooks/freshbooks/acc_x", [(b"X-FreshBooks-Hmac-SHA256", b"\xff")], b"", 401),
        ("/v1/webhooks/freshbooks/acc%00x", [], b"name=a", (400, 422)),  # guard or pattern
        ("/v1/webhooks/quickbooks", [], b"x" * (2 << 20), 413),
    ],
)
async def test_bad_bytes_are_a_4xx_with_nothing_published(
    rig: Rig,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    status: int | tuple[int, ...],
) -> None:
    before = await end_offsets(KAFKA, TOPIC)
    async with rig.hooks() as hooks:
        answer = await hooks.post(path, content=body, headers=headers)
    assert answer.status_code in (status if isinstance(status, tuple) else (status,)), answer.text
    if answer.content:
        assert answer.json()["detail"]
    assert await end_offsets(KAFKA, TOPIC) == before


async def test_verifications_are_limited_to_awaited_callbacks_and_attempts(rig: Rig) -> None:
    """While a registration is under way, unknown verifiers are only held (at most 10, no call);
    an awaited callback gets at most 3 confirmation attempts; then nothing reaches FreshBooks."""
    connection_id = await _connect(rig, "freshbooks")
    async with rig.invoice_export.store.tx() as tx:
        connection = await tx.connection(connection_id)
    assert connection is not None
    verifications = rig.invoice_export.poller._verifications
    path = f"/v1/webhooks/freshbooks/{connection_id}"
    form = {"content-type": "application/x-www-form-urlencoded"}

    def verify(callback: int) -> str:
        return f"name=callback.verify&object_id={callback}&verifier=forged-{callback}"

    calls = len(rig.requests("freshbooks"))
    await verifications.registering(connection_id)
    async with rig.hooks() as hooks:
        held = [
            await hooks.post(path, content=verify(n), headers=form) for n in range(880001, 880013)
        ]
    assert [a.json().get("status") for a in held[:10]] == ["held"] * 10
    assert {a.status_code for a in held[10:]} == {409}
    await verifications.registered(connection, [])  # FreshBooks named none of them
    assert len(rig.requests("freshbooks")) == calls, "held verifiers are never sent by themselves"

    await verifications.registering(connection_id)
    await verifications.registered(connection, ["880100"])  # one we registered, now awaited
    async with rig.hooks() as hooks:
        tries = [await hooks.post(path, content=verify(880100), headers=form) for _ in range(5)]
    assert [a.status_code for a in tries] == [422, 422, 422, 409, 409], [a.text for a in tries]
    puts = [r for r in rig.requests("freshbooks")[calls:] if r.startswith("PUT ")]
    assert len(puts) == 3


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"null",
        b'{"eventNotifications": "x"}',
        b'[{"id": 5, "type": []}]',
        b"[" * 50_000 + b"]" * 50_000,
        json.dumps(
            {
                "eventNotifications": [
                    {
                        "realmId": "9\u0000",
                        "dataChangeEvent": {
                            "entities": [
                                {"name": "Customer", "id": "1\u0000", "operation": "Update"}
                            ]
                        },
                    }
                ]
            }
        ).encode(),
        b"\xff\xfe\x00",
    ],
)
async def test_signed_but_malformed_quickbooks_bodies_are_4xx(rig: Rig, body: bytes) -> None:
    before = await end_offsets(KAFKA, TOPIC)
    async with rig.hooks() as hooks:
        answer = await hooks.post(
            "/v1/webhooks/quickbooks",
            content=body,
            headers={"intuit-signature": _sign(VERIFIER, body)},
        )
        xero = await hooks.post(
            "/v1/webhooks/xero", content=body, headers={"x-xero-signature": _sign(XERO_KEY, body)}
        )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["detail"]
    assert 400 <= xero.status_code < 500, xero.text
    assert await end_offsets(KAFKA, TOPIC) == before
