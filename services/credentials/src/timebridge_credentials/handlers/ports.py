"""What the credential owner's use cases need from the outside world."""

import datetime as dt
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from timebridge_providers.kit.oauth import Consented

from timebridge_common.outbound.oauth import TokenEndpoint, Tokens
from timebridge_credentials.domain.credentials import NewCredential, Status, StoredCredential


class Slot(Protocol):
    """One connection's stored credential, row-locked until the context exits; what is saved
    here commits when the context exits normally (before anything is handed out)."""

    credential: StoredCredential

    async def save_tokens(self, tokens: Tokens, now: dt.datetime) -> None: ...

    async def needs_reauthorisation(self, reason: str, now: dt.datetime) -> None: ...

    async def refresh_failed(self, reason: str, now: dt.datetime) -> None: ...


class CredentialStore(Protocol):
    async def get(self, workspace_id: str, connection_id: str) -> StoredCredential | None:
        """The stored credential, decrypted, without locking (the fast path)."""
        ...

    def locked(
        self, workspace_id: str, connection_id: str
    ) -> AbstractAsyncContextManager[Slot | None]:
        """The stored credential locked against every other process (None: there is none)."""
        ...

    async def put(self, new: NewCredential, now: dt.datetime) -> Status:
        """Store or replace; a replaced credential starts over healthy."""
        ...

    async def delete(self, workspace_id: str, connection_id: str) -> bool: ...

    async def statuses(self, workspace_id: str) -> list[Status]: ...

    async def refused(
        self, workspace_id: str, connection_id: str, reason: str, now: dt.datetime
    ) -> Status | None:
        """The provider refused the credential: a key needs re-authorisation; an OAuth access
        token counts as expired (the next access refreshes it). None: no such credential."""
        ...


class TokenEndpoints(Protocol):
    def authorization(self, provider: str, state: str, redirect_uri: str | None) -> tuple[str, str]:
        """(consent URL with the app's client id and ``state``, redirect URI: the app's
        configured one, else ``redirect_uri``), or ``InvalidError`` why not (no app, no consent
        page, no redirect URI: configuration, the same on every attempt)."""
        ...

    async def complete(self, provider: str, consented: Consented) -> tuple[str, dict[str, str]]:
        """The connection's base URL and fields, completed by what the consent decided (the
        provider's description says how; most take them as they are). Raises
        ``ConsentIncompleteError`` in words, ``TransientError`` when the provider can't be
        asked."""
        ...

    def endpoint(self, provider: str, given: Mapping[str, str] | None = None) -> TokenEndpoint:
        """The provider's token endpoint with Timebridge's app (``given``: a consent's callback
        parameters or a connection's fields naming its data centre), or ``InvalidError`` when no
        app is configured for it; ``ConsentIncompleteError`` for a data centre not the
        provider's."""
        ...
