"""The FreshBooks sandbox and Timebridge's client on fake time, shared by
``test_freshbooks_client*`` (imported as ``libs.providers.tests.freshbooks_world``, see this
folder's conftest).
"""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.freshbooks.client import FreshBooksClient
from timebridge_providers.freshbooks.oauth import FreshBooksTokens
from timebridge_providers.freshbooks.wire import (
    SIGNATURE_HEADER,
    InvoiceDraft,
    Line,
    Money,
    WebhookDelivery,
)

from timebridge_common.outbound.http import (
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import Tokens
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.freshbooks import RATE_LIMIT, FreshBooksState, create_freshbooks_sandbox
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport, Traffic

CLIENT_ID, CLIENT_SECRET = "fb-app-7c1", "fb-secret-93e"
REDIRECT = "https://timebridge.test/oauth/freshbooks/callback"
BASE = "http://freshbooks.test"
HOOK = "http://receiver.test/hooks/freshbooks/4f0a"
DAY = dt.date(2026, 11, 20)
HOUR = 3600.0


class MemoryTokenStore:
    """A :class:`~timebridge_common.outbound.oauth.TokenStore` in a dict, one lock for all."""

    def __init__(self, tokens: dict[str, Tokens]) -> None:
        self.tokens = tokens
        self._lock = asyncio.Lock()

    async def load(self, connection_id: str) -> Tokens:
        return self.tokens[connection_id]

    @asynccontextmanager
    async def locked(self, connection_id: str) -> AsyncIterator["_Slot"]:
        async with self._lock:
            yield _Slot(self, connection_id)


class _Slot:
    def __init__(self, store: MemoryTokenStore, connection_id: str) -> None:
        self.store = store
        self.connection_id = connection_id
        self.tokens = store.tokens[connection_id]

    async def save(self, new: Tokens) -> None:
        self.store.tokens[self.connection_id] = new


class Receiver:
    """Timebridge's side of FreshBooks webhooks: keeps each form (in order) and its signature."""

    def __init__(self) -> None:
        self.posts: list[tuple[list[tuple[str, str]], str | None]] = []
        self.arrived = asyncio.Event()
        self.app = Starlette(
            routes=[Route("/hooks/freshbooks/{token}", self.hook, methods=["POST"])]
        )

    async def hook(self, request: Request) -> Response:
        fields = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        self.posts.append((fields, request.headers.get(SIGNATURE_HEADER)))
        self.arrived.set()
        return Response(status_code=200)

    def verifications(self) -> list[WebhookDelivery]:
        return [d for d in self.parsed() if d.verifier is not None]

    def events(self) -> list[tuple[WebhookDelivery, list[tuple[str, str]], str | None]]:
        return [
            (WebhookDelivery.model_validate(dict(fields)), fields, signature)
            for fields, signature in self.posts
            if "verifier" not in dict(fields)
        ]

    def parsed(self) -> list[WebhookDelivery]:
        return [WebhookDelivery.model_validate(dict(fields)) for fields, _ in self.posts]


def constant_token(token: str) -> Callable[[], Awaitable[str]]:
    async def get() -> str:
        return token

    return get


@dataclass
class World(Traffic):
    state: FreshBooksState
    faults: Faults
    fake: FakeTime
    receiver: Receiver
    sandbox: ASGIApp
    account: str
    employee_account: str
    foreign_account: str
    identity: int
    customer: int

    def transport(self, timeout_s: float | None = None) -> httpx.AsyncBaseTransport:
        if timeout_s is None:
            return httpx.ASGITransport(self.sandbox)
        return TimeoutTransport(self.sandbox, timeout_s)

    def budget(self, limit: int = RATE_LIMIT[0]) -> RequestBudget:
        return RequestBudget(limit, RATE_LIMIT[1], clock=self.fake.clock, sleep=self.fake.sleep)

    def retry(self) -> RetryPolicy:
        return RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow)

    def client(
        self,
        token: Callable[[], Awaitable[str]] | None = None,
        *,
        account: str | None = "",
        limit: int = RATE_LIMIT[0],
        timeout_s: float | None = None,
    ) -> FreshBooksClient:
        """A client of the main account ("" ) with a freshly issued token unless told otherwise."""
        if token is None:
            token = constant_token(self.state.issue_tokens(self.identity)["access_token"])
        return FreshBooksClient(
            BASE,
            self.account if account == "" else account,
            token,
            http=self.recording_client(self.transport(timeout_s)),
            budget=self.budget(limit),
            retry=self.retry(),
        )

    def tokens(self, secret: str = CLIENT_SECRET) -> FreshBooksTokens:
        return FreshBooksTokens(
            CLIENT_ID,
            secret,
            redirect_uri=REDIRECT,
            base_url=BASE,
            http=self.recording_client(self.transport()),
            budget=self.budget(),
            retry=self.retry(),
            clock=self.fake.utcnow,
        )

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport(), base_url=f"{BASE}/_sandbox")

    def draft(self, reference: str = "tb-inv-42", qty: str = "1.5") -> InvoiceDraft:
        cost = Money(amount=Decimal("120.00"), code="USD")
        line = Line(
            name="Website", description="T-1 Fix the login page", qty=Decimal(qty), unit_cost=cost
        )
        return InvoiceDraft(
            customerid=self.customer,
            create_date=DAY,
            currency_code="USD",
            po_number=reference,
            lines=(line,),
            notes="Exported by Timebridge",
        )


def new_world() -> World:
    fake, receiver, faults = FakeTime(), Receiver(), Faults(clock=FakeTime().clock)
    faults.clock = fake.clock
    state = FreshBooksState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, now=fake.utcnow)
    account = state.add_business("Acme Studio")
    employee_account = state.add_business("Bayern Corporation")
    foreign_account = state.add_business("Somebody Else")
    identity = state.add_identity(
        "Ann", "Admin", "ann@acme.test", {account: "owner", employee_account: "business_employee"}
    )
    state.add_identity("Sam", "Other", "sam@else.test", {foreign_account: "owner"})
    customer = state.add_client(
        account,
        fname="Gordon",
        lname="Shumway",
        organization="American Cyanamid",
        email="gordon@cyanamid.test",
        p_street="123 Huron St",
        p_city="Toronto",
        p_code="M5T 2B3",
        p_province="ON",
        p_country="Canada",
        currency_code="USD",
    )
    sandbox = create_freshbooks_sandbox(
        state,
        faults,
        rate_limit=RateLimit(*RATE_LIMIT, clock=fake.clock),
        webhook_transport=httpx.ASGITransport(receiver.app),
    )
    return World(
        state,
        faults,
        fake,
        receiver,
        sandbox,
        account,
        employee_account,
        foreign_account,
        identity,
        customer,
    )
