"""What the handlers need from the outside world (Postgres and test fakes implement it)."""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from timebridge_providers.kit.ports.identity import IdentityClient
from timebridge_providers.kit.ports.observe import Hint, Observer
from timebridge_providers.kit.session import Access, Session

from timebridge_common.events import Envelope, Event
from timebridge_ingest.domain.connections import Integration, Workspace
from timebridge_ingest.domain.inbox import PendingDelivery
from timebridge_ingest.domain.polling import PollHealth


class WebhookSecrets(Protocol):
    async def get(self, workspace_id: str, source: str) -> str | None: ...

    async def put(self, workspace_id: str, source: str, secret: str) -> None: ...


class ConnectionsTx(Protocol):
    """One transaction over the connection tables and the outbox."""

    async def workspace(
        self, workspace_id: str, *, for_update: bool = False
    ) -> Workspace | None: ...

    async def put_workspace(self, workspace: Workspace) -> None: ...

    async def integration(
        self, integration_id: str, *, for_update: bool = False
    ) -> Integration | None: ...

    async def integrations(self, workspace_id: str) -> list[Integration]: ...

    async def integration_by_hook(self, hook_token_hash: str) -> Integration | None: ...

    async def put_integration(self, integration: Integration) -> None: ...

    async def add_pending_hook(self, hook_token_hash: str, workspace_id: str) -> None: ...

    async def pending_hook_exists(self, hook_token_hash: str) -> bool: ...

    async def remove_pending_hook(self, hook_token_hash: str) -> None: ...

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        """Stage events in the outbox: they are published once this transaction commits."""
        ...


class ConnectionsStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[ConnectionsTx]: ...


class DeliveryInbox(Protocol):
    """Webhook hints stored durably until their records are re-read and published."""

    async def put(
        self, integration_id: str, hint: Hint, now: dt.datetime, *, limit: int
    ) -> bool: ...

    async def claim_due(
        self, now: dt.datetime, lease: dt.timedelta, limit: int
    ) -> list[PendingDelivery]: ...

    async def done(self, pending: Sequence[PendingDelivery], now: dt.datetime) -> None: ...

    async def retry(
        self, pending: Sequence[PendingDelivery], next_at: dt.datetime, error: str
    ) -> None: ...

    async def drop(self, integration_id: str) -> None: ...


class PollingStore(Protocol):
    """Poll schedules, cursors and outcomes (sync health)."""

    async def sync_schedules(self, now: dt.datetime) -> None: ...

    async def claim_due(self, now: dt.datetime, lease: dt.timedelta) -> list[str]: ...

    async def done(
        self,
        connection_id: str,
        *,
        next_at: dt.datetime,
        now: dt.datetime,
        error: str | None,
        error_kind: str | None = None,
    ) -> None: ...

    async def cursor(self, connection_id: str) -> str | None: ...

    async def set_cursor(
        self, connection_id: str, cursor: str, *, workspace_id: str, now: dt.datetime
    ) -> None: ...

    async def health(self, connection_id: str) -> PollHealth | None: ...

    async def note_hook(self, connection_id: str, note: str, now: dt.datetime) -> None: ...


Observers = Callable[[str, str, str, Mapping[str, str]], Observer]
"""(provider, base URL, credential, connection fields) -> the connection's Observer (the
registry's capability on a session; tests pass in-memory fakes)."""


class Sessions(Protocol):
    """Where provider sessions come from: the kit's ``ProviderClients`` (one pool per base URL,
    one budget per credential); tests pass one whose transport reaches the sandboxes."""

    def session(self, provider: str, access: Access) -> Session: ...


OpenIdentity = Callable[[str, str], AbstractAsyncContextManager[IdentityClient]]
"""(the home system's base URL, a user's token) -> who the token is (``GET /me``): admin checks."""
