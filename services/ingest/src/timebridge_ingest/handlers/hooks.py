"""Unsigned webhook deliveries (``hint`` scheme): the handshake, then each delivery as a hint.

Such deliveries are not signed, so their content is never trusted: the unguessable URL
identifies the integration, and the record is read back through the API with the integration's
credential before anything is published. A forged delivery can at most make us re-read a record.

A delivery is answered as soon as its hint is durably in the inbox (Postgres), not after the
re-read: a provider like Everhour documents no redelivery (it only disables a hook after sustained
failures), so a delivery must be accepted fast however slowly ingest's share of the provider's
budget allows reading. The inbox keeps one row per record (bounded by the records, and capped per
integration), so memory and state stay bounded whatever the load; the worker hands the pending
records of each integration to its provider's ``Observer.reread`` at once (Everhour reads one day
per request for all of them), so an echo of our own write costs at most one read.
"""

import asyncio
import contextlib
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.observe import HintWebhooks, Observer, webhooks_of
from timebridge_providers.kit.registry import UnknownProviderError

from timebridge_common.errors import TransientError
from timebridge_common.events import TimeEntryLogged
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.outbound.http import ProviderError
from timebridge_ingest.domain.connections import Integration, listens_to_tracker
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.inbox import PendingDelivery
from timebridge_ingest.domain.observations import to_event
from timebridge_ingest.handlers.observing import NotObservableError
from timebridge_ingest.handlers.ports import ConnectionsStore, DeliveryInbox, Observers
from timebridge_ingest.handlers.webhooks import publish_or_unavailable

log = structlog.get_logger(__name__)

LEASE = dt.timedelta(minutes=5)
"""A claimed row comes back after this if its worker died."""
RETRY = dt.timedelta(seconds=30)
REFUSED_RETRY = dt.timedelta(minutes=15)
"""The provider refused the read (a revoked key...): try again much later; the row stays bounded."""


def hint_webhooks(provider: str) -> HintWebhooks | None:
    """The provider's unsigned-delivery intake, if it has one."""
    try:
        webhooks = webhooks_of(registry().get(provider).observe)
    except UnknownProviderError:
        return None
    return webhooks if webhooks is not None and webhooks.scheme == "hint" else None


def hint_providers() -> frozenset[str]:
    """Every installed provider whose webhooks are hints at a secret URL."""
    return frozenset(p.name for p in registry() if hint_webhooks(p.name) is not None)


@dataclass(frozen=True, slots=True)
class HookAnswer:
    headers: dict[str, str]
    accepted: bool = False


@dataclass
class HookIntake:
    """Receives deliveries: the handshake, or the hint stored in the inbox (then 202)."""

    store: ConnectionsStore
    inbox: DeliveryInbox
    clock: Callable[[], dt.datetime]
    on_stored: Callable[[], None] = lambda: None
    max_pending: int = 10_000
    """Records one integration may have waiting; beyond, deliveries are refused with 503."""

    async def receive(
        self, provider: str, token_hash: str, headers: Mapping[str, str], body: bytes
    ) -> HookAnswer:
        webhooks = hint_webhooks(provider)
        if webhooks is None:
            raise RejectedError(404, "unknown webhook")
        reply = webhooks.handshake(headers)
        async with self.store.transaction() as tx:
            integration = await tx.integration_by_hook(token_hash)
            pending = reply is not None and await tx.pending_hook_exists(token_hash)
        if integration is not None and integration.provider != provider:
            integration = None
        if reply is not None:
            if integration is None and not pending:
                raise RejectedError(404, "unknown webhook")
            return HookAnswer(headers=reply)
        if integration is None or integration.status != "connected" or not integration.api_key:
            raise RejectedError(404, "unknown webhook")
        hint = webhooks.hint(body)
        try:
            stored = await self.inbox.put(
                integration.integration_id, hint, self.clock(), limit=self.max_pending
            )
        except TransientError as exc:
            raise UnavailableError(str(exc)) from exc
        if not stored:
            raise UnavailableError(f"{self.max_pending} records already wait to be read")
        self.on_stored()
        log.debug("webhook delivery stored", record=hint.external_id)
        return HookAnswer(headers={}, accepted=True)


@dataclass
class DeliveryWorker:
    """Re-reads the records the inbox holds and publishes what the provider says about them."""

    store: ConnectionsStore
    inbox: DeliveryInbox
    observers: Observers
    publisher: EventPublisher
    clock: Callable[[], dt.datetime]
    publish_timeout_s: float
    batch: int = 500
    idle_s: float = 1.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _observers: dict[str, tuple[str, Observer]] = field(default_factory=dict)
    """One observer per integration across rounds (it may cache, e.g. the account's users),
    replaced when the integration's access changes."""

    def wake(self) -> None:
        """A delivery was stored: drain now rather than at the next idle tick."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                claimed = await self.drain_once()
            except Exception:
                log.exception("webhook inbox round failed")
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
            by_integration[pending.integration_id].append(pending)
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
            self._observers.pop(integration_id, None)
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
        except (ProviderError, NotObservableError) as exc:
            await self._retry(pending, now + REFUSED_RETRY, str(exc))
            return
        await self.inbox.done(pending, now)
        log.info("webhook deliveries published", integration=integration_id, records=len(events))

    async def _retry(
        self, pending: Sequence[PendingDelivery], next_at: dt.datetime, error: str
    ) -> None:
        log.warning("webhook deliveries will be re-read later", records=len(pending), error=error)
        await self.inbox.retry(pending, next_at, error)

    async def _read(
        self, integration: Integration, pending: Sequence[PendingDelivery], now: dt.datetime
    ) -> list[TimeEntryLogged]:
        changes = await self._observer(integration).reread([p.hint for p in pending], now=now)
        return [
            to_event(
                change,
                source=integration.provider,
                workspace_id=integration.workspace_id,
                integration_id=integration.integration_id,
                observed_via="webhook",
            )
            for change in changes
        ]

    def _observer(self, integration: Integration) -> Observer:
        assert integration.api_key is not None
        access = hashlib.sha256(
            f"{integration.provider}\n{integration.base_url}\n{integration.api_key}".encode()
        ).hexdigest()
        kept = self._observers.get(integration.integration_id)
        if kept is None or kept[0] != access:
            observer = self.observers(
                integration.provider, integration.base_url, integration.api_key, integration.extra
            )
            kept = self._observers[integration.integration_id] = (access, observer)
        return kept[1]

    async def _publish(self, events: Sequence[TimeEntryLogged]) -> None:
        """Every event acknowledged by Kafka (in parallel: each record is its own key)."""
        results = await asyncio.gather(
            *(publish_or_unavailable(self.publisher, e, self.publish_timeout_s) for e in events),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
