"""Tracker webhooks, registered per connection at ``/v1/webhooks/<provider>/<token>``.

The unguessable URL names the integration; the hook's secret (:mod:`.hook_secrets`) checks what
the provider signs. Two schemes, both from the provider's package through the registry:

- ``signed`` (Toggl): the signature (constant time) and the signed time are checked, a validation
  ping is answered with its code, and the change the delivery carries is published; the answer
  (``202``) comes once Kafka holds the event, with the poll's observation id (entry, version,
  deleted), so a webhook and a poll of the same change are one event. A delivery id already
  published is answered again without publishing (the replay window).
- ``hint`` (Everhour, ClickUp, Clockify, Wrike, Hubstaff): deliveries whose content is not
  trusted as the entry. Where the provider signs them, the signature (and its time, where
  signed) is checked first; the record is then read back through the API with the
  integration's credential before anything is published. A forged delivery can at most make us
  re-read a record. A batch (Wrike's array of events) stores a hint per record it names; a
  keyed handshake (Wrike's HMAC answer, Hubstaff's secret handed over and kept) is answered only
  while the hook is being registered.

A refused delivery (missing, malformed, wrong or stale signature: ``401``; a body naming nothing:
``400``/``422``) publishes and stores nothing.

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
from timebridge_providers.kit.ports.observe import (
    Change,
    HintWebhooks,
    Observer,
    SignedWebhooks,
    Webhooks,
    delivery_reader,
    hints_of,
    keyed_handshake,
    webhooks_of,
)
from timebridge_providers.kit.registry import UnknownProviderError

from timebridge_common.errors import TransientError
from timebridge_common.events import TimeEntryLogged
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.outbound.http import ProviderError
from timebridge_common.webhooks.replay import MemoryReplayWindow, ReplayWindow, publish_once
from timebridge_ingest.domain.connections import Integration, listens_to_tracker
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.inbox import PendingDelivery
from timebridge_ingest.domain.observations import to_event
from timebridge_ingest.handlers.access import ConnectionAccesses, has_access
from timebridge_ingest.handlers.hook_secrets import HookSecrets
from timebridge_ingest.handlers.observing import NotObservableError
from timebridge_ingest.handlers.ports import ConnectionsStore, DeliveryInbox, Observers
from timebridge_ingest.handlers.webhooks import REPLAY_MARGIN, publish_or_unavailable

log = structlog.get_logger(__name__)

LEASE = dt.timedelta(minutes=5)
"""A claimed row comes back after this if its worker died."""
RETRY = dt.timedelta(seconds=30)
REFUSED_RETRY = dt.timedelta(minutes=15)
"""The provider refused the read (a revoked key...): try again much later; the row stays bounded."""


def hook_webhooks(provider: str) -> Webhooks | None:
    """The webhook intake of a tracker whose hooks are registered per connection, if any."""
    try:
        found = registry().get(provider)
    except UnknownProviderError:
        return None
    return webhooks_of(found.observe) if found.profile.kind == "tracker" else None


def hook_providers() -> frozenset[str]:
    """Every installed tracker that delivers webhooks to a per-connection URL."""
    return frozenset(p.name for p in registry() if hook_webhooks(p.name) is not None)


def hooks_report_everything(provider: str) -> bool:
    """Whether the provider's webhooks report every change (a real-time connection is then
    polled only as a safety net); one whose webhooks miss some (its profile's ``webhooks_miss``)
    is polled as often as without them."""
    if hook_webhooks(provider) is None:
        return False
    return registry().get(provider).profile.webhooks_miss is None


hint_webhooks = hook_webhooks
"""The older name (whether an integration registers a hook: connections, polling)."""
hint_providers = hook_providers


@dataclass(frozen=True, slots=True)
class HookAnswer:
    """``reply``: a JSON body answering a validation ping (200); ``accepted``: 202, with
    ``status`` accepted (published or stored now), duplicate (a replay) or ignored."""

    headers: dict[str, str]
    accepted: bool = False
    reply: dict[str, str] | None = None
    status: str = "accepted"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


@dataclass
class HookIntake:
    """Receives a tracker's deliveries: a handshake or validation ping answered (200); a signed
    change published to Kafka or a hint stored in the inbox (then 202); else a 4xx."""

    store: ConnectionsStore
    inbox: DeliveryInbox
    clock: Callable[[], dt.datetime]
    on_stored: Callable[[], None] = lambda: None
    max_pending: int = 10_000
    """Records one integration may have waiting; beyond, deliveries are refused with 503."""
    secrets: HookSecrets | None = None
    """The hooks' secrets (``None``: only unsigned providers' deliveries are taken)."""
    publisher: EventPublisher | None = None
    window: ReplayWindow = field(default_factory=MemoryReplayWindow)
    observers: Observers | None = None
    """Opens an integration's observer, which may render a signed delivery as its poll would."""
    tolerance_s: int = 300
    publish_timeout_s: float = 10.0
    access: ConnectionAccesses = field(default_factory=ConnectionAccesses)
    """The credential owner's access to each connection (re-reads use its current token)."""

    async def receive(
        self, provider: str, token_hash: str, headers: Mapping[str, str], body: bytes
    ) -> HookAnswer:
        webhooks = hook_webhooks(provider)
        if webhooks is None:
            raise RejectedError(404, "unknown webhook")
        if webhooks.scheme == "signed":
            return await self._signed(webhooks, provider, token_hash, headers, body)
        return await self._hint(webhooks, provider, token_hash, headers, body)

    async def _secret(self, token_hash: str) -> str | None:
        return None if self.secrets is None else await self.secrets.get(token_hash)

    async def _signed(
        self,
        webhooks: SignedWebhooks,
        provider: str,
        token_hash: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> HookAnswer:
        """Verify, answer a ping, publish the change once; 202 only once Kafka holds it."""
        async with self.store.transaction() as tx:
            integration = await tx.integration_by_hook(token_hash)
            pending = integration is None and await tx.pending_hook_exists(token_hash)
        if integration is not None and integration.provider != provider:
            integration = None
        secret = await self._secret(token_hash)
        if (integration is None and not pending) or secret is None or self.publisher is None:
            raise RejectedError(404, "unknown webhook")
        signature = _header(headers, webhooks.signature_header)
        now = self.clock()
        delivery = webhooks.verify(
            secret, signature, body, account="", now=now, tolerance_s=self.tolerance_s
        )
        if delivery.reply is not None:
            return HookAnswer(headers={}, reply=dict(delivery.reply))
        if integration is None or integration.status != "connected":
            raise RejectedError(404, "unknown webhook")
        if delivery.change is None or not listens_to_tracker(integration.settings):
            return HookAnswer(headers={}, accepted=True, status="ignored")
        publisher, found, known = self.publisher, delivery.change, integration

        async def publish() -> str:
            """Run once per delivery id (a replay does not ask the tracker again)."""
            change = await self._as_polled(known, body, found)
            if change is None:
                return "ignored"
            event = to_event(
                change,
                source=provider,
                workspace_id=known.workspace_id,
                integration_id=known.integration_id,
                observed_via="webhook",
            )
            return str(await publish_or_unavailable(publisher, event, self.publish_timeout_s))

        first, outcome = await publish_once(
            self.window,
            f"hook:{integration.integration_id}",
            delivery.delivery_id,
            now=now,
            expires_at=delivery.signed_at + dt.timedelta(seconds=self.tolerance_s) + REPLAY_MARGIN,
            lease_s=self.publish_timeout_s + 5,
            publish=publish,
        )
        status = "ignored" if outcome == "ignored" else "accepted" if first else "duplicate"
        return HookAnswer(headers={}, accepted=True, status=status)

    async def _as_polled(
        self, integration: Integration, body: bytes, change: Change
    ) -> Change | None:
        """The delivery's change as the integration's poll would report it (same content, same
        event); ``change`` itself if the provider's observer does not render deliveries."""
        if self.observers is None or not has_access(integration):
            return change
        try:
            access = await self.access.of(integration)
            observer = self.observers(
                integration.provider, access.base_url, access.credential, access.extra
            )
            reader = delivery_reader(observer)
            if reader is None:
                return change
            return await reader.delivered(body)
        except (TransientError, ProviderError) as exc:
            raise UnavailableError(
                f"the tracker could not be asked about the entry: {exc}"
            ) from exc

    async def _hint(
        self,
        webhooks: HintWebhooks,
        provider: str,
        token_hash: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> HookAnswer:
        """Authenticate where the provider signs, then store the hint durably (202)."""
        reply, handed = webhooks.handshake(headers), None
        keyed, secret = keyed_handshake(webhooks), await self._secret(token_hash)
        if keyed is not None:
            answer = keyed.keyed_handshake(secret, headers, body)
            reply, handed = (None, None) if answer is None else (answer.headers, answer.secret)
        async with self.store.transaction() as tx:
            integration = await tx.integration_by_hook(token_hash)
            pending = reply is not None and await tx.pending_hook_exists(token_hash)
        if integration is not None and integration.provider != provider:
            integration = None
        if reply is not None:
            if integration is None and not pending:
                raise RejectedError(404, "unknown webhook")
            if keyed is not None and not pending:
                # Only while the hook is being registered: a keyed answer of a connected hook
                # would sign what anyone holding the URL chose (Wrike), or let them replace its
                # secret (Hubstaff).
                raise RejectedError(409, "the webhook is not being registered")
            if handed is not None and self.secrets is not None:
                await self.secrets.put(token_hash, handed)
            return HookAnswer(headers=reply)
        if integration is None or not has_access(integration):
            raise RejectedError(404, "unknown webhook")
        now = self.clock()
        signed = webhooks.authenticate(secret, headers, body, now=now, tolerance_s=self.tolerance_s)
        hints = hints_of(webhooks, body)
        integration_id = integration.integration_id

        async def store() -> str:
            for hint in hints:
                try:
                    stored = await self.inbox.put(integration_id, hint, now, limit=self.max_pending)
                except TransientError as exc:
                    raise UnavailableError(str(exc)) from exc
                if not stored:
                    raise UnavailableError(f"{self.max_pending} records already wait to be read")
            return "stored"

        if signed is None:
            await store()
            first = True
        else:
            first, _ = await publish_once(
                self.window,
                f"hook:{integration_id}",
                signed.delivery_id,
                now=now,
                expires_at=signed.signed_at
                + dt.timedelta(seconds=self.tolerance_s)
                + REPLAY_MARGIN,
                lease_s=30,
                publish=store,
            )
        if first:
            self.on_stored()
            log.debug("webhook delivery stored", records=[h.external_id for h in hints])
        return HookAnswer(headers={}, accepted=True, status="accepted" if first else "duplicate")


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
    access: ConnectionAccesses = field(default_factory=ConnectionAccesses)
    """The credential owner's access to each connection (an OAuth tracker's current token)."""
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
            or not has_access(integration)
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
        observer = await self._observer(integration)
        changes = await observer.reread([p.hint for p in pending], now=now)
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

    async def _observer(self, integration: Integration) -> Observer:
        access = await self.access.of(integration)
        digest = hashlib.sha256(
            f"{integration.provider}\n{access.base_url}\n{access.credential}".encode()
        ).hexdigest()
        kept = self._observers.get(integration.integration_id)
        if kept is None or kept[0] != digest:
            observer = self.observers(
                integration.provider, access.base_url, access.credential, access.extra
            )
            kept = self._observers[integration.integration_id] = (digest, observer)
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
