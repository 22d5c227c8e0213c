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

Why here and not in ingest: the signatures of FreshBooks deliveries need the verifier of each
callback, which only the owner of the connection learns (when it registers and confirms the
callback), and acting on a notification needs the connection's OAuth tokens, which must have a
single owner because refresh tokens rotate.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import structlog

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import AccountingChangeNotified, Envelope
from timebridge_common.kafka.publisher import EventPublisher, publish_acknowledged
from timebridge_common.refusals import InvalidError, NotFoundError, RefusedError
from timebridge_invoice_export.adapters import freshbooks, quickbooks, xero
from timebridge_invoice_export.adapters.postgres import Store
from timebridge_invoice_export.domain.accounting import Provider
from timebridge_invoice_export.handlers.connections import Connections, ToolUnusableError
from timebridge_invoice_export.handlers.sync import ToolSync

log = structlog.get_logger(__name__)


Entity = Literal["client", "invoice"]
QUICKBOOKS_ENTITIES: dict[str, Entity] = {"Customer": "client", "Invoice": "invoice"}
XERO_CATEGORIES: dict[str, Entity] = {"CONTACT": "client", "INVOICE": "invoice"}
FRESHBOOKS_NOUNS: dict[str, Entity] = {"client": "client", "invoice": "invoice"}


class UnauthenticatedError(RefusedError):
    status = 401


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
    ) -> None:
        self._store = store
        self._connections = connections
        self._sync = sync
        self._publisher = publisher
        self._quickbooks_verifier = quickbooks_verifier
        self._xero_key = xero_webhook_key
        self._timeout = publish_timeout_s

    async def quickbooks(self, body: bytes, signature: str | None) -> int:
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
        return await self._notify("quickbooks", notes)

    async def xero(self, body: bytes, signature: str | None) -> int:
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
        notes = [
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
        return await self._notify("xero", notes)

    async def freshbooks(
        self, connection_id: str, fields: Sequence[tuple[str, str]], signature: str | None
    ) -> int:
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
            await self._confirm(connection_id, str(delivery.object_id), delivery.verifier)
            return 0
        if not any(freshbooks.verify_webhook(v, fields, signature) for v in verifiers):
            raise UnauthenticatedError(f"{freshbooks.SIGNATURE_HEADER} does not sign this form")
        noun, _, operation = delivery.name.partition(".")
        if noun not in FRESHBOOKS_NOUNS:
            return 0
        event = AccountingChangeNotified(
            workspace_id=connection.workspace_id,
            connection_id=connection_id,
            provider="freshbooks",
            entity=FRESHBOOKS_NOUNS[noun],
            external_id=str(delivery.object_id),
            operation=operation or delivery.name,
        )
        await self._publish([event])
        return 1

    async def _confirm(self, connection_id: str, callback_id: str, verifier: str) -> None:
        """FreshBooks posted a callback's verifier: confirm it with FreshBooks (which refuses a
        wrong one, so a forged verification achieves nothing) and keep it for signatures."""
        async with self._store.tx() as tx:
            connection = await tx.connection(connection_id)
        assert connection is not None
        try:
            async with self._connections.tool(connection) as tool:
                await tool.verify_webhook_registration(callback_id, verifier)
        except ToolUnusableError as exc:
            raise InvalidError(str(exc)) from exc
        async with self._store.tx() as tx:
            await tx.add_webhook_verifier(connection_id, callback_id, verifier)
        log.info("FreshBooks callback verified", connection_id=connection_id, callback=callback_id)

    async def _notify(
        self,
        provider: Provider,
        notes: Sequence[tuple[str, Entity, str, str, dt.datetime | None]],
    ) -> int:
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
