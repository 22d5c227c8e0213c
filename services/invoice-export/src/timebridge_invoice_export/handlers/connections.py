"""Connecting an accounting tool: OAuth2 authorization code, company choice, disconnect.

The admin starts at :meth:`Connections.authorize` (Timebridge remembers a one-time ``state``),
consents in the tool, and the tool redirects the browser to :meth:`Connections.complete` with a
code, which is exchanged at once (codes live minutes). The tokens go straight to their one owner,
the credentials service (:class:`~timebridge_providers.kit.credentials.CredentialKeeper`); this
service keeps none. Every API call takes its bearer from the owner right before, which refreshes
under its lock and saves the rotated refresh token before handing out the new access token.
"""

import datetime as dt
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import structlog
from timebridge_providers.kit.credentials import (
    CredentialKeeper,
    NeedsReauthorisationError,
    UnknownCredentialError,
)

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_common.outbound.oauth import ReauthorizationNeededError
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
from timebridge_invoice_export.handlers.stores import Store, Tx

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
        credentials: CredentialKeeper,
        *,
        public_base_url: str,
        state_ttl_s: int,
        clock: Clock,
    ) -> None:
        self._store = store
        self._tools = tools
        self._credentials = credentials
        self._base = public_base_url.rstrip("/")
        self._state_ttl = dt.timedelta(seconds=state_ttl_s)
        self._clock = clock
        self.on_connected: Callable[[], None] = lambda: None
        """Called after a company was connected (the poller then mirrors its clients)."""

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
        async with self._store.tx() as tx:
            existing = (
                None
                if chosen is None
                else await tx.connection_for_tenant(started.workspace_id, provider, chosen.id)
            )
        connection_id = existing.connection_id if existing else new_connection_id()
        # The owner keeps the tokens before the connection says "connected": a retried callback
        # is refused (its state is spent) and the admin connects again, replacing them.
        try:
            await self._credentials.put_tokens(
                started.workspace_id, connection_id, provider, tokens
            )
        except (TransientError, InvalidMessageError) as exc:
            raise UpstreamError(f"the credentials service did not keep {name}'s tokens") from exc
        now = self._clock()
        async with self._store.tx() as tx:
            await tx.save_connection(
                connection_id=connection_id,
                workspace_id=started.workspace_id,
                provider=provider,
                status="connected" if chosen else "choose_tenant",
                tenant_id=chosen.id if chosen else None,
                tenant_name=chosen.name if chosen else None,
                tenants=tenants,
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
        revives that connection (its clients and invoices) with the new tokens, which the
        credential owner then keeps under that connection's id."""
        async with self._store.tx() as tx:
            pending = await self._get(tx, workspace_id, connection_id, lock=True)
            if pending.status != "choose_tenant":
                raise ConflictError(f"connection {connection_id} is {pending.status}")
            tenant = choose(pending.tenants, tenant_id)
            if tenant is None:
                offered = ", ".join(f"{t.name} ({t.id})" for t in pending.tenants)
                raise InvalidError(f"{tenant_id} was not offered; choose one of: {offered}")
            existing = await tx.connection_for_tenant(workspace_id, pending.provider, tenant.id)
            target = existing.connection_id if existing else connection_id
            if existing:
                # Moved before the pending row goes: a failed move leaves it to choose again.
                await self._credentials.move(workspace_id, connection_id, target)
                await tx.delete_connection(connection_id)
            await tx.save_connection(
                connection_id=target,
                workspace_id=workspace_id,
                provider=pending.provider,
                status="connected",
                tenant_id=tenant.id,
                tenant_name=tenant.name,
                tenants=pending.tenants,
                connected_by="",
                now=self._clock(),
            )
            connection = await tx.connection(target)
        assert connection is not None
        self.on_connected()
        return connection

    async def disconnect(self, workspace_id: str, connection_id: str) -> AccountingConnection:
        """Have the owner forget the tokens and stop syncing; mirrored clients and invoices stay
        as history."""
        async with self._store.tx() as tx:
            connection = await self._get(tx, workspace_id, connection_id, lock=True)
            # Forgotten first: the owner unavailable, the disconnect fails and is asked again.
            await self._credentials.delete(workspace_id, connection_id)
            if connection.status != "disconnected":
                await tx.set_connection_status(
                    connection_id, "disconnected", self._clock(), forget_webhooks=True
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
        """A client of the connection's company, with an access token from the credential owner.

        A refused consent (the owner's "needs re-authorisation", or the tool refusing the access
        token, which is reported to the owner) marks the connection ``needs_reauthorization``
        and raises :class:`ToolUnusableError`; the owner unavailable is a ``TransientError``
        (retried); everything else passes through."""
        if connection.status != "connected" or connection.tenant_id is None:
            raise ToolUnusableError(
                f"{title(connection.provider)} connection {connection.connection_id}"
                f" is {connection.status}"
            )
        target = ToolConnection(connection.connection_id, connection.provider, connection.tenant_id)
        workspace_id, connection_id = connection.workspace_id, connection.connection_id
        try:
            access = await self._credentials.access(workspace_id, connection_id)
        except NeedsReauthorisationError as exc:
            raise await self._refused(connection, exc) from exc
        except UnknownCredentialError as exc:
            raise ToolUnusableError(
                f"the credential owner holds no tokens of connection {connection_id}"
            ) from exc
        tool = self._tools.tool(target, access.credential)
        try:
            yield tool
        except (ReauthorizationNeededError, AuthenticationError) as exc:
            # The owner refreshes on the next access; a refused grant then shows there too.
            with suppress(UnknownCredentialError):
                await self._credentials.refused(workspace_id, connection_id, str(exc)[:500])
            raise await self._refused(connection, exc) from exc
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
