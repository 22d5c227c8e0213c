"""The Xero sandbox and Timebridge's client on fake time, connected, shared by
``test_xero_client*`` (imported as ``libs.providers.tests.xero_world``, see this folder's conftest).
"""

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.xero.client import XeroClient
from timebridge_providers.xero.oauth import XeroTokens, authorize_url
from timebridge_providers.xero.webhooks import parse_webhook, verify_webhook
from timebridge_providers.xero.wire import (
    SIGNATURE_HEADER,
    DraftInvoice,
    LineItem,
    WebhookPayload,
)

from timebridge_common.outbound.http import (
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import Tokens
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport, Traffic, provider_specs
from timebridge_sandboxes.xero import RATE_LIMIT, XeroState, create_xero_sandbox

SPECS = provider_specs()
BASE = "http://xero.test"
AUTHORIZE = f"{BASE}/identity/connect/authorize"
CLIENT_ID, CLIENT_SECRET = "xero-client-5e1d", "xero-secret-90a7"
REDIRECT = "http://timebridge.test/oauth/xero/callback"
HOOK_URL = "http://timebridge.test/webhooks/xero"
HOOK_KEY = "xero-webhook-key-3c8f"
DAY = dt.date(2026, 11, 21)


class Receiver:
    """Timebridge's webhook endpoint: ``200`` without body if signed right, ``401`` if not."""

    def __init__(self, key: str = HOOK_KEY) -> None:
        self.key = key
        self.down = False
        self.bodies: list[bytes] = []
        self.payloads: list[WebhookPayload] = []
        self.app = Starlette(routes=[Route("/webhooks/xero", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        if not verify_webhook(self.key, body, request.headers.get(SIGNATURE_HEADER)):
            return Response(status_code=401)
        if self.down:
            return Response(status_code=503)
        self.bodies.append(body)
        self.payloads.append(parse_webhook(body))
        return Response(status_code=200)

    def events(self) -> list[tuple[str, str, str]]:
        return [
            (e.event_category, e.event_type, e.resource_id) for p in self.payloads for e in p.events
        ]


@dataclass
class _Slot:
    store: "MemoryStore"
    connection_id: str
    tokens: Tokens

    async def save(self, new: Tokens) -> None:
        self.tokens = self.store.tokens[self.connection_id] = new


@dataclass
class MemoryStore:
    """The service's token store, in memory (one process, so the lock is the manager's)."""

    tokens: dict[str, Tokens] = field(default_factory=dict)

    async def load(self, connection_id: str) -> Tokens:
        return self.tokens[connection_id]

    @contextlib.asynccontextmanager
    async def locked(self, connection_id: str) -> AsyncIterator[_Slot]:
        yield _Slot(self, connection_id, self.tokens[connection_id])


@dataclass
class World(Traffic):
    state: XeroState
    faults: Faults
    fake: FakeTime
    receiver: Receiver
    sandbox: ASGIApp
    tenant: str
    access: str = ""

    def http(self) -> httpx.AsyncClient:
        return self.recording_client(TimeoutTransport(self.sandbox, 2.0))

    def endpoint(self, secret: str = CLIENT_SECRET) -> XeroTokens:
        return XeroTokens(
            CLIENT_ID,
            secret,
            token_url=f"{BASE}/connect/token",
            http=self.http(),
            clock=self.fake.utcnow,
        )

    def client(
        self, tenant: str | None = None, *, slots: asyncio.Semaphore | None = None, limit: int = 60
    ) -> XeroClient:
        async def bearer() -> str:
            return self.access

        return XeroClient(
            BASE,
            tenant or self.tenant,
            bearer,
            http=self.http(),
            budget=RequestBudget(limit, 60.0, clock=self.fake.clock, sleep=self.fake.sleep),
            slots=slots,
            retry=RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow),
        )

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.sandbox), base_url=f"{BASE}/_sandbox"
        )

    async def connect(self) -> Tokens:
        """Authorise the app as an admin would; the access token then serves :meth:`client`."""
        async with self.http() as http:
            answer = await http.get(authorize_url(CLIENT_ID, REDIRECT, "st-1", base=AUTHORIZE))
        code = httpx.URL(answer.headers["location"]).params["code"]
        tokens = await self.endpoint().exchange_code(code, REDIRECT)
        self.access = tokens.access_token
        return tokens

    def customer(self, name: str = "Acme Corp", **fields: Any) -> str:
        return self.state.add_contact(self.tenant, name, **fields)


async def new_world() -> World:
    fake, faults, receiver = FakeTime(), Faults(), Receiver()
    faults.clock = fake.clock
    state = XeroState(now=fake.utcnow)
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    tenant = state.add_tenant("Demo Company (NZ)")
    sandbox = create_xero_sandbox(
        state,
        faults,
        rate_limit=RateLimit(*RATE_LIMIT, clock=fake.clock),
        webhook_transport=httpx.ASGITransport(receiver.app),
    )
    world = World(
        state=state, faults=faults, fake=fake, receiver=receiver, sandbox=sandbox, tenant=tenant
    )
    await world.connect()
    world.sent.clear()
    world.answers.clear()
    return world


def draft(contact_id: str, **fields: Any) -> DraftInvoice:
    line = LineItem(
        description="T-42 Fix the login page: 1.5 h",
        quantity=Decimal("1.5"),
        unit_amount=Decimal("120.00"),
        account_code="200",
    )
    values: dict[str, Any] = {
        "contact_id": contact_id,
        "line_items": (line,),
        "date": DAY,
        "due_date": DAY + dt.timedelta(days=14),
        "reference": "TB-7",
        "currency_code": "EUR",
    }
    return DraftInvoice(**(values | fields))
