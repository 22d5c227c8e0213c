"""The QuickBooks Online sandbox and Timebridge's client on fake time, shared by
``test_quickbooks_client*`` and ``test_quickbooks_xsd`` (on the path by this folder's conftest).
"""

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.quickbooks.client import QuickBooksClient
from timebridge_providers.quickbooks.oauth import QuickBooksTokens, authorize_url
from timebridge_providers.quickbooks.webhooks import EntityChange, parse_webhook, verify_webhook
from timebridge_providers.quickbooks.wire import (
    DraftInvoice,
    DraftLine,
    Invoice,
)

from timebridge_common.outbound.http import (
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import (
    TokenManager,
    Tokens,
)
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.quickbooks import (
    RATE_LIMIT,
    QuickBooksState,
    WebhookTarget,
    create_quickbooks_sandbox,
)
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport, provider_specs

BASE = "http://qbo.test"
CLIENT_ID, CLIENT_SECRET = "ABqbo-client-5d1", "qbo-secret-9e2f"
REDIRECT = "https://timebridge.test/oauth/quickbooks/callback"
VERIFIER = "verifier-71c0"
HOOK_URL = "http://timebridge.test/v1/webhooks/quickbooks"
DAY = dt.date(2026, 11, 20)
ITEM = "Consulting hours"
SPECS = provider_specs()


class Receiver:
    """Timebridge's side of QuickBooks webhooks: checks the signature, keeps the changes."""

    def __init__(self) -> None:
        self.changes: list[EntityChange] = []
        self.refused = 0
        self.arrived = asyncio.Event()
        self.app = Starlette(routes=[Route("/v1/webhooks/quickbooks", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        if not verify_webhook(VERIFIER, body, request.headers.get("intuit-signature")):
            self.refused += 1
            return Response(status_code=401)
        self.changes.extend(parse_webhook(body))
        self.arrived.set()
        return Response(status_code=200)

    def seen(self) -> list[tuple[str, str, str]]:
        return [(c.entity, c.entity_id, c.operation) for c in self.changes]


@dataclass
class _Slot:
    store: "MemoryTokens"
    key: str
    tokens: Tokens

    async def save(self, new: Tokens) -> None:
        self.store.tokens[self.key] = self.tokens = new


@dataclass
class MemoryTokens:
    """A TokenStore in memory: what the owning service keeps in Postgres."""

    tokens: dict[str, Tokens] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self, connection_id: str) -> Tokens:
        return self.tokens[connection_id]

    @contextlib.asynccontextmanager
    async def locked(self, connection_id: str) -> AsyncIterator[_Slot]:
        async with self.lock:
            yield _Slot(self, connection_id, self.tokens[connection_id])


@dataclass
class World:
    state: QuickBooksState
    faults: Faults
    fake: FakeTime
    receiver: Receiver
    sandbox: ASGIApp
    realm: str
    account: str
    sent: list[httpx.Request] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)

    def http(self, timeout_s: float = 2.0) -> httpx.AsyncClient:
        """Records every request and every answer (with its body) the client exchanged."""

        async def on_request(request: httpx.Request) -> None:
            self.sent.append(request)

        async def on_response(response: httpx.Response) -> None:
            await response.aread()
            self.answers.append(response)

        return httpx.AsyncClient(
            transport=TimeoutTransport(self.sandbox, timeout_s),
            event_hooks={"request": [on_request], "response": [on_response]},
        )

    @property
    def statuses(self) -> list[int]:
        return [a.status_code for a in self.answers if a.request.url.path.startswith("/v3/")]

    def endpoint(self) -> QuickBooksTokens:
        return QuickBooksTokens(
            CLIENT_ID,
            CLIENT_SECRET,
            token_url=f"{BASE}/oauth2/v1/tokens/bearer",
            http=self.http(),
            clock=self.fake.utcnow,
        )

    def client(
        self,
        token: str | None = None,
        *,
        manager: TokenManager | None = None,
        limit: tuple[int, float] = RATE_LIMIT,
    ) -> QuickBooksClient:
        """A client with a token of its own, the given one, or the manager's."""
        if manager is not None:
            source = manager.access_token("conn-1")
        else:
            bearer = token or self.state.issue_tokens(self.realm, CLIENT_ID)[0]

            async def source() -> str:
                return bearer

        return QuickBooksClient(
            BASE,
            self.realm,
            source,
            http=self.http(),
            budget=RequestBudget(*limit, clock=self.fake.clock, sleep=self.fake.sleep),
            retry=RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow),
        )

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.sandbox), base_url=f"{BASE}/_sandbox"
        )

    async def edit(
        self, path: str, body: dict[str, Any] | None = None, method: str = "PATCH"
    ) -> Any:
        async with self.admin() as api:
            answer = await api.request(method, f"/companies/{self.realm}/{path}", json=body)
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    async def consent(self, state: str = "st-8f2") -> dict[str, str]:
        """The admin clicks Connect: the sandbox's user consents, the browser comes back."""
        url = authorize_url(CLIENT_ID, REDIRECT, state, base_url=f"{BASE}/connect/oauth2")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(self.sandbox)) as browser:
            answer = await browser.get(url)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(REDIRECT + "?")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def new_world() -> World:
    fake, faults, receiver = FakeTime(), Faults(), Receiver()
    faults.clock = fake.clock
    state = QuickBooksState(now=fake.utcnow)
    state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
    state.add_company("Other Books LLC")
    realm = state.add_company("Acme Consulting")
    state.consent_realm = realm
    account = state.add_account(realm, "Services")
    state.webhook = WebhookTarget(HOOK_URL, VERIFIER)
    sandbox = create_quickbooks_sandbox(
        state,
        faults,
        rate_limit=RateLimit(*RATE_LIMIT, clock=fake.clock),
        webhook_transport=httpx.ASGITransport(receiver.app),
    )
    return World(state, faults, fake, receiver, sandbox, realm, account)


def customer(name: str, **elements: Any) -> dict[str, Any]:
    return {"DisplayName": name, **elements}


def draft(customer_id: str, item_id: str, **fields: Any) -> DraftInvoice:
    """1.5 h at 120.00 and 0.75 h at 99.99: 180.00 + 74.99 (rounded half up) = 254.99."""
    login = DraftLine(
        item_id=item_id,
        description="T-42 Login page (Ann)",
        qty=Decimal("1.5"),
        unit_price=Decimal("120.00"),
        service_date=DAY,
    )
    review = DraftLine(
        item_id=item_id, description="Code review", qty=Decimal("0.75"), unit_price=Decimal("99.99")
    )
    defaults = {"doc_number": "TB-1001", "note": "Timebridge export inv_7"}
    return DraftInvoice(
        customer_id=customer_id, lines=(login, review), txn_date=DAY, **{**defaults, **fields}
    )


async def exported(world: World, client: QuickBooksClient) -> tuple[str, Invoice]:
    """A customer, the service item, and a draft invoice for them."""
    customer_id = world.state.add_customer(world.realm, customer("Globex Corporation"))
    item = await client.find_or_create_service_item(ITEM, income_account_id=world.account)
    invoice = await client.create_invoice(draft(customer_id, item.id), request_id="tb-inv_7-1")
    return customer_id, invoice
