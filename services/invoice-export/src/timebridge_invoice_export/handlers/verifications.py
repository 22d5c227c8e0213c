"""FreshBooks callback verification, acted on only for callbacks FreshBooks returned to us.

FreshBooks confirms that we own a callback URI by POSTing ``name=callback.verify`` with the
callback's id (``object_id``) and a ``verifier`` to it; we PUT the verifier back with the
connection's OAuth token. That POST is unsigned (the verifier is the secret it delivers), so
anyone who knows a connection's callback URL can send one. Before, each forged one made an
authenticated call to FreshBooks (quota, tokens refreshed, requests in the tenant's log).

Now a posted verification leads to a call only for a callback **we** registered (its id came
back from FreshBooks' own answer to our create or resend) that is still awaiting verification,
and at most :data:`MAX_ATTEMPTS` times per request for it (:data:`AWAIT`); anything else is
refused (``409``) without any call. FreshBooks itself still checks the verifier, so a wrong one
achieves nothing but spending an attempt (the next poll asks FreshBooks to post it again).

A verification may arrive before our create call returns the id (FreshBooks posts it at once).
While our registration is under way (:data:`REGISTERING`, at most a couple of minutes), such a
verifier is only *held* (encrypted, at most :data:`MAX_HELD` per connection, no call made); once
FreshBooks' answer names the callback, the held verifier is confirmed from our own flow. A held
verifier for an id FreshBooks never returned to us is never used, and expires.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import structlog

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import ProviderError
from timebridge_common.refusals import ConflictError, InvalidError
from timebridge_invoice_export.domain.accounting import title
from timebridge_invoice_export.domain.connections import AccountingConnection
from timebridge_invoice_export.handlers.connections import Connections, ToolUnusableError
from timebridge_invoice_export.handlers.ports import Clock
from timebridge_invoice_export.handlers.stores import Store, VerificationRows

log = structlog.get_logger(__name__)

AWAIT = dt.timedelta(hours=1)
# How long a callback the tool returned to us awaits its verification (each poll that finds it
# unverified asks the tool to post it again, and awaits it anew).
REGISTERING = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 3
MAX_HELD = 10

Outcome = Literal["verified", "already verified", "held"]


class CallbackVerifications:
    def __init__(
        self,
        store: Store,
        verifications: VerificationRows,
        connections: Connections,
        clock: Clock,
    ) -> None:
        self._store = store
        self._rows = verifications
        self._connections = connections
        self._clock = clock

    async def registering(self, connection_id: str) -> None:
        """Our registration (create or resend) starts: verifications posted meanwhile are held."""
        now = self._clock()
        await self._rows.purge(now)
        await self._rows.registering(connection_id, now + REGISTERING)

    async def registered(
        self, connection: AccountingConnection, callback_ids: Sequence[str]
    ) -> None:
        """FreshBooks answered our registration with these unverified callbacks: await their
        verification, and confirm at once those whose verifier was already posted."""
        until = self._clock() + AWAIT
        held = {}
        for callback_id in callback_ids:
            verifier = await self._rows.awaited(connection.connection_id, callback_id, until)
            if verifier is not None:
                held[callback_id] = verifier
        await self._rows.registered(connection.connection_id)
        for callback_id, verifier in held.items():
            try:
                await self._confirm(connection, callback_id, verifier)
            except (InvalidError, TransientError) as exc:
                log.warning("held webhook verifier not confirmed", reason=str(exc))

    async def posted(
        self, connection: AccountingConnection, callback_id: str, verifier: str
    ) -> Outcome:
        """FreshBooks (or anyone) posted a verification for one of the connection's callbacks."""
        connection_id = connection.connection_id
        if await self._rows.is_verified(connection_id, callback_id):
            return "already verified"  # nothing to do, nothing called
        now = self._clock()
        if await self._rows.attempt(connection_id, callback_id, now, MAX_ATTEMPTS):
            await self._confirm(connection, callback_id, verifier)
            return "verified"
        if await self._rows.hold(connection_id, callback_id, verifier, now, MAX_HELD):
            log.info("webhook verifier held", connection_id=connection_id, callback=callback_id)
            return "held"
        tool = title(connection.provider)
        raise ConflictError(
            f"no verification of {tool} callback {callback_id} is awaited for connection"
            f" {connection_id} (not one {tool} returned to us, already tried"
            f" {MAX_ATTEMPTS} times, or expired): nothing done"
        )

    async def _confirm(
        self, connection: AccountingConnection, callback_id: str, verifier: str
    ) -> None:
        """PUT the verifier to FreshBooks (which refuses a wrong one) and keep it for checking
        the signatures of the callback's deliveries."""
        try:
            async with self._connections.tool(connection) as tool:
                await tool.verify_webhook_registration(callback_id, verifier)
        except ToolUnusableError as exc:
            raise InvalidError(str(exc)) from exc
        except ProviderError as exc:
            raise InvalidError(
                f"{title(connection.provider)} refused this verification: {exc}"
            ) from exc
        async with self._store.tx() as tx:
            await tx.add_webhook_verifier(connection.connection_id, callback_id, verifier)
        await self._rows.done(connection.connection_id, callback_id)
        log.info(
            "webhook callback verified",
            connection_id=connection.connection_id,
            callback=callback_id,
        )
