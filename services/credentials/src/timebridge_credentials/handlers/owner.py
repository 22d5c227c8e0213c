"""The credential owner's use cases: put, rotate, delete, hand out access, health.

Handing out an OAuth access token that is about to expire refreshes it first, the way
:mod:`timebridge_common.outbound.oauth` prescribes: one refresh per connection at a time
(an asyncio lock in this process, the row lock across processes; whoever waited re-reads the
winner's tokens), the rotated tokens saved and committed before the access token leaves, and a
refresh refused with ``invalid_grant`` recorded as "needs re-authorisation" and never retried.
The refresh token itself never leaves this service.
"""

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog
from timebridge_providers.kit.credentials import oauth_of
from timebridge_providers.kit.oauth import Consented, ConsentIncompleteError
from timebridge_providers.kit.registry import Registry, UnknownProviderError

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import ProviderError
from timebridge_common.outbound.oauth import ReauthorizationNeededError, Tokens
from timebridge_common.refusals import ConflictError, InvalidError, NotFoundError, UpstreamError
from timebridge_credentials.domain.credentials import (
    Grant,
    NewCredential,
    Secret,
    Status,
    decide,
    grant,
    kind_of,
    refusal,
)
from timebridge_credentials.handlers.ports import CredentialStore, Slot, TokenEndpoints

log = structlog.get_logger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class Consent:
    """A person's OAuth consent to a provider, come back as an authorization ``code`` (minutes
    to live) for the connection it is to be stored under."""

    workspace_id: str
    connection_id: str
    provider: str
    code: str = field(repr=False)
    redirect_uri: str
    base_url: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    returned: Mapping[str, str] = field(default_factory=dict)
    """The callback's parameters besides code and state (a data centre the consent named)."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CredentialOwner:
    def __init__(
        self,
        store: CredentialStore,
        endpoints: TokenEndpoints,
        registry: Registry,
        *,
        margin: dt.timedelta = dt.timedelta(minutes=5),
        clock: Clock = _utc_now,
    ) -> None:
        self._store = store
        self._endpoints = endpoints
        self._registry = registry
        self._margin = margin
        self._clock = clock
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def put(self, new: NewCredential) -> Status:
        """Store a connection's credential, or replace it (a new key, a new OAuth consent)."""
        self._check_kind(new.provider, new.secret)
        status = await self._store.put(new, self._clock())
        log.info(
            "credential stored",
            workspace_id=new.workspace_id,
            connection_id=new.connection_id,
            provider=new.provider,
            kind=new.kind,
            revision=status.revision,
        )
        return status

    def authorization(
        self, provider: str, state: str, redirect_uri: str | None = None
    ) -> tuple[str, str]:
        """Where a person consents to Timebridge's app at ``provider`` (the app's client id is
        this service's setting), and the redirect URI the code will be issued for: the one
        configured for the app, else the caller's."""
        self._check_kind(provider, Tokens("", "", self._clock()))
        return self._endpoints.authorization(provider, state, redirect_uri)

    async def exchange(self, consent: Consent) -> Status:
        """An OAuth consent's code, exchanged here where the app's client secret lives; the
        tokens are stored under the consent's connection and never leave. A code the provider
        refuses (spent, expired) is a 422; a provider without OAuth here too."""
        c = consent
        self._check_kind(c.provider, Tokens("", "", self._clock()))
        try:
            endpoint = self._endpoints.endpoint(c.provider, c.returned)
            tokens = await endpoint.exchange_code(c.code, c.redirect_uri)
        except ConsentIncompleteError as exc:  # a data centre that is not the provider's
            raise InvalidError(str(exc)) from exc
        except ReauthorizationNeededError as exc:
            raise InvalidError(f"the authorization code was refused: {exc.reason}") from exc
        except ProviderError as exc:  # wrong app credentials, an unexpected answer
            reason = f"{c.provider} token endpoint refused the code (HTTP {exc.status})"
            raise UpstreamError(reason) from exc
        consented = Consented(tokens.access_token, c.base_url, c.extra, tokens.details, c.returned)
        try:  # what the consent decided (an organisation): before anything is kept
            base_url, extra = await self._endpoints.complete(c.provider, consented)
        except ConsentIncompleteError as exc:
            raise InvalidError(str(exc)) from exc
        new = NewCredential(c.workspace_id, c.connection_id, c.provider, tokens, base_url, extra)
        return await self.put(new)

    async def rotate(
        self,
        workspace_id: str,
        connection_id: str,
        secret: Secret | Tokens,
        *,
        extra: Mapping[str, str] | None = None,
    ) -> Status:
        """Replace the secret of a stored connection, keeping its provider, URL and extras."""
        stored = await self._store.get(workspace_id, connection_id)
        if stored is None:
            raise NotFoundError(f"no credential for connection {connection_id}")
        new = NewCredential(
            workspace_id,
            connection_id,
            stored.status.provider,
            secret,
            stored.base_url,
            stored.extra if extra is None else extra,
        )
        return await self.put(new)

    async def move(self, workspace_id: str, connection_id: str, to: str) -> Status:
        """Keep a connection's credential under another connection id (replacing what that one
        held): a consent that offered several companies is kept under a pending connection
        until the admin picks one already connected before. The secret never leaves; a move
        retried after it happened answers the target's status."""
        key = (workspace_id, connection_id)
        async with self._locks.setdefault(key, asyncio.Lock()):
            stored = await self._store.get(workspace_id, connection_id)
            if stored is None:
                moved = await self._store.get(workspace_id, to)
                if moved is None:
                    raise NotFoundError(f"no credential for connection {connection_id}")
                return moved.status
            new = NewCredential(
                workspace_id, to, stored.status.provider, stored.secret, stored.base_url,
                stored.extra,
            )  # fmt: skip
            status = await self.put(new)
            await self._store.delete(workspace_id, connection_id)
        log.info("credential moved", workspace_id=workspace_id, connection_id=connection_id, to=to)
        return status

    async def delete(self, workspace_id: str, connection_id: str) -> None:
        if not await self._store.delete(workspace_id, connection_id):
            raise NotFoundError(f"no credential for connection {connection_id}")
        log.info("credential deleted", workspace_id=workspace_id, connection_id=connection_id)

    async def refused(self, workspace_id: str, connection_id: str, reason: str) -> Status:
        """A service's report that the provider refused the credential it was handed (401):
        a key then needs re-authorisation (health shows it, access answers 409 until it is
        rotated); an OAuth access token is refreshed on the next access, and a refresh token
        the provider refuses too marks the connection then."""
        status = await self._store.refused(workspace_id, connection_id, reason, self._clock())
        if status is None:
            raise NotFoundError(f"no credential for connection {connection_id}")
        log.warning(
            "provider refused the credential",
            workspace_id=workspace_id,
            connection_id=connection_id,
            reason=reason,
            state=status.state,
        )
        return status

    async def health(self, workspace_id: str) -> list[Status]:
        return await self._store.statuses(workspace_id)

    async def access(self, workspace_id: str, connection_id: str) -> Grant:
        """The credential to call the provider with now (refreshed first when near expiry)."""
        stored = await self._store.get(workspace_id, connection_id)
        if stored is None:
            raise NotFoundError(f"no credential for connection {connection_id}")
        decision = decide(stored, self._clock(), self._margin)
        if decision == "hand_out":
            return grant(stored)
        if decision == "refused":
            raise ConflictError(refusal(stored.status))
        key = (workspace_id, connection_id)
        async with self._locks.setdefault(key, asyncio.Lock()):
            outcome = await self._refresh_locked(workspace_id, connection_id)
        if isinstance(outcome, Exception):  # raised after the commit: the failure is recorded
            raise outcome
        return outcome

    async def _refresh_locked(self, workspace_id: str, connection_id: str) -> Grant | Exception:
        async with self._store.locked(workspace_id, connection_id) as slot:
            if slot is None:
                return NotFoundError(f"no credential for connection {connection_id}")
            decision = decide(slot.credential, self._clock(), self._margin)
            if decision == "hand_out":  # another caller refreshed while this one waited
                return grant(slot.credential)
            if decision == "refused":
                return ConflictError(refusal(slot.credential.status))
            return await self._refresh(slot)

    async def _refresh(self, slot: Slot) -> Grant | Exception:
        stored = slot.credential
        status = stored.status
        assert isinstance(stored.secret, Tokens)
        where = {"workspace_id": status.workspace_id, "connection_id": status.connection_id}
        try:
            endpoint = self._endpoints.endpoint(status.provider, stored.extra)
            new = await endpoint.refresh(stored.secret.refresh_token)
        except ReauthorizationNeededError as exc:
            await slot.needs_reauthorisation(exc.reason, self._clock())
            log.warning("refresh refused: needs re-authorisation", reason=exc.reason, **where)
            return ConflictError(f"connection {status.connection_id} needs re-authorisation")
        except TransientError as exc:
            await slot.refresh_failed(exc.reason, self._clock())
            log.warning("refresh failed, will retry", reason=exc.reason, **where)
            return exc
        except InvalidError as exc:  # no app configured: services retry until there is one
            await slot.refresh_failed(exc.reason, self._clock())
            return UpstreamError(exc.reason)
        except ProviderError as exc:  # wrong app credentials, an unexpected answer
            reason = f"{status.provider} token endpoint refused the refresh (HTTP {exc.status})"
            await slot.refresh_failed(reason, self._clock())
            log.error("refresh refused", reason=reason, **where)
            return UpstreamError(reason)
        await slot.save_tokens(new, self._clock())
        log.info("access token refreshed", expires_at=new.expires_at.isoformat(), **where)
        refreshed = grant(slot.credential)
        return Grant(refreshed.base_url, new.access_token, refreshed.extra, new.expires_at)

    def _check_kind(self, provider_name: str, secret: Secret | Tokens) -> None:
        try:
            provider = self._registry.get(provider_name)
        except UnknownProviderError as exc:
            raise InvalidError(str(exc)) from exc
        kind = kind_of(secret)
        if kind == "oauth2" and oauth_of(provider) is None:
            raise InvalidError(f"{provider.profile.title} does not sign in with OAuth here")
        if kind == "api_key" and provider.profile.auth == "oauth2":
            raise InvalidError(f"{provider.profile.title} needs OAuth tokens, not a key")
