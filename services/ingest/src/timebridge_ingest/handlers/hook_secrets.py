"""The secret each tracker hook signs its deliveries with: made or received at registration, kept
sealed by ingest, and asked for by the delivery route.

A hook's URL ends in its unguessable token; only the token's SHA-256 is stored, and it names the
hook's secret too. The secret is kept in ingest's webhook secrets (AES-GCM, the associated data
naming the hook), never logged and never published.

Registration goes through :func:`keeping_secrets`, a wrapper of the :data:`Observers` the
connection use cases open: every ``hooks.register`` proposes a fresh secret, stored *before* the
provider is called (Toggl pings the URL, signed, while the subscription is made), and the secret
the provider answers with replaces it where the provider picks its own (ClickUp's ``secret``,
Clockify's ``authToken``), or by the one its handshake handed over (Hubstaff's ``X-Hook-Secret``,
kept by the delivery route while the hook is being registered, then handed back to activate it).
The connection code never sees a secret.
"""

import datetime as dt
import secrets as random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog
from timebridge_providers.kit.ports.observe import (
    Change,
    ChangePage,
    Hint,
    HookAdmin,
    HookState,
    Observer,
    hook_activation,
)

from timebridge_common.outbound.http import ProviderError
from timebridge_ingest.domain.connections import hook_token_hash
from timebridge_ingest.handlers.ports import Observers, WebhookSecrets

log = structlog.get_logger(__name__)

SCOPE = "hooks"
"""The webhook secrets' workspace column for hook secrets (a hook's token hash is unique across
workspaces, and a delivery is judged before its workspace is known)."""


@dataclass(frozen=True, slots=True)
class HookSecrets:
    """Hook secrets by the hook token's hash, in ingest's sealed webhook secrets."""

    store: WebhookSecrets

    async def get(self, token_hash: str) -> str | None:
        return await self.store.get(SCOPE, f"hook:{token_hash}")

    async def put(self, token_hash: str, secret: str) -> None:
        await self.store.put(SCOPE, f"hook:{token_hash}", secret)


def token_hash_of(target_url: str) -> str:
    """The hash of the token a hook's URL ends with (``.../v1/webhooks/<provider>/<token>``)."""
    return hook_token_hash(urlsplit(target_url).path.rstrip("/").rpartition("/")[2])


@dataclass(frozen=True, slots=True)
class _KeepingHooks:
    hooks: HookAdmin
    secrets: HookSecrets

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        token_hash = token_hash_of(target_url)
        proposed = secret or random.token_urlsafe(32)
        await self.secrets.put(token_hash, proposed)
        state = await self.hooks.register(target_url, proposed)
        if state.secret is not None and state.secret != proposed:
            await self.secrets.put(token_hash, state.secret)
        return await self._activated(state, token_hash, unless=proposed)

    async def _activated(
        self, state: HookState, token_hash: str, *, unless: str | None = None
    ) -> HookState:
        """A hook that delivers only once activated with the secret its handshake handed over
        (Hubstaff): activated with the one kept for it. ``unless`` is the secret proposed: still
        kept, no handshake handed one over (nothing to activate with; the poll goes on)."""
        activation = hook_activation(self.hooks)
        if state.active or activation is None:
            return state
        secret = await self.secrets.get(token_hash)
        if secret is None or secret == unless:
            return state
        return await activation.activate(state.hook_id, secret)

    async def delete(self, hook_id: str) -> None:
        await self.hooks.delete(hook_id)

    async def ensure_active(self, hook_id: str) -> HookState | None:
        """The hook's state; a secret the provider lists for it is kept (a hook registered before
        ingest kept secrets, or one whose secret the provider rotated, heals here)."""
        state = await self.hooks.ensure_active(hook_id)
        if state is not None and state.secret is not None and state.target_url:
            token_hash = token_hash_of(state.target_url)
            if await self.secrets.get(token_hash) != state.secret:
                await self.secrets.put(token_hash, state.secret)
        if state is not None and state.target_url:
            try:
                state = await self._activated(state, token_hash_of(state.target_url))
            except ProviderError as exc:  # no handshake ever handed the secret: polled only
                log.warning("the webhook could not be activated", error=str(exc))
        return state


@dataclass(frozen=True, slots=True)
class _KeepingObserver:
    observer: Observer
    secrets: HookSecrets

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        return await self.observer.changes(cursor, now=now, lookback=lookback)

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        return await self.observer.reread(hints, now=now)

    @property
    def hooks(self) -> HookAdmin | None:
        inner = self.observer.hooks
        return None if inner is None else _KeepingHooks(inner, self.secrets)


def keeping_secrets(observers: Observers, secrets: HookSecrets) -> Observers:
    """``observers`` whose hooks keep the secret of every hook they register."""

    def open_observer(
        provider: str, base_url: str, credential: str, extra: Mapping[str, str]
    ) -> Observer:
        return _KeepingObserver(observers(provider, base_url, credential, extra), secrets)

    return open_observer
