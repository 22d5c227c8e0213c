"""The rig of ``test_tools_*``: one accounting sandbox, the production tools pointed at it on
fake time, and every request and answer they exchanged (a module of its own, on the path by this
folder's conftest, because the three tools' tests share it).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.types import ASGIApp

from timebridge_common.outbound.http import Budgets, RequestBudget, RetryPolicy
from timebridge_invoice_export.adapters.tools import ProductionTools
from timebridge_invoice_export.config import FRESHBOOKS, QUICKBOOKS, XERO, AccountingApp
from timebridge_invoice_export.domain.accounting import (
    ExportDraft,
    ExportLine,
)
from timebridge_invoice_export.handlers.ports import (
    AccountingTool,
    Consent,
    ToolConnection,
)
from timebridge_sandboxes.faults import Faults
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport

BASE = "http://tool.test"
REDIRECT = "https://timebridge.test/v1/oauth/callback"
HOOK = "http://timebridge.test/v1/webhooks/freshbooks"
DAY = dt.date(2026, 11, 20)
DUE = DAY + dt.timedelta(days=14)
START = FakeTime().utcnow()
INVOICE_ID = "inv_01JD7Q4W8M"
NOTE = "Timebridge invoice inv_01JD7Q4W8M, November"
TOTAL = Decimal("297.49")
"""1.5 h x 120.00 + 0.75 h x 99.99 (74.9925, rounded) + one 42.50 expense."""
UNCONFIGURED: dict[str, AccountingApp] = {
    "quickbooks": QUICKBOOKS,
    "xero": XERO,
    "freshbooks": FRESHBOOKS,
}


def draft(client_id: str, invoice_id: str = INVOICE_ID) -> ExportDraft:
    lines = (
        ExportLine(
            "T-42 Login page (Ann)",
            Decimal("1.50"),
            Decimal("120.00"),
            Decimal("180.00"),
            "time",
            DAY,
        ),
        ExportLine(
            "T-43 Code review (Bo)", Decimal("0.75"), Decimal("99.99"), Decimal("74.99"), "time"
        ),
        ExportLine("Train ticket", Decimal(1), Decimal("42.50"), Decimal("42.50"), "expense"),
    )
    return ExportDraft(
        invoice_id=invoice_id,
        client_external_id=client_id,
        issue_date=DAY,
        due_date=DUE,
        currency="USD",
        lines=lines,
        total=TOTAL,
        note=NOTE,
    )


class FakeBudgets(Budgets):
    """The process's budgets, one per key as in production, waiting on fake time."""

    def __init__(self, fake: FakeTime) -> None:
        super().__init__()
        self.fake = fake
        self.made: dict[tuple[str, str, str], RequestBudget] = {}

    def get(
        self, provider: str, base_url: str, credential: str, limit: tuple[int, float]
    ) -> RequestBudget:
        key = (provider, base_url, credential)
        if key not in self.made:
            self.made[key] = RequestBudget(*limit, clock=self.fake.clock, sleep=self.fake.sleep)
        return self.made[key]


@dataclass(kw_only=True)
class Rig:
    """One sandbox, the tools pointed at it, and every request and answer they exchanged."""

    provider: str
    app: AccountingApp
    fake: FakeTime
    faults: Faults
    sandbox: ASGIApp
    tenant: str
    sent: list[httpx.Request] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    budgets: FakeBudgets = field(init=False)

    def __post_init__(self) -> None:
        self.budgets = FakeBudgets(self.fake)

    def http(self, provider: str) -> httpx.AsyncClient:
        assert provider == self.provider

        async def on_request(request: httpx.Request) -> None:
            self.sent.append(request)

        async def on_response(response: httpx.Response) -> None:
            self.answers.append(response.status_code)

        return httpx.AsyncClient(
            transport=TimeoutTransport(self.sandbox, 2.0),
            event_hooks={"request": [on_request], "response": [on_response]},
        )

    def options(self) -> dict[str, Any]:
        return {
            "http": self.http,
            "retry": RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow),
            "clock": self.fake.utcnow,
            "budgets": self.budgets,
        }

    def tools(self, **options: Any) -> ProductionTools:
        apps = UNCONFIGURED | {self.provider: self.app}
        return ProductionTools(apps, **(self.options() | options))

    async def consent(self, flow: Consent, state: str = "st-1") -> dict[str, str]:
        """The admin is sent to the consent screen; the sandbox's user allows at once."""
        async with httpx.AsyncClient(transport=httpx.ASGITransport(self.sandbox)) as browser:
            answer = await browser.get(flow.authorize_url(REDIRECT, state))
        assert answer.status_code == 302, answer.text
        back = httpx.URL(answer.headers["location"])
        assert str(back.copy_with(query=None)) == REDIRECT
        return dict(back.params)

    async def connect(self, tools: ProductionTools | None = None) -> tuple[AccountingTool, str]:
        """Consent, code exchange, and the tool of the rig's company; and its access token."""
        tools = tools or self.tools()
        flow = tools.oauth(self.provider, REDIRECT)
        callback = await self.consent(flow)
        tokens = await flow.endpoint.exchange_code(callback["code"], REDIRECT)
        connection = ToolConnection("conn-1", self.provider, self.tenant)
        self.sent.clear()
        self.answers.clear()
        return tools.tool(connection, tokens.access_token), tokens.access_token

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """What a user does in the tool's screens (the sandbox's admin API)."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(self.sandbox), base_url=f"{BASE}/_sandbox"
        ) as api:
            answer = await api.request(method, path, json=body)
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def writes(self, method: str, path_end: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == method and r.url.path.endswith(path_end)]


def accounting_app(client_id: str, secret: str, authorize: str, token: str) -> AccountingApp:
    return AccountingApp(
        client_id=client_id,
        client_secret=SecretStr(secret),
        api_url=BASE,
        authorize_url=f"{BASE}{authorize}",
        token_url=f"{BASE}{token}",
    )


def fake_time_and_faults() -> tuple[FakeTime, Faults]:
    fake = FakeTime()
    return fake, Faults(clock=fake.clock)
