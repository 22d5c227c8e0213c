"""Connecting an accounting tool: OAuth2 authorization code, company choice, disconnect.

The admin starts at :meth:`Connections.authorize` (Timebridge remembers a one-time ``state``),
consents in the tool, and the tool redirects the browser to :meth:`Connections.complete` with a
code, which is exchanged at once (codes live minutes). The tokens are sealed with the platform key
before they are stored; from then on every API call takes its bearer from the connection's
:class:`~timebridge_common.outbound.oauth.TokenManager`, which refreshes under the connection's
row lock and saves the rotated refresh token before using the new access token.
"""

import datetime as dt
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_common.outbound.oauth import ReauthorizationNeededError, TokenManager
from timebridge_common.refusals import ConflictError, InvalidError, NotFoundError, UpstreamError
from timebridge_invoice_export.domain.accounting import title
from timebridge_invoice_export.domain.connections import (
    AccountingConnection,
    OAuthState,
    choose,
    new_connection_id,
)
from timebridge_invoice_export.handlers.ports import (
    AccountingTool,
    AccountingTools,
    Clock,
    Consent,
    NotConfiguredError,
    ToolConnection,
)
from timebridge_invoice_export.handlers.stores import NoTokensError, Store, StoreTokens, Tx

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Authorization:
    authorize_url: str
    state: str
    redirect_uri: str
    expires_at: dt.datetime


class ToolUnusableError(Exception):
    """The connection cannot be used (disconnected, or the tool wants a new consent)."""


class Connections:
    def __init__(
        self,
        store: Store,
        tools: AccountingTools,
        *,
        public_base_url: str,
        state_ttl_s: int,
        clock: Clock,
    ) -> None:
        self._store = store
        self._tools = tools
        self._base = public_base_url.rstrip("/")
        self._state_ttl = dt.timedelta(seconds=state_ttl_s)
        self._clock = clock
        self.on_connected: Callable[[], None] = lambda: None
        """Called after a company was connected (the poller then mirrors its clients)."""
        self._tokens = StoreTokens(store, clock)
        self._managers: dict[str, TokenManager] = {}

    def redirect_uri(self, provider: str) -> str:
        return f"{self._base}/v1/oauth/{provider}/callback"

    async def authorize(self, workspace_id: str, provider: str, admin: str) -> Authorization:
        flow = self._flow(provider)
        state = secrets.token_urlsafe(24)
        redirect = self.redirect_uri(provider)
        expires_at = self._clock() + self._state_ttl
        async with self._store.tx() as tx:
            await tx.add_oauth_state(
                state, OAuthState(workspace_id, provider, redirect, admin), expires_at
            )
        return Authorization(flow.authorize_url(redirect, state), state, redirect, expires_at)

    async def complete(self, provider: str, params: Mapping[str, str]) -> AccountingConnection:
        """The tool's redirect: spend the state, exchange the code, find the companies."""
        name = title(provider)
        if "error" in params:
            detail = params.get("error_description") or params["error"]
            raise InvalidError(f"{name} did not authorise Timebridge: {detail}")
        state, code = params.get("state"), params.get("code")
        if not state or not code:
            raise InvalidError("the callback needs code and state")
        async with self._store.tx() as tx:
            started = await tx.use_oauth_state(state, provider, self._clock())
        if started is None:
            raise InvalidError("unknown, used or expired state: start connecting again")
        flow = self._flow(provider)
        try:
            tokens = await flow.endpoint.exchange_code(code, started.redirect_uri)
            tenants = tuple(await flow.tenants(tokens, params))
        except ReauthorizationNeededError as exc:
            raise InvalidError(f"{name} refused the code: start connecting again") from exc
        except (ProviderError, TransientError) as exc:
            raise UpstreamError(f"{name} could not complete the connection: {exc}") from exc
        if not tenants:
            raise InvalidError(f"{name} gave access to no company")
        chosen = choose(tenants, None)
        now = self._clock()
        async with self._store.tx() as tx:
            existing = (
                None
                if chosen is None
                else await tx.connection_for_tenant(started.workspace_id, provider, chosen.id)
            )
            connection_id = existing.connection_id if existing else new_connection_id()
            await tx.save_connection(
                connection_id=connection_id,
                workspace_id=started.workspace_id,
                provider=provider,
                status="connected" if chosen else "choose_tenant",
                tenant_id=chosen.id if chosen else None,
                tenant_name=chosen.name if chosen else None,
                tenants=tenants,
                tokens=tokens,
                connected_by=started.requested_by,
                now=now,
            )
            connection = await tx.connection(connection_id)
        assert connection is not None
        log.info(
            "accounting tool connected",
            connection_id=connection_id,
            provider=provider,
            status=connection.status,
        )
        if chosen:
            self.on_connected()
        return connection

    async def choose_tenant(
        self, workspace_id: str, connection_id: str, tenant_id: str
    ) -> AccountingConnection:
        """Pick the company of a consent that offered several. Choosing one connected before
        revives that connection (its clients and invoices) with the new tokens."""
        async with self._store.tx() as tx:
            pending = await self._get(tx, workspace_id, connection_id, lock=True)
            if pending.status != "choose_tenant":
                raise ConflictError(f"connection {connection_id} is {pending.status}")
            tenant = choose(pending.tenants, tenant_id)
            if tenant is None:
                offered = ", ".join(f"{t.name} ({t.id})" for t in pending.tenants)
                raise InvalidError(f"{tenant_id} was not offered; choose one of: {offered}")
            tokens = await tx.tokens(connection_id, lock=True)
            existing = await tx.connection_for_tenant(workspace_id, pending.provider, tenant.id)
            target = existing.connection_id if existing else connection_id
            if existing:
                await tx.delete_connection(connection_id)
            await tx.save_connection(
                connection_id=target,
                workspace_id=workspace_id,
                provider=pending.provider,
                status="connected",
                tenant_id=tenant.id,
                tenant_name=tenant.name,
                tenants=pending.tenants,
                tokens=tokens,
                connected_by="",
                now=self._clock(),
            )
            connection = await tx.connection(target)
        assert connection is not None
        self.on_connected()
        return connection

    async def disconnect(self, workspace_id: str, connection_id: str) -> AccountingConnection:
        """Wipe the tokens and stop syncing; mirrored clients and invoices stay as history."""
        async with self._store.tx() as tx:
            connection = await self._get(tx, workspace_id, connection_id, lock=True)
            if connection.status != "disconnected":
                await tx.set_connection_status(
                    connection_id, "disconnected", self._clock(), wipe_tokens=True
                )
            gone = await tx.connection(connection_id)
        assert gone is not None
        log.info("accounting tool disconnected", connection_id=connection_id)
        return gone

    async def list(self, workspace_id: str) -> list[AccountingConnection]:
        async with self._store.tx() as tx:
            return await tx.connections(workspace_id)

    async def get(self, workspace_id: str, connection_id: str) -> AccountingConnection:
        async with self._store.tx() as tx:
            return await self._get(tx, workspace_id, connection_id)

    @asynccontextmanager
    async def tool(self, connection: AccountingConnection) -> AsyncIterator[AccountingTool]:
        """A client of the connection's company. A refused consent (the refresh token, or the
        access token itself) marks the connection ``needs_reauthorization`` and raises
        :class:`ToolUnusableError`; everything else passes through."""
        if connection.status != "connected" or connection.tenant_id is None:
            raise ToolUnusableError(
                f"{title(connection.provider)} connection {connection.connection_id}"
                f" is {connection.status}"
            )
        manager = self._manager(connection.provider)
        target = ToolConnection(connection.connection_id, connection.provider, connection.tenant_id)
        try:
            token = await manager.valid(connection.connection_id)
        except (ReauthorizationNeededError, AuthenticationError) as exc:
            raise await self._refused(connection, exc) from exc
        except NoTokensError as exc:
            raise ToolUnusableError(str(exc)) from exc
        tool = self._tools.tool(target, token)
        try:
            yield tool
        except (ReauthorizationNeededError, AuthenticationError) as exc:
            raise await self._refused(connection, exc) from exc
        except NoTokensError as exc:
            raise ToolUnusableError(str(exc)) from exc
        finally:
            await tool.aclose()

    async def _refused(self, connection: AccountingConnection, exc: Exception) -> ToolUnusableError:
        """Mark the connection ``needs_reauthorization``: the tool refused its consent."""
        reason = (
            f"{title(connection.provider)} no longer accepts Timebridge's"
            f" authorisation ({exc}): connect it again"
        )
        async with self._store.tx() as tx:
            await tx.set_connection_status(
                connection.connection_id, "needs_reauthorization", self._clock(), error=reason
            )
        return ToolUnusableError(reason)

    def _manager(self, provider: str) -> TokenManager:
        manager = self._managers.get(provider)
        if manager is None:
            endpoint = self._flow(provider).endpoint
            manager = self._managers[provider] = TokenManager(
                endpoint, self._tokens, clock=self._clock
            )
        return manager

    def _flow(self, provider: str) -> Consent:
        if provider not in self._tools.names():
            offered = ", ".join(sorted(self._tools.names()))
            raise NotFoundError(f"no accounting tool {provider!r} (tools: {offered})")
        try:
            return self._tools.oauth(provider, self.redirect_uri(provider))
        except NotConfiguredError as exc:
            raise ConflictError(str(exc)) from exc

    async def _get(
        self, tx: Tx, workspace_id: str, connection_id: str, *, lock: bool = False
    ) -> AccountingConnection:
        connection = await tx.connection(connection_id, lock=lock)
        if connection is None or connection.workspace_id != workspace_id:
            raise NotFoundError(f"no accounting connection {connection_id} in {workspace_id}")
        return connection
