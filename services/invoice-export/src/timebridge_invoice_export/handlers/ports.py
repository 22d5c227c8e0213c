"""What the invoice-export handlers need from the accounting tools.

One :class:`AccountingTool` per connection (a company in one tool) and one :class:`OAuthFlow`
per tool, both built by :class:`AccountingTools` (``adapters/tools.py`` in production; tests
point it at the sandboxes). The handlers see only ``domain.accounting`` types.
"""

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from timebridge_common.outbound.oauth import TokenEndpoint, Tokens
from timebridge_invoice_export.domain.accounting import (
    ExportDraft,
    Provider,
    Tenant,
    ToolChanges,
    ToolClient,
    ToolInvoice,
)

Clock = Callable[[], dt.datetime]
"""Now, in UTC (tests pass their own)."""

AccessToken = Callable[[], Awaitable[str]]
"""Returns an access token valid for a while (``TokenManager.access_token``)."""


@dataclass(frozen=True, slots=True)
class ToolConnection:
    """Which company of which tool a client acts in."""

    connection_id: str
    provider: Provider
    tenant_id: str
    """QuickBooks realm id, Xero tenant id, FreshBooks accounting account id."""


class AccountingTool(Protocol):
    """One connected company. Errors: ``AuthenticationError`` (token refused),
    ``ProviderError`` (refusals, with the tool's answer), ``TransientError`` (unreachable,
    rate limited beyond the client's patience)."""

    async def active_clients(self) -> list[ToolClient]:
        """Every active customer: the first mirror after connecting."""
        ...

    async def client(self, external_id: str) -> ToolClient | None:
        """The customer now; None if the tool no longer has it at all."""
        ...

    async def changes(self, since: dt.datetime) -> ToolChanges:
        """Customers (archived ones too) and invoices changed since ``since``."""
        ...

    async def invoice(self, external_id: str) -> ToolInvoice:
        """The invoice now; a deleted one comes back with status ``deleted``."""
        ...

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        """Create ``draft`` as a draft invoice, at most once per ``draft.invoice_id``: a repeat
        (after a timeout, a crash, a redelivery) returns the invoice made the first time."""
        ...

    async def ensure_webhooks(self, url: str) -> list[str]:
        """Register the tool's webhooks for this company at ``url`` if the tool registers them
        per company (FreshBooks callbacks); QuickBooks and Xero configure them per app.
        Returns the ids of the registrations now awaiting their verification (FreshBooks:
        created, or asked to post their verifier again)."""
        ...

    async def verify_webhook_registration(self, registration_id: str, verifier: str) -> None:
        """Confirm a registration with the verifier the tool posted (FreshBooks)."""
        ...

    async def aclose(self) -> None: ...


class OAuthFlow(Protocol):
    """One tool's authorization-code flow."""

    provider: Provider
    endpoint: TokenEndpoint
    """Exchanges codes and refreshes tokens (for the ``TokenManager``)."""

    def authorize_url(self, redirect_uri: str, state: str) -> str: ...

    async def tenants(self, tokens: Tokens, callback: Mapping[str, str]) -> list[Tenant]:
        """The companies the consent gave access to (QuickBooks: the ``realmId`` of the
        callback; Xero: ``GET /connections``; FreshBooks: the identity's businesses)."""
        ...


class AccountingTools(Protocol):
    def oauth(self, provider: Provider, redirect_uri: str) -> OAuthFlow:
        """Raises ``NotConfiguredError`` if the platform has no app at that tool."""
        ...

    def tool(self, connection: ToolConnection, access_token: AccessToken) -> AccountingTool: ...


class NotConfiguredError(Exception):
    """The platform has no app registered at that tool (no client id and secret)."""
