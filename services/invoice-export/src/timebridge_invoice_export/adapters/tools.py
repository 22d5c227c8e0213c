"""The accounting tools in production: every installed accounting provider, from the registry.

:class:`ProductionTools` opens, per connection, the provider's
:class:`~timebridge_providers.kit.ports.accounting.AccountingTool` on a
:class:`~timebridge_providers.kit.session.Session` and, per tool, its OAuth consent. The provider
packages (``timebridge_providers.<name>``) hold everything tool-specific: wire models, the
translation into the port's types, how a draft is created exactly once, how changes are read,
how webhooks are signed. This module only chooses the app registration, the pool and the budget:

- **Rate limits are the tool's, per company, whatever the number of clients.** Every session
  built in this process for one company draws from one
  :class:`~timebridge_common.outbound.http.RequestBudget` of the shared
  :class:`~timebridge_common.outbound.http.Budgets`, keyed by the company (the access token
  changes with each refresh, the company's limit does not), with the profile's limit.
- **One connection pool** per tool for every company, unless tests give their own (``http``).
"""

import datetime as dt
from collections.abc import Callable, Mapping

import httpx
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.accounting import (
    TENANT,
    Accounting,
    AccountingTool,
    AppRegistration,
    Consent,
    ConsentContext,
    NotConfiguredError,
    ToolOptions,
    WebhookSpec,
    accounting_of,
)
from timebridge_providers.kit.session import Access, Session

from timebridge_common.outbound.http import DEFAULT_RETRY, Budgets, RetryPolicy
from timebridge_invoice_export.config import AccountingApp, Settings
from timebridge_invoice_export.domain.accounting import title
from timebridge_invoice_export.handlers.ports import Clock, ToolConnection

HttpFactory = Callable[[str], httpx.AsyncClient]
"""The HTTP client of a tool's requests, by provider name (tests: a transport to a sandbox)."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def accounting(provider: str) -> Accounting:
    """The accounting capability of an installed provider (``NotConfiguredError`` if none)."""
    found = accounting_of(registry().get(provider)) if provider in registry() else None
    if found is None:
        raise NotConfiguredError(f"{provider!r} is not an installed accounting tool")
    return found


def accounting_names() -> frozenset[str]:
    """Every installed accounting tool."""
    return frozenset(p.name for p in registry() if accounting_of(p) is not None)


class ProductionTools:
    """The :class:`~timebridge_invoice_export.handlers.ports.AccountingTools` of the service.

    Built from the :class:`~timebridge_invoice_export.config.Settings` (its apps and each tool's
    extras) or from the apps by provider name. ``budgets`` should be the process's one
    :class:`~timebridge_common.outbound.http.Budgets`, so that every client of a company draws
    from the same request budget.
    """

    def __init__(
        self,
        config: Settings | Mapping[str, AccountingApp],
        *,
        extras: Mapping[str, Mapping[str, str]] | None = None,
        http: HttpFactory | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = _utcnow,
        budgets: Budgets | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if isinstance(config, Settings):
            self._apps = dict(config.accounting_apps())
            self._extras = {k: dict(v) for k, v in config.tool_extras().items()}
        else:
            self._apps = dict(config)
            self._extras = {}
        for name, more in (extras or {}).items():
            self._extras[name] = {**self._extras.get(name, {}), **more}
        self._http = http
        self._shared: httpx.AsyncClient | None = None
        self._options = ToolOptions(retry=retry or DEFAULT_RETRY, timeout_s=timeout_s, clock=clock)
        self._budgets = budgets or Budgets()

    def names(self) -> frozenset[str]:
        """The accounting tools this service can connect (installed, with an app entry)."""
        return accounting_names() & self._apps.keys()

    def oauth(self, provider: str, redirect_uri: str) -> Consent:
        app = self._app(provider)
        if not app.configured:
            prefix = f"TB_{provider.upper()}"
            name = title(provider)
            raise NotConfiguredError(
                f"{name} is not configured: set {prefix}__CLIENT_ID and"
                f" {prefix}__CLIENT_SECRET to the app registered at {name}"
            )
        context = ConsentContext(
            app=AppRegistration(
                client_id=app.client_id,
                client_secret=app.client_secret.get_secret_value(),
                api_url=app.api_url,
                authorize_url=app.authorize_url,
                token_url=app.token_url,
            ),
            redirect_uri=redirect_uri,
            http=self._client(provider),
            retry=self._options.retry,
            clock=self._options.clock,
            timeout_s=self._options.timeout_s,
        )
        try:
            return accounting(provider).consent(context)
        except NotConfiguredError as exc:
            raise NotConfiguredError(f"{title(provider)}: {exc}") from exc

    def webhooks(self, provider: str) -> WebhookSpec | None:
        """How the tool delivers webhooks; None if it sends none (or is not installed)."""
        if provider not in self.names():
            return None
        return accounting(provider).webhooks

    def webhook_secret(self, provider: str) -> str:
        """The app's webhook secret (per-app webhooks); empty when not configured."""
        app = self._apps.get(provider)
        return "" if app is None else app.webhook_secret.get_secret_value()

    def tool(self, connection: ToolConnection, access_token: str) -> AccountingTool:
        provider, tenant = connection.provider, connection.tenant_id
        base = self._app(provider).api_url
        limit = registry().get(provider).profile.rate_limit
        session = Session(
            provider,
            Access(base, access_token, {**self._extras.get(provider, {}), TENANT: tenant}),
            self._client(provider),
            self._budgets.get(provider, base, tenant, (limit.requests, limit.window_s)),
        )
        return accounting(provider).open(session, self._options)

    async def aclose(self) -> None:
        """Close the shared connection pool (clients given by ``http`` are the caller's)."""
        if self._shared is not None:
            await self._shared.aclose()
            self._shared = None

    def _app(self, provider: str) -> AccountingApp:
        app = self._apps.get(provider)
        if app is None or provider not in accounting_names():
            raise NotConfiguredError(f"{provider!r} is not an accounting tool Timebridge knows")
        return app

    def _client(self, provider: str) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http(provider)
        if self._shared is None:
            self._shared = httpx.AsyncClient()
        return self._shared
