"""What the invoice-export handlers need from the accounting tools.

One :class:`AccountingTool` per connection (a company in one tool) and one
:class:`~timebridge_providers.kit.ports.accounting.Consent` per tool, both opened by
:class:`AccountingTools` (``adapters/tools.py`` in production, on the registry's accounting
providers; tests point it at the sandboxes or at the in-memory fake). The handlers see only the
accounting port's types and name a tool by its registry name.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from timebridge_providers.kit.ports.accounting import (
    AccountingTool,
    Consent,
    NotConfiguredError,
    WebhookSpec,
)

__all__ = [
    "AccountingTool",
    "AccountingTools",
    "Clock",
    "Consent",
    "NotConfiguredError",
    "ToolConnection",
    "WebhookSpec",
]

Clock = Callable[[], dt.datetime]
"""Now, in UTC (tests pass their own)."""


@dataclass(frozen=True, slots=True)
class ToolConnection:
    """Which company of which tool a client acts in."""

    connection_id: str
    provider: str
    tenant_id: str
    # The company's id in the tool (QuickBooks realm, Xero tenant, FreshBooks account).


class AccountingTools(Protocol):
    def names(self) -> frozenset[str]:
        """The accounting tools that may be connected."""
        ...

    def oauth(self, provider: str, redirect_uri: str) -> Consent:
        """Raises ``NotConfiguredError`` if the platform has no app at that tool."""
        ...

    def webhooks(self, provider: str) -> WebhookSpec | None:
        """How the tool delivers webhooks; None if it is unknown or sends none."""
        ...

    def webhook_secret(self, provider: str) -> str:
        """The app's secret for per-app webhooks; empty when not configured."""
        ...

    def tool(self, connection: ToolConnection, access_token: str) -> AccountingTool:
        """The tool of the connection's company, acting with a current access token."""
        ...
