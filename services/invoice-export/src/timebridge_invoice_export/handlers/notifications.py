"""The accounting tools' webhooks: verified, made durable in Kafka, then acted on.

How a tool signs and words its deliveries is its provider package's
(:class:`~timebridge_providers.kit.ports.accounting.WebhookSpec`): per-app webhooks
(QuickBooks ``intuit-signature``, Xero ``x-xero-signature``: an HMAC of the raw body under the
app's secret, each notice naming its company and time) and per-connection ones (FreshBooks
callbacks, signed with each callback's verifier). A receiver checks the signature on the raw
body before reading it. A valid delivery becomes one ``AccountingChangeNotified`` per record it
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
callback), and acting on a notification means calling the tool for the connection, whose access
token only this service asks the credential owner for.
"""

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog
from timebridge_providers.kit.ports.accounting import (
    Entity,
    Notice,
    RegistrationCheck,
    ToolPayment,
    WebhookSpec,
)

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import AccountingChangeNotified, Envelope
from timebridge_common.events.payments import AccountingPaymentNotified
from timebridge_common.kafka.publisher import EventPublisher, publish_acknowledged
from timebridge_common.refusals import InvalidError, NotFoundError, RefusedError
from timebridge_common.webhooks.replay import ReplayWindow, publish_once
from timebridge_invoice_export.domain.accounting import title
from timebridge_invoice_export.domain.connections import AccountingConnection
from timebridge_invoice_export.handlers.connections import Connections, ToolUnusableError
from timebridge_invoice_export.handlers.ports import AccountingTools, Clock
from timebridge_invoice_export.handlers.stores import Store
from timebridge_invoice_export.handlers.sync import ToolSync
from timebridge_invoice_export.handlers.verifications import CallbackVerifications

log = structlog.get_logger(__name__)


class UnauthenticatedError(RefusedError):
    status = 401


# How old a change of a per-app webhook may be and still be acted on. Tools retry a delivery we
# did not answer 2xx (Xero for 24 h, QuickBooks every 6 h on): anything older was missed by the
# webhooks and is reconciled by the poll, so a signed delivery replayed later costs no read of
# the tool. Older changes are acknowledged 200 with "ignored" and nothing published: a 4xx would
# make the tool retry them forever (QuickBooks holds back later events, Xero disables the
# subscription after 24 h).
MAX_AGE = dt.timedelta(hours=24)
REPLAY_MARGIN = dt.timedelta(minutes=5)
"""Kept this much longer than the payload's age limit (clocks differ a little)."""


@dataclass(frozen=True)
class Delivery:
    """What a receiver did with a delivery (the JSON answer of the receivers that answer one)."""

    status: Literal["accepted", "duplicate", "ignored", "verified", "held"]
    events: int = 0
    reason: str | None = None


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


Noticed = AccountingChangeNotified | AccountingPaymentNotified
"""The event of a webhook's notice (payments have their own)."""

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


def _parsed(spec: WebhookSpec, body: bytes) -> list[Notice] | RegistrationCheck:
    try:
        return spec.parse(body)
    except InvalidMessageError as exc:
        raise InvalidError(exc.reason) from exc


class Notifications:
    def __init__(
        self,
        store: Store,
        connections: Connections,
        sync: ToolSync,
        publisher: EventPublisher,
        *,
        tools: AccountingTools,
        publish_timeout_s: float,
        window: ReplayWindow,
        verifications: CallbackVerifications,
        connection_window_s: float,
        clock: Clock,
    ) -> None:
        self._store = store
        self._connections = connections
        self._sync = sync
        self._publisher = publisher
        self._tools = tools
        self._timeout = publish_timeout_s
        self._window = window
        self._verifications = verifications
        self._connection_window = dt.timedelta(seconds=connection_window_s)
        self._clock = clock

    def spec(self, provider: str, scope: Literal["app", "connection"]) -> WebhookSpec:
        """How ``provider`` delivers webhooks of ``scope``; a 404 if it does not."""
        spec = self._tools.webhooks(provider)
        if spec is None or spec.scope != scope:
            raise NotFoundError(f"no {scope} webhooks of an accounting tool {provider!r}")
        return spec

    async def app_delivery(self, provider: str, body: bytes, signature: str | None) -> Delivery:
        """One endpoint for every connected company of a tool with per-app webhooks (answered
        ``401`` unless the signature is right: a tool may check that a wrong one is refused)."""
        spec = self.spec(provider, "app")
        secret = self._tools.webhook_secret(provider)
        if not secret:
            raise NotFoundError(
                f"{title(provider)} webhooks are not configured"
                f" (TB_{provider.upper()}__WEBHOOK_SECRET)"
            )
        if not spec.verify(secret, body, signature):
            raise UnauthenticatedError(f"{spec.signature_header} does not sign this body")
        parsed = _parsed(spec, body)
        if isinstance(parsed, RegistrationCheck):
            raise InvalidError(f"{title(provider)} registers no webhooks per company")
        notes: list[Note] = [
            (n.tenant_id or "", n.entity, n.external_id, n.operation, n.occurred_at) for n in parsed
        ]
        return await self._timed(provider, _digest(body), notes)

    async def _timed(self, provider: str, key: str, notes: Sequence[Note]) -> Delivery:
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

    async def connection_delivery(
        self, provider: str, connection_id: str, body: bytes, signature: str | None
    ) -> Delivery:
        """A webhook of one connection (FreshBooks callbacks): its registration's verification,
        or a signed event."""
        spec = self.spec(provider, "connection")
        async with self._store.tx() as tx:
            connection = await tx.connection(connection_id)
            verifiers = [] if connection is None else await tx.webhook_verifiers(connection_id)
        if connection is None or connection.provider != provider:
            raise NotFoundError(f"no {title(provider)} connection {connection_id}")
        parsed = _parsed(spec, body)
        if isinstance(parsed, RegistrationCheck):
            if parsed.tenant_id is not None and parsed.tenant_id != connection.tenant_id:
                raise InvalidError(f"the verification is for another {title(provider)} account")
            if not 0 < len(parsed.verifier) <= 200 or not parsed.verifier.isprintable():
                raise InvalidError("the verifier is not printable text of 1-200 characters")
            outcome = await self._verifications.posted(
                connection, parsed.registration_id, parsed.verifier
            )
            return Delivery("held" if outcome == "held" else "verified", 0, outcome)
        if not any(spec.verify(v, body, signature) for v in verifiers):
            raise UnauthenticatedError(f"{spec.signature_header} does not sign this form")
        if not parsed:
            return Delivery("ignored", 0, f"this {title(provider)} event is not followed")
        notes = _checked(
            [(connection_id, n.entity, n.external_id, n.operation, None) for n in parsed]
        )
        events = [
            _noticed(
                connection.workspace_id,
                connection_id,
                provider,
                entity=entity,
                external_id=external_id,
                operation=op,
            )
            for _, entity, external_id, op, _ in notes
        ]

        async def publish() -> int:
            await self._publish(events)
            return len(events)

        # No time nor delivery id in such a delivery: the key is the digest of what is signed,
        # kept for the window (a genuine identical notice inside it is the poll's).
        expires_at = self._clock() + self._connection_window
        key = _digest(spec.signed(body))
        return await self._once(f"{provider}:{connection_id}", key, expires_at, publish)

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

    async def _notify(self, provider: str, notes: Sequence[Note]) -> int:
        events: list[Noticed] = []
        async with self._store.tx() as tx:
            for tenant_id, entity, external_id, operation, occurred_at in notes:
                for connection_id in await tx.connections_of_tenant(provider, tenant_id):
                    connection = await tx.connection(connection_id)
                    assert connection is not None
                    events.append(
                        _noticed(
                            connection.workspace_id,
                            connection_id,
                            provider,
                            entity=entity,
                            external_id=external_id,
                            operation=operation,
                            occurred_at=occurred_at,
                        )
                    )
        await self._publish(events)
        return len(events)

    async def _publish(self, events: Sequence[Noticed]) -> None:
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
        payments: list[ToolPayment] = []
        try:
            async with self._connections.tool(connection) as tool:
                if event.entity == "client":
                    client = await tool.client(event.external_id)
                    invoice = None
                else:
                    invoice = await tool.invoice(event.external_id)
                    client = None
                    if await self._payments_behind(connection, event.external_id):
                        payments = await tool.invoice_payments(event.external_id)
        except ToolUnusableError as exc:
            log.warning("notification not applied", reason=str(exc))
            return
        if client is not None:
            await self._sync.apply_client(connection, client, envelope)
        if invoice is not None:
            await self._sync.apply_invoice(connection, invoice, envelope)
        for payment in payments:
            await self._sync.payments.apply_payment(connection, payment, envelope)

    async def handle_payment(self, envelope: Envelope, event: AccountingPaymentNotified) -> None:
        """Read the payment the webhook named and apply it (consumer; idempotent): the same
        :meth:`PaymentSync.apply_payment` as the poll, so whichever sees a change first
        publishes it and the other finds nothing new."""
        async with self._store.tx() as tx:
            connection = await tx.connection(event.connection_id)
        if connection is None or connection.status != "connected":
            return
        try:
            async with self._connections.tool(connection) as tool:
                seen = await tool.payment(event.external_id)
        except ToolUnusableError as exc:
            log.warning("payment notification not applied", reason=str(exc))
            return
        if seen is not None:
            await self._sync.payments.apply_payment(connection, seen, envelope)

    async def _payments_behind(self, connection: AccountingConnection, tool_id: str) -> bool:
        """Whether an invoice notice stands for payments too: the tool sends no webhook of its
        own for them (Xero), and the invoice is one of ours in the tool."""
        spec = self._tools.webhooks(connection.provider)
        if spec is None or not spec.invoice_notices_cover_payments:
            return False
        async with self._store.tx() as tx:
            invoice = await tx.invoice_by_tool_id(connection.connection_id, tool_id)
        return invoice is not None and invoice.status in ("exported", "deleted")


def _noticed(
    workspace_id: str,
    connection_id: str,
    provider: str,
    *,
    entity: Entity,
    external_id: str,
    operation: str,
    occurred_at: dt.datetime | None = None,
) -> Noticed:
    """The event of one notice: payments have their own (``AccountingPaymentNotified``)."""
    if entity == "payment":
        return AccountingPaymentNotified(
            workspace_id=workspace_id,
            connection_id=connection_id,
            provider=provider,
            external_id=external_id,
            operation=operation,
            occurred_at=occurred_at,
        )
    return AccountingChangeNotified(
        workspace_id=workspace_id,
        connection_id=connection_id,
        provider=provider,
        entity=entity,
        external_id=external_id,
        operation=operation,
        occurred_at=occurred_at,
    )
