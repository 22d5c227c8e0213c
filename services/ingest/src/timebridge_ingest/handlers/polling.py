"""Polling the home system and trackers on each integration's schedule (and as a safety net).

Every observation is published with its observation id, so a change seen by a webhook and again
by a poll, or twice by polls after a crash, is one event downstream. The cursor is saved only
after the events are in Kafka: a crash in between makes the next poll publish them again,
harmlessly. Each outcome is recorded for sync health: a refused credential (a revoked key) is
an ``authentication`` failure, not a silent retry. Before polling a tracker whose webhook the
provider may have disabled after failed deliveries, the hook is checked and re-activated; the
poll that follows covers the gap. A poll that changes the connection's state (it starts failing,
its credential is refused, it works again) publishes that change once (``HealthChanges``).
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from timebridge_providers.installed import registry

from timebridge_common.errors import TransientError
from timebridge_common.events import IntegrationSettings
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_ingest.domain.connections import Integration, listens_to_tracker
from timebridge_ingest.domain.observations import to_event
from timebridge_ingest.domain.polling import SAFETY_NET, ErrorKind, next_poll_at
from timebridge_ingest.handlers.access import ConnectionAccesses, has_access
from timebridge_ingest.handlers.contract_polls import ContractPolls
from timebridge_ingest.handlers.health import HealthChanges
from timebridge_ingest.handlers.hooks import hooks_report_everything
from timebridge_ingest.handlers.observing import NotObservableError
from timebridge_ingest.handlers.ports import ConnectionsStore, Observers, PollingStore
from timebridge_ingest.handlers.time_off import TimeOffPolls, is_time_off_source
from timebridge_ingest.handlers.webhooks import publish_or_unavailable

log = structlog.get_logger(__name__)

LEASE = dt.timedelta(minutes=10)
RETRY = dt.timedelta(minutes=1)
REFUSED_RETRY = dt.timedelta(minutes=15)
"""A refused credential is tried again much later: someone has to reconnect it."""


def _error_kind(exc: Exception) -> ErrorKind:
    if isinstance(exc, AuthenticationError):
        return "authentication"
    if isinstance(exc, ProviderError | NotObservableError):
        return "refused"
    return "unavailable"


@dataclass
class Poller:
    connections: ConnectionsStore
    polling: PollingStore
    observers: Observers
    publisher: EventPublisher
    clock: Callable[[], dt.datetime]
    publish_timeout_s: float
    lookback_days: int = 31
    tick_s: float = 15.0
    hook_keeper: Callable[[Integration], Awaitable[str | None]] | None = None
    """Re-activates a webhook the provider disabled; says what it did (``None``: nothing)."""
    daily_at: dt.time | None = None
    """``TB_DAILY_SYNC_AT``: a fixed UTC time for frequency daily instead of the end of the
    workspace's day."""
    health: HealthChanges | None = None
    """Publishes the connection's changes of state (by default through ``connections``'
    outbox)."""
    access: ConnectionAccesses = field(default_factory=ConnectionAccesses)
    """The credential owner's access to each connection (an OAuth tracker's current token)."""
    time_off: TimeOffPolls | None = None
    """Polls an HR connection's time off (it has no time entries to observe)."""
    contracts: ContractPolls | None = None
    """Polls the home system's contracts with each of its polls (the webhooks' fallback)."""

    def __post_init__(self) -> None:
        if self.health is None:
            self.health = HealthChanges(self.connections, self.publisher)

    async def run(self) -> None:
        while True:
            try:
                await self.poll_due()
            except Exception:
                log.exception("poll round failed")
            await asyncio.sleep(self.tick_s)

    async def poll_due(self) -> list[str]:
        now = self.clock()
        await self.polling.sync_schedules(now)
        polled = await self.polling.claim_due(now, LEASE)
        for connection_id in polled:
            await self.poll_one(connection_id)
        return polled

    async def poll_one(self, connection_id: str) -> None:
        now = self.clock()
        before = await self.polling.health(connection_id) if self.health else None
        try:
            next_at = await self._poll(connection_id, now)
        except (ProviderError, TransientError, UnavailableError, NotObservableError) as exc:
            kind = _error_kind(exc)
            wait = REFUSED_RETRY if kind == "authentication" else RETRY
            if isinstance(exc, TransientError) and exc.retry_after:
                wait = max(wait, dt.timedelta(seconds=exc.retry_after))
            error = f"authentication failed: {exc}" if kind == "authentication" else str(exc)
            log.warning("poll failed", connection=connection_id, kind=kind, error=error)
            if self.health is not None:
                await self.health.after_poll(
                    connection_id, before, now, error_kind=kind, error=error, cause=exc
                )
            await self.polling.done(
                connection_id, next_at=now + wait, now=now, error=error, error_kind=kind
            )
            return
        if self.health is not None:
            await self.health.after_poll(connection_id, before, now, error_kind=None, error=None)
        await self.polling.done(connection_id, next_at=next_at, now=now, error=None)

    async def _poll(self, connection_id: str, now: dt.datetime) -> dt.datetime:
        """Poll the connection; when it is due next."""
        async with self.connections.transaction() as tx:
            integration = await tx.integration(connection_id)
            if integration is not None:
                if self.time_off is not None and is_time_off_source(integration.provider):
                    await self.time_off.poll(integration, now)
                else:
                    await self.poll_tracker(integration, now)
                webhooks = hooks_report_everything(integration.provider)
                return self._next(integration.settings, now, webhooks=webhooks)
            workspace_id = connection_id.removeprefix("core_")
            integrations = await tx.integrations(workspace_id)
        await self.poll_home(workspace_id, now)
        live = [i for i in integrations if i.status == "connected"]
        # The home system sends webhooks: its polls are the safety net of each frequency.
        return min((self._next(i.settings, now) for i in live), default=now + SAFETY_NET)

    def _next(
        self, settings: IntegrationSettings, now: dt.datetime, *, webhooks: bool = True
    ) -> dt.datetime:
        return next_poll_at(settings, now, webhooks=webhooks, daily_at=self.daily_at)

    async def poll_home(self, workspace_id: str, now: dt.datetime) -> int:
        async with self.connections.transaction() as tx:
            workspace = await tx.workspace(workspace_id)
        if workspace is None:
            return 0
        home = registry().home().name
        connection_id = f"core_{workspace_id}"
        access = await self.access.home(workspace)
        observer = self.observers(home, access.base_url, access.credential, access.extra)
        page = await observer.changes(
            await self.polling.cursor(connection_id),
            now=now,
            lookback=dt.timedelta(days=self.lookback_days),
        )
        for change in page.changes:
            event = to_event(
                change,
                source=home,
                workspace_id=workspace_id,
                integration_id=None,
                observed_via="poll",
            )
            await publish_or_unavailable(self.publisher, event, self.publish_timeout_s)
        await self.polling.set_cursor(
            connection_id, page.cursor, workspace_id=workspace_id, now=now
        )
        if self.contracts is not None:
            await self.contracts.poll(workspace_id, access)
        return len(page.changes)

    async def poll_tracker(self, integration: Integration, now: dt.datetime) -> int:
        """Publish what changed at the tracker since the last poll; how many changes."""
        if not has_access(integration):
            return 0
        if not listens_to_tracker(integration.settings):
            return 0  # one-way Core -> tracker: the tracker's changes are never taken
        access = await self.access.of(integration)
        observer = self.observers(
            integration.provider, access.base_url, access.credential, access.extra
        )
        if integration.hook_id is not None and self.hook_keeper is not None:
            note = await self.hook_keeper(integration)
            if note is not None:
                log.warning("webhook re-activated", integration=integration.integration_id)
                await self.polling.note_hook(integration.integration_id, note, now)
        connection_id = integration.integration_id
        page = await observer.changes(
            await self.polling.cursor(connection_id),
            now=now,
            lookback=dt.timedelta(days=self.lookback_days),
        )
        for change in page.changes:
            event = to_event(
                change,
                source=integration.provider,
                workspace_id=integration.workspace_id,
                integration_id=connection_id,
                observed_via="poll",
            )
            await publish_or_unavailable(self.publisher, event, self.publish_timeout_s)
        await self.polling.set_cursor(
            connection_id, page.cursor, workspace_id=integration.workspace_id, now=now
        )
        return len(page.changes)
