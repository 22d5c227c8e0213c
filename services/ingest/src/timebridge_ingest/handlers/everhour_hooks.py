"""Everhour webhook deliveries: the handshake, then each delivery as a hint to re-read.

Everhour does not sign deliveries, so their content is never trusted: the unguessable URL
identifies the integration, and the record is read back through the API with the integration's
key before anything is published. A forged delivery can at most make us re-read a record.

A delivery is answered as soon as its hint is durably in the inbox (Postgres), not after the
re-read: Everhour documents no redelivery (it only disables a hook after sustained failures), so
a delivery must be accepted fast however slowly ingest's share of the Everhour budget allows
reading. The inbox keeps one row per record (bounded by the records, and capped per
integration), so memory and state stay bounded whatever the load; the worker re-reads pending
records grouped by integration and day, one ``GET /team/time`` per day for all of them, so an
echo of our own write costs at most one read, shared with every other record of that day.
"""

import asyncio
import contextlib
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from timebridge_providers.everhour.client import (
    EverhourClient,
    Task,
    TimeRecord,
    User,
    handshake_reply,
    parse_delivery,
)

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import TimeEntryLogged
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.outbound.http import NotFoundError, ProviderError
from timebridge_ingest.domain.connections import Integration, listens_to_tracker
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.everhour_entries import (
    PendingDelivery,
    deleted_record_event,
    delivery_hint,
    record_to_event,
)
from timebridge_ingest.handlers.ports import ConnectionsStore, DeliveryInbox, EverhourFactory
from timebridge_ingest.handlers.webhooks import publish_or_unavailable

log = structlog.get_logger(__name__)

LEASE = dt.timedelta(minutes=5)
"""A claimed row comes back after this if its worker died."""
RETRY = dt.timedelta(seconds=30)
REFUSED_RETRY = dt.timedelta(minutes=15)
"""Everhour refused the read (a revoked key...): try again much later; the row stays bounded."""


@dataclass(frozen=True, slots=True)
class HookAnswer:
    headers: dict[str, str]
    accepted: bool = False


@dataclass
class EverhourHooks:
    """Receives deliveries: the handshake, or the hint stored in the inbox (then 202)."""

    store: ConnectionsStore
    inbox: DeliveryInbox
    clock: Callable[[], dt.datetime]
    on_stored: Callable[[], None] = lambda: None
    max_pending: int = 10_000
    """Records one integration may have waiting; beyond, deliveries are refused with 503."""

    async def receive(self, token_hash: str, headers: Mapping[str, str], body: bytes) -> HookAnswer:
        reply = handshake_reply(headers)
        async with self.store.transaction() as tx:
            integration = await tx.integration_by_hook(token_hash)
            pending = reply is not None and await tx.pending_hook_exists(token_hash)
        if reply is not None:
            if integration is None and not pending:
                raise RejectedError(404, "unknown webhook")
            return HookAnswer(headers=reply)
        if integration is None or integration.status != "connected" or not integration.api_key:
            raise RejectedError(404, "unknown webhook")
        try:
            hint = delivery_hint(integration.integration_id, parse_delivery(body).time_record())
        except InvalidMessageError as exc:
            raise RejectedError(422, exc.reason) from exc
        except ValueError as exc:
            raise RejectedError(422, f"not an Everhour time record: {exc}") from exc
        try:
            stored = await self.inbox.put(hint, self.clock(), limit=self.max_pending)
        except TransientError as exc:
            raise UnavailableError(str(exc)) from exc
        if not stored:
            raise UnavailableError(f"{self.max_pending} Everhour records already wait to be read")
        self.on_stored()
        log.debug("everhour delivery stored", record=hint.record_id)
        return HookAnswer(headers={}, accepted=True)


@dataclass
class TeamUsers:
    """Everhour's user list per integration, read at most every ``ttl_s``.

    Every record names its user by id; the list gives the email and time zone. A record whose
    user is not in the list re-reads it, at most every ``refresh_s`` (a user just added).
    """

    ttl_s: float = 600.0
    refresh_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, dict[int, User]]] = field(default_factory=dict)

    async def user(
        self, integration_id: str, everhour: EverhourClient, user_id: int
    ) -> User | None:
        now = self.clock()
        cached = self._cache.get(integration_id)
        if (
            cached is None
            or now - cached[0] >= self.ttl_s
            or (user_id not in cached[1] and now - cached[0] >= self.refresh_s)
        ):
            users = {u.id: u for u in await everhour.team_users()}
            cached = self._cache[integration_id] = (now, users)
        return cached[1].get(user_id)

    def forget(self, integration_id: str) -> None:
        self._cache.pop(integration_id, None)


@dataclass
class DeliveryWorker:
    """Re-reads the records the inbox holds and publishes what Everhour says about them."""

    store: ConnectionsStore
    inbox: DeliveryInbox
    everhour: EverhourFactory
    publisher: EventPublisher
    clock: Callable[[], dt.datetime]
    publish_timeout_s: float
    users: TeamUsers = field(default_factory=TeamUsers)
    batch: int = 500
    idle_s: float = 1.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """A delivery was stored: drain now rather than at the next idle tick."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                claimed = await self.drain_once()
            except Exception:
                log.exception("everhour inbox round failed")
                claimed = 0
            if claimed < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_s)

    async def drain_once(self) -> int:
        """One round: claim due rows, re-read them per integration; how many were claimed."""
        now = self.clock()
        claimed = await self.inbox.claim_due(now, LEASE, self.batch)
        by_integration: dict[str, list[PendingDelivery]] = defaultdict(list)
        for pending in claimed:
            by_integration[pending.hint.integration_id].append(pending)
        for integration_id, pending_rows in by_integration.items():
            await self._integration_round(integration_id, pending_rows, now)
        return len(claimed)

    async def _integration_round(
        self, integration_id: str, pending: list[PendingDelivery], now: dt.datetime
    ) -> None:
        async with self.store.transaction() as tx:
            integration = await tx.integration(integration_id)
        if (
            integration is None
            or integration.status != "connected"
            or integration.api_key is None
            or not listens_to_tracker(integration.settings)
        ):
            await self.inbox.drop(integration_id)
            self.users.forget(integration_id)
            return
        try:
            events = await self._read(integration, pending, now)
            await self._publish(events)
        except TransientError as exc:
            wait = max(RETRY, dt.timedelta(seconds=exc.retry_after or 0))
            await self._retry(pending, now + wait, str(exc))
            return
        except UnavailableError as exc:
            await self._retry(pending, now + RETRY, f"Kafka unavailable: {exc}")
            return
        except ProviderError as exc:
            await self._retry(pending, now + REFUSED_RETRY, str(exc))
            return
        await self.inbox.done(pending, now)
        log.info("everhour deliveries published", integration=integration_id, records=len(events))

    async def _retry(
        self, pending: Sequence[PendingDelivery], next_at: dt.datetime, error: str
    ) -> None:
        log.warning("everhour deliveries will be re-read later", records=len(pending), error=error)
        await self.inbox.retry(pending, next_at, error)

    async def _read(
        self, integration: Integration, pending: Sequence[PendingDelivery], now: dt.datetime
    ) -> list[TimeEntryLogged]:
        """One ``GET /team/time`` per day (paged) for every pending record of that day."""
        assert integration.api_key is not None
        ids = {
            "workspace_id": integration.workspace_id,
            "integration_id": integration.integration_id,
        }
        by_day: dict[dt.date, list[PendingDelivery]] = defaultdict(list)
        for p in pending:
            by_day[p.hint.date].append(p)
        events: list[TimeEntryLogged] = []
        tasks: dict[str, Task] = {}
        async with self.everhour(integration.base_url, integration.api_key) as everhour:
            for day, rows in sorted(by_day.items()):
                wanted = {p.hint.record_id for p in rows}
                found: dict[int, TimeRecord] = {}
                async for record in everhour.team_time(day, day):
                    if record.id in wanted:
                        found[record.id] = record
                for p in rows:
                    seen = found.get(p.hint.record_id)
                    if seen is None:
                        events.append(
                            deleted_record_event(
                                record_id=str(p.hint.record_id),
                                user_id=p.hint.user_id,
                                task_id=p.hint.task_id,
                                date=p.hint.date,
                                observed_at=now,
                                observed_via="webhook",
                                **ids,
                            )
                        )
                        continue
                    task = await self._task(everhour, seen, tasks)
                    if task is None:
                        continue
                    user = await self.users.user(integration.integration_id, everhour, seen.user)
                    events.append(
                        record_to_event(
                            record=seen,
                            task=task,
                            user=user,
                            observed_at=now,
                            observed_via="webhook",
                            **ids,
                        )
                    )
        return events

    @staticmethod
    async def _task(
        everhour: EverhourClient, record: TimeRecord, tasks: dict[str, Task]
    ) -> Task | None:
        """The record's task: embedded in the record, else read once per round."""
        if record.task is not None and record.task.projects:
            return record.task
        task_id = record.task.id if record.task else None
        if task_id is None:
            return None
        if task_id not in tasks:
            try:
                tasks[task_id] = await everhour.task(task_id)
            except NotFoundError:
                log.warning("everhour record on an unknown task skipped", record=record.id)
                return None
        return tasks[task_id]

    async def _publish(self, events: Sequence[TimeEntryLogged]) -> None:
        """Every event acknowledged by Kafka (in parallel: each record is its own key)."""
        results = await asyncio.gather(
            *(publish_or_unavailable(self.publisher, e, self.publish_timeout_s) for e in events),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
