"""Importing a tracker's history: the use cases behind the imports API and the runner.

The runner covers one window of one run at a time (the oldest due run first, claimed with a
lease so one replica works on it) and records the progress after each window, once its events
are in Kafka: a crash in between covers the window again, publishing the same events (same
observation ids, stored once downstream). A refused credential parks the run (``waiting``) until
the connection is accepted again; an unavailable provider or broker is retried; a request the
provider refuses fails the run with its reason.
"""

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import structlog
from timebridge_providers.kit.ports.observe import Change, Observer

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_ingest.domain.connections import Integration, listens_to_tracker
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.imports import (
    ImportKind,
    ImportRefusedError,
    ImportRun,
    ImportState,
    Window,
    plan,
)
from timebridge_ingest.domain.observations import to_event
from timebridge_ingest.handlers.access import ConnectionAccesses
from timebridge_ingest.handlers.observing import NotObservableError
from timebridge_ingest.handlers.ports import ConnectionsStore, Observers
from timebridge_ingest.handlers.webhooks import publish_or_unavailable

log = structlog.get_logger(__name__)

LEASE = dt.timedelta(minutes=10)
RETRY = dt.timedelta(minutes=1)
REFUSED_RETRY = dt.timedelta(minutes=1)
"""A parked run asks again every minute: the credential owner answers for a key it knows to be
refused without calling the provider, and the run resumes within a minute of a re-connect."""


class ImportStore(Protocol):
    async def add(self, run: ImportRun) -> ImportRun | None:
        """Store a new run; the integration's unfinished run instead if it has one."""
        ...

    async def runs(self, workspace_id: str, integration_id: str, limit: int) -> list[ImportRun]:
        """Newest first."""
        ...

    async def get(
        self, workspace_id: str, integration_id: str, import_id: str
    ) -> ImportRun | None: ...

    async def claim(self, now: dt.datetime, lease: dt.timedelta) -> ImportRun | None:
        """The unfinished run due first, leased to the caller until ``now + lease``."""
        ...

    async def save(self, run: ImportRun, *, claimed: ImportRun) -> bool:
        """Record a claimed run's progress and release it; ``False`` when the run moved on
        meanwhile (another replica took it after the lease ran out)."""
        ...


OpenObserver = Callable[[Integration], Awaitable[Observer]]
"""A connected tracker's observer, with the credential the owner holds for it."""


def observer_opener(observers: Observers, accesses: ConnectionAccesses) -> OpenObserver:
    """Observers called as the poller calls them: with the credential owner's access."""

    async def open_observer(integration: Integration) -> Observer:
        access = await accesses.of(integration)
        return observers(integration.provider, access.base_url, access.credential, access.extra)

    return open_observer


def restamped(change: Change, at: dt.datetime, now: dt.datetime) -> Change:
    """A provider without change times stamps a record with the ``now`` it was asked at: the
    window's (past) end for an import. The record was observed now, so it carries now."""
    return replace(change, updated_at=now) if change.updated_at == at else change


@dataclass
class Imports:
    """Starting a run and reading runs (the API)."""

    store: ImportStore
    connections: ConnectionsStore
    clock: Callable[[], dt.datetime]
    on_added: Callable[[], None] = lambda: None

    async def start(
        self,
        workspace_id: str,
        integration_id: str,
        *,
        kind: ImportKind,
        from_date: dt.date,
        to_date: dt.date | None,
    ) -> ImportRun:
        integration = await self._integration(workspace_id, integration_id)
        if integration.status != "connected":
            raise RejectedError(409, "the integration is disconnected: connect it first")
        if not listens_to_tracker(integration.settings):
            raise RejectedError(
                422, "a one-way Core -> tracker integration takes nothing from the tracker"
            )
        now = self.clock()
        try:
            run = plan(
                uuid.uuid4().hex,
                workspace_id=workspace_id,
                integration_id=integration_id,
                kind=kind,
                from_date=from_date,
                to_date=to_date,
                today=now.date(),
                now=now,
            )
        except ImportRefusedError as exc:
            raise RejectedError(422, str(exc)) from None
        running = await self.store.add(run)
        if running is not None:
            raise RejectedError(
                409,
                f"an import of this integration is not finished yet ({running.import_id},"
                f" {running.from_date} to {running.to_date}, {running.percent}%)",
            )
        self.on_added()
        return run

    async def runs(self, workspace_id: str, integration_id: str) -> list[ImportRun]:
        await self._integration(workspace_id, integration_id)
        return await self.store.runs(workspace_id, integration_id, 50)

    async def get(self, workspace_id: str, integration_id: str, import_id: str) -> ImportRun:
        run = await self.store.get(workspace_id, integration_id, import_id)
        if run is None:
            raise RejectedError(404, "no such import")
        return run

    async def _integration(self, workspace_id: str, integration_id: str) -> Integration:
        async with self.connections.transaction() as tx:
            integration = await tx.integration(integration_id)
        if integration is None or integration.workspace_id != workspace_id:
            raise RejectedError(404, "no such integration")
        return integration


@dataclass
class ImportRunner:
    """Covers the due runs window by window (a background task of ingest)."""

    store: ImportStore
    connections: ConnectionsStore
    open_observer: OpenObserver
    publisher: EventPublisher
    clock: Callable[[], dt.datetime]
    publish_timeout_s: float
    tick_s: float = 5.0
    pause_s: float = 0.0
    """Between two windows: leaves the provider's budget to the regular polls."""
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """A run was added: start it now rather than at the next tick."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.drain()
            except Exception:
                log.exception("import round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_s)
            self._wake.clear()

    async def drain(self) -> None:
        """Cover windows until no run is due (pausing ``pause_s`` between two)."""
        covered = await self.step()
        while covered:
            await asyncio.sleep(self.pause_s)
            covered = await self.step()

    async def step(self) -> bool:
        """Cover the next window of the run due first; whether there was one."""
        now = self.clock()
        claimed = await self.store.claim(now, LEASE)
        if claimed is None:
            return False
        after = await self._advance(claimed, now)
        if not await self.store.save(after, claimed=claimed):
            log.warning("import moved on meanwhile", import_id=claimed.import_id)
        return True

    async def _advance(self, run: ImportRun, now: dt.datetime) -> ImportRun:
        async with self.connections.transaction() as tx:
            integration = await tx.integration(run.integration_id)
        if integration is None or integration.status != "connected":
            reason = "the integration was disconnected"
            return replace(run, state="cancelled", last_error=reason, finished_at=now)
        run = replace(run, started_at=run.started_at or now)
        window = run.next_window()
        if window is None:
            return replace(run, state="done", finished_at=now)
        try:
            observed = await self._cover(integration, window, now)
        except AuthenticationError as exc:
            error = f"{integration.provider} refused the credential: reconnect it ({exc})"
            return self._later(run, now, REFUSED_RETRY, error, waiting=True)
        except (ProviderError, NotObservableError, InvalidMessageError) as exc:
            log.warning("import failed", import_id=run.import_id, error=str(exc))
            return replace(run, state="failed", last_error=str(exc), finished_at=now)
        except (TransientError, UnavailableError) as exc:
            wait = RETRY
            if isinstance(exc, TransientError) and exc.retry_after:
                wait = max(wait, dt.timedelta(seconds=exc.retry_after))
            return self._later(run, now, wait, str(exc))
        return run.covered(window, observed, now)

    async def _cover(self, integration: Integration, window: Window, now: dt.datetime) -> int:
        """Publish the window's entries as a poll would; how many live entries it holds."""
        observer = await self.open_observer(integration)
        at, lookback = window.observation()
        page = await observer.changes(None, now=at, lookback=lookback)
        taken = [restamped(c, at, now) for c in page.changes if window.holds(c.fields.date)]
        for change in taken:
            event = to_event(
                change,
                source=integration.provider,
                workspace_id=integration.workspace_id,
                integration_id=integration.integration_id,
                observed_via="poll",
            )
            await publish_or_unavailable(self.publisher, event, self.publish_timeout_s)
        return sum(1 for c in taken if not c.deleted)

    @staticmethod
    def _later(
        run: ImportRun, now: dt.datetime, wait: dt.timedelta, error: str, *, waiting: bool = False
    ) -> ImportRun:
        """Tried again after ``wait``; ``waiting``: until the credential is accepted again."""
        state: ImportState = "waiting" if waiting else "running"
        return replace(run, state=state, last_error=error, next_attempt_at=now + wait)
