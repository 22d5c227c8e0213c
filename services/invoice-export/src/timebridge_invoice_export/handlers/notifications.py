"""The accounting tools' webhooks: verified, made durable in Kafka, then acted on.

A receiver checks the tool's signature on the raw body before reading it (QuickBooks
``intuit-signature`` and Xero ``x-xero-signature``: base64 HMAC-SHA256 of the body with the app's
verifier token or webhook key; FreshBooks ``X-FreshBooks-Hmac-SHA256`` over the form fields with
the callback's verifier). A valid delivery becomes one ``AccountingChangeNotified`` per record it
names, published with ``acks=all`` *before* the tool is answered ``200``: a delivery answered
``2xx`` is never lost, and a failure to publish is ``503`` so the tool delivers again. The
consumer (:meth:`Notifications.handle`) reads the named record from the tool, since webhooks
carry ids only, and applies it like a poll would; event ids derive from the notification, so a
redelivered webhook is one event.

Replays (issue 13): a delivery already published is answered again and not republished, so it
costs no second read of the tool (the replay window of :mod:`timebridge_common.webhooks.replay`,
keyed by the SHA-256 of the signed body: QuickBooks' and Xero's bodies carry their changes'
times, FreshBooks' form none). QuickBooks and Xero changes older than :data:`MAX_AGE` are not
acted on at all (the poll reconciles them); FreshBooks' identical notices are one within
``freshbooks_replay_window_s``. A FreshBooks ``callback.verify`` is unsigned: it is acted on only
for a callback FreshBooks returned to us (:mod:`~timebridge_invoice_export.handlers.verifications`).

Why here and not in ingest: the signatures of FreshBooks deliveries need the verifier of each
callback, which only the owner of the connection learns (when it registers and confirms the
callback), and acting on a notification needs the connection's OAuth tokens, which must have a
single owner because refresh tokens rotate.
"""

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import AccountingChangeNotified, Envelope
from timebridge_common.kafka.publisher import EventPublisher, publish_acknowledged
from timebridge_common.refusals import InvalidError, NotFoundError, RefusedError
from timebridge_common.webhooks.replay import ReplayWindow, publish_once
from timebridge_invoice_export.adapters import freshbooks, quickbooks, xero
from timebridge_invoice_export.adapters.postgres import Store
from timebridge_invoice_export.domain.accounting import Provider
from timebridge_invoice_export.handlers.connections import Connections, ToolUnusableError
from timebridge_invoice_export.handlers.ports import Clock
from timebridge_invoice_export.handlers.sync import ToolSync
from timebridge_invoice_export.handlers.verifications import CallbackVerifications

log = structlog.get_logger(__name__)


Entity = Literal["client", "invoice"]
QUICKBOOKS_ENTITIES: dict[str, Entity] = {"Customer": "client", "Invoice": "invoice"}
XERO_CATEGORIES: dict[str, Entity] = {"CONTACT": "client", "INVOICE": "invoice"}
FRESHBOOKS_NOUNS: dict[str, Entity] = {"client": "client", "invoice": "invoice"}


class UnauthenticatedError(RefusedError):
    status = 401


MAX_AGE = dt.timedelta(hours=24)
"""How old a QuickBooks or Xero change may be and still be acted on. Both tools retry a delivery
we did not answer 2xx (Xero for 24 h, QuickBooks every 6 h on): anything older was missed by
the webhooks and is reconciled by the poll (change data capture / ``If-Modified-Since``), so a
signed delivery replayed later costs no read of the tool. Older changes are acknowledged
``200`` with ``ignored`` and nothing published: a 4xx would make the tool retry them forever
(and QuickBooks hold back later events, Xero disable the subscription after 24 h)."""
REPLAY_MARGIN = dt.timedelta(minutes=5)
"""Kept this much longer than the payload's age limit (clocks differ a little)."""


@dataclass(frozen=True)
class Delivery:
    """What a receiver did with a delivery (the JSON answer of QuickBooks' and FreshBooks')."""

    status: Literal["accepted", "duplicate", "ignored", "verified", "held"]
    events: int = 0
    reason: str | None = None


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


Note = tuple[str, Entity, str, str, dt.datetime | None]
"""(tenant id, entity, external id, operation, when it changed in the tool)."""


def _checked(notes: Sequence[Note]) -> list[Note]:
    """The notes, when their ids and operations are text an event and a database can hold (no
    NUL or control characters, ids of 1-200 characters, operations of at most 40); a 422
    otherwise (a signed delivery could still be malformed)."""
    for tenant_id, _, external_id, operation, _ in notes:
        for what, value, longest in (
            ("tenant id", tenant_id, 200),
            ("record id", external_id, 200),
            ("operation", operation, 40),
        ):
            if not 0 < len(value) <= longest or not value.isprintable():
                raise InvalidError(f"the delivery's {what} is not printable text of 1-{longest}")
    return list(notes)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Notifications:
    def __init__(
        self,
        store: Store,
        connections: Connections,
        sync: ToolSync,
        publisher: EventPublisher,
        *,
        quickbooks_verifier: str,
        xero_webhook_key: str,
        publish_timeout_s: float,
        window: ReplayWindow,
        verifications: CallbackVerifications,
        freshbooks_window_s: float,
        clock: Clock,
    ) -> None:
        self._store = store
        self._connections = connections
        self._sync = sync
        self._publisher = publisher
        self._quickbooks_verifier = quickbooks_verifier
        self._xero_key = xero_webhook_key
        self._timeout = publish_timeout_s
        self._window = window
        self._verifications = verifications
        self._freshbooks_window = dt.timedelta(seconds=freshbooks_window_s)
        self._clock = clock

    async def quickbooks(self, body: bytes, signature: str | None) -> Delivery:
        """One endpoint for every connected company (QuickBooks has one per app)."""
        if not self._quickbooks_verifier:
            raise NotFoundError(
                "QuickBooks webhooks are not configured (TB_QUICKBOOKS__WEBHOOK_SECRET)"
            )
        if not quickbooks.verify_webhook(self._quickbooks_verifier, body, signature):
            raise UnauthenticatedError("intuit-signature does not sign this body")
        try:
            changes = quickbooks.parse_webhook(body)
        except InvalidMessageError as exc:
            raise InvalidError(exc.reason) from exc
        notes = [
            (c.realm_id, QUICKBOOKS_ENTITIES[c.entity], c.entity_id, c.operation, c.occurred_at)
            for c in changes
            if c.entity in QUICKBOOKS_ENTITIES
        ]
        return await self._timed("quickbooks", _digest(body), notes)

    async def xero(self, body: bytes, signature: str | None) -> Delivery:
        """Xero's intent-to-receive check and deliveries: ``401`` unless the signature is right
        (Xero checks that a wrong one is refused), ``200`` with no body otherwise."""
        if not self._xero_key:
            raise NotFoundError("Xero webhooks are not configured (TB_XERO__WEBHOOK_SECRET)")
        if not xero.verify_webhook(self._xero_key, body, signature):
            raise UnauthenticatedError("x-xero-signature does not sign this body")
        try:
            payload = xero.parse_webhook(body)
        except InvalidMessageError as exc:
            raise InvalidError(exc.reason) from exc
        notes: list[Note] = [
            (
                e.tenant_id,
                XERO_CATEGORIES[e.event_category],
                e.resource_id,
                e.event_type,
                e.event_date_utc,
            )
            for e in payload.events
            if e.event_category in XERO_CATEGORIES
        ]
        return await self._timed("xero", _digest(body), notes)

    async def _timed(self, provider: Provider, key: str, notes: Sequence[Note]) -> Delivery:
        """Publish the changes of a delivery whose payload carries their times: the stale ones
        are dropped (:data:`MAX_AGE`), the rest published once per delivery (the replay window,
        keyed by the SHA-256 of the signed body, kept until they would be stale too)."""
        now = self._clock()
        oldest = now - MAX_AGE
        fresh = [n for n in _checked(notes) if n[4] is None or _aware(n[4]) >= oldest]
        stale = len(notes) - len(fresh)
        reason = f"{stale} change(s) older than {MAX_AGE} ignored" if stale else None
        if not fresh:
            return Delivery("ignored", 0, reason or "nothing Timebridge follows")
        newest = max((_aware(n[4]) for n in fresh if n[4] is not None), default=now)
        expires_at = max(now, newest) + MAX_AGE + REPLAY_MARGIN
        return await self._once(provider, key, expires_at, lambda: self._notify(provider, fresh))

    async def freshbooks(
        self, connection_id: str, fields: Sequence[tuple[str, str]], signature: str | None
    ) -> Delivery:
        """A callback of one connection: its verification, or a signed event."""
        async with self._store.tx() as tx:
            connection = await tx.connection(connection_id)
            verifiers = [] if connection is None else await tx.webhook_verifiers(connection_id)
        if connection is None or connection.provider != "freshbooks":
            raise NotFoundError(f"no FreshBooks connection {connection_id}")
        try:
            delivery = freshbooks.WebhookDelivery.model_validate(dict(fields))
        except ValueError as exc:
            raise InvalidError(f"not a FreshBooks callback: {exc}") from exc
        if delivery.verifier is not None:
            if delivery.account_id is not None and delivery.account_id != connection.tenant_id:
                raise InvalidError("the verification is for another FreshBooks account")
            if not 0 < len(delivery.verifier) <= 200 or not delivery.verifier.isprintable():
                raise InvalidError("the verifier is not printable text of 1-200 characters")
            outcome = await self._verifications.posted(
                connection, str(delivery.object_id), delivery.verifier
            )
            return Delivery("held" if outcome == "held" else "verified", 0, outcome)
        if not any(freshbooks.verify_webhook(v, fields, signature) for v in verifiers):
            raise UnauthenticatedError(f"{freshbooks.SIGNATURE_HEADER} does not sign this form")
        noun, _, operation = delivery.name.partition(".")
        if noun not in FRESHBOOKS_NOUNS:
            return Delivery("ignored", 0, "this FreshBooks event is not followed")
        _checked(
            [
                (
                    connection_id,
                    FRESHBOOKS_NOUNS[noun],
                    str(delivery.object_id),
                    operation or noun,
                    None,
                )
            ]
        )
        event = AccountingChangeNotified(
            workspace_id=connection.workspace_id,
            connection_id=connection_id,
            provider="freshbooks",
            entity=FRESHBOOKS_NOUNS[noun],
            external_id=str(delivery.object_id),
            operation=operation or delivery.name,
        )

        async def publish() -> int:
            await self._publish([event])
            return 1

        # No time nor delivery id in FreshBooks' form: the key is the digest of what is signed,
        # kept for the FreshBooks window (a genuine identical notice inside it is the poll's).
        signed = freshbooks.signed_message(fields).encode()
        expires_at = self._clock() + self._freshbooks_window
        return await self._once(f"freshbooks:{connection_id}", _digest(signed), expires_at, publish)

    async def _once(
        self,
        receiver: str,
        key: str,
        expires_at: dt.datetime,
        publish: Callable[[], Awaitable[int]],
    ) -> Delivery:
        async def published() -> str:
            return str(await publish())

        first, outcome = await publish_once(
            self._window,
            receiver,
            key,
            now=self._clock(),
            expires_at=expires_at,
            lease_s=self._timeout + 10,
            publish=published,
        )
        if not first:
            log.info("webhook replay acknowledged, not republished", receiver=receiver)
        return Delivery("accepted" if first else "duplicate", int(outcome))

    async def _notify(self, provider: Provider, notes: Sequence[Note]) -> int:
        events: list[AccountingChangeNotified] = []
        async with self._store.tx() as tx:
            for tenant_id, entity, external_id, operation, occurred_at in notes:
                for connection_id in await tx.connections_of_tenant(provider, tenant_id):
                    connection = await tx.connection(connection_id)
                    assert connection is not None
                    events.append(
                        AccountingChangeNotified(
                            workspace_id=connection.workspace_id,
                            connection_id=connection_id,
                            provider=provider,
                            entity=entity,
                            external_id=external_id,
                            operation=operation,
                            occurred_at=occurred_at,
                        )
                    )
        await self._publish(events)
        return len(events)

    async def _publish(self, events: Sequence[AccountingChangeNotified]) -> None:
        await publish_acknowledged(
            self._publisher,
            [(e, self._publisher.envelope(e, event_id=e.notification_id())) for e in events],
            self._timeout,
        )

    async def handle(self, envelope: Envelope, event: AccountingChangeNotified) -> None:
        """Read the record the webhook named and apply it (consumer; idempotent)."""
        async with self._store.tx() as tx:
            connection = await tx.connection(event.connection_id)
        if connection is None or connection.status != "connected":
            return
        try:
            async with self._connections.tool(connection) as tool:
                if event.entity == "client":
                    client = await tool.client(event.external_id)
                    invoice = None
                else:
                    invoice = await tool.invoice(event.external_id)
                    client = None
        except ToolUnusableError as exc:
            log.warning("notification not applied", reason=str(exc))
            return
        if client is not None:
            await self._sync.apply_client(connection, client, envelope)
        if invoice is not None:
            await self._sync.apply_invoice(connection, invoice, envelope)
