"""Xero's own Python SDK (xero-python) against the Xero sandbox on a loopback server, every
Accounting request and answer checked against Xero's OpenAPI file: the world the
``test_xero_sdk*`` modules share (imported as ``sandboxes.tests.xero_sdk_world``, see this
folder's conftest).
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from xero_python.accounting import (  # type: ignore[import-untyped]
    AccountingApi,
    Contact,
    Contacts,
    Invoice,
    Invoices,
    LineItem,
)
from xero_python.api_client import ApiClient, Configuration  # type: ignore[import-untyped]
from xero_python.api_client.oauth2 import OAuth2Token  # type: ignore[import-untyped]
from xero_python.exceptions import (  # type: ignore[import-untyped]
    ApiException,
)
from xero_python.identity import IdentityApi  # type: ignore[import-untyped]

from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import provider_specs, serve_in_thread
from timebridge_sandboxes.xero import XeroState, create_xero_sandbox
from timebridge_sandboxes.xero.spec import ACCOUNTING_SPEC, SpecChecked

SPECS = provider_specs()
NEEDS_SPECS = pytest.mark.skipif(
    not (SPECS / ACCOUNTING_SPEC).exists(), reason=f"Xero's OpenAPI files are not in {SPECS}"
)
CLIENT_ID, CLIENT_SECRET = "sdk-client-71c2", "sdk-secret-4be0"
REDIRECT = "http://127.0.0.1:9/callback"
SCOPES = [
    "offline_access",
    "accounting.transactions",
    "accounting.contacts",
    "accounting.settings.read",
]
HOOK_URL, HOOK_KEY = "http://receiver.test/xero", "hook-key-5d1f"


@dataclass
class World:
    base: str
    state: XeroState
    tenant: str
    checked: SpecChecked
    tokens: dict[str, Any]
    client: ApiClient
    accounting: AccountingApi
    identity: IdentityApi
    hooks: list[tuple[bytes, str]] = field(default_factory=list)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10)

    def bearer(self, tenant: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens['access_token']}",
            "xero-tenant-id": tenant or self.tenant,
            "Accept": "application/json",
        }

    def exchanges(self, path: str) -> list[Any]:
        return [e for e in self.checked.exchanges if e.path == path]


def connect(base: str) -> dict[str, Any]:
    """The user consents in the browser; the app exchanges the code (Basic client auth)."""
    with httpx.Client(base_url=base, timeout=10) as http:
        consent = http.get(
            "/identity/connect/authorize",
            params={
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT,
                "scope": " ".join(SCOPES),
                "state": "s1",
            },
        )
        code = httpx.URL(consent.headers["location"]).params["code"]
        answer = http.post(
            "/connect/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        answer.raise_for_status()
        tokens: dict[str, Any] = answer.json()
        return tokens


def sdk_of(base: str, tokens: dict[str, Any]) -> tuple[ApiClient, AccountingApi, IdentityApi]:
    # xero-python keeps the first Configuration ever built as a default and hands out
    # copies of it, ignoring later arguments: forget it, so this one's credentials count.
    Configuration.set_default(None)
    client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)),
        pool_threads=1,
    )
    client.oauth2_token_getter(lambda: {**tokens, "scope": SCOPES})
    client.oauth2_token_saver(tokens.update)
    return client, AccountingApi(client, base_url=f"{base}/api.xro/2.0"), IdentityApi(client, base)


@pytest.fixture
def make_world() -> Iterator[Callable[..., World]]:
    worlds: list[World] = []
    with_servers: list[Any] = []

    def make(rate_limit: RateLimit | None = None) -> World:
        state = XeroState()
        state.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT])
        tenant = state.add_tenant("Demo Company (Global)")
        hooks: list[tuple[bytes, str]] = []

        async def receive(request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            signature = request.headers.get("x-xero-signature", "")
            mac = hmac.new(HOOK_KEY.encode(), body, hashlib.sha256).digest()
            if not hmac.compare_digest(base64.b64encode(mac).decode(), signature):
                return httpx.Response(401)
            hooks.append((body, signature))
            return httpx.Response(200)

        app = create_xero_sandbox(
            state, rate_limit=rate_limit, webhook_transport=httpx.MockTransport(receive)
        )
        checked = SpecChecked(app, SPECS)
        server = serve_in_thread(checked)
        base = server.__enter__()
        with_servers.append(server)
        tokens = connect(base)
        client, accounting, identity = sdk_of(base, tokens)
        world = World(base, state, tenant, checked, tokens, client, accounting, identity, hooks)
        worlds.append(world)
        return world

    try:
        yield make
    finally:
        for server in reversed(with_servers):
            server.__exit__(None, None, None)
    for world in worlds:
        assert world.checked.problems == []


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


def error_body(exc: ApiException) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(exc.body)
    return found


def new_customer(world: World, name: str) -> Any:
    created = world.accounting.create_contacts(
        world.tenant, Contacts(contacts=[Contact(name=name)])
    )
    return created.contacts[0]


def new_invoice(
    world: World, contact_id: str, *, status: str = "DRAFT", amount: float = 100
) -> Any:
    line = LineItem(description="Consulting", quantity=2.0, unit_amount=amount / 2)
    line.account_code = "200"
    invoice = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact_id),
        date=dt.date(2026, 11, 20),
        due_date=dt.date(2026, 12, 20),
        line_items=[line],
        status=status,
        reference="PO-1",
    )
    return world.accounting.create_invoices(world.tenant, Invoices(invoices=[invoice])).invoices[0]
