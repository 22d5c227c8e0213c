"""The periodic work of invoice-export: first mirrors, change polls, webhook registration,
stalled exports.

Polling is the fallback to (and the check on) the tools' webhooks: a webhook can be lost, a
tool can be slow to send one, and QuickBooks and Xero webhooks depend on how the platform's app
is configured. Every connection is read for changes every ``interval_s`` (claimed with ``SKIP
LOCKED``, so replicas split the work and never poll one connection twice at once). A failure is
recorded on the connection (``last_error``) and the next tick tries again; it never stops the
loop.
"""

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

import structlog

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import ProviderError
from timebridge_invoice_export.handlers.connections import Connections, ToolUnusableError
from timebridge_invoice_export.handlers.invoices import Invoices
from timebridge_invoice_export.handlers.ports import Clock
from timebridge_invoice_export.handlers.stores import Store
from timebridge_invoice_export.handlers.sync import ToolSync
from timebridge_invoice_export.handlers.verifications import CallbackVerifications

log = structlog.get_logger(__name__)

MIRROR_MARGIN = dt.timedelta(minutes=2)
"""The first poll after a mirror looks back this far, for changes made while it ran."""


class Poller:
    def __init__(
        self,
        store: Store,
        connections: Connections,
        sync: ToolSync,
        invoices: Invoices,
        *,
        webhook_url: Callable[[str, str], str],
        interval_s: float,
        tick_s: float,
        stall_s: float,
        clock: Clock,
        verifications: CallbackVerifications,
    ) -> None:
        self._store = store
        self._verifications = verifications
        self._connections = connections
        self._sync = sync
        self._invoices = invoices
        self._webhook_url = webhook_url
        self._interval_s = interval_s
        self._tick_s = tick_s
        self._stall_s = stall_s
        self._clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due work now (a connection was just made)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("accounting poll tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick_s)

    async def tick(self) -> int:
        """Poll every due connection and re-request stalled exports; returns polls made."""
        async with self._store.tx() as tx:
            due = await tx.claim_due_polls(self._clock(), self._interval_s)
        for connection_id in due:
            await self.poll(connection_id)
        await self._invoices.rerequest_stalled(self._stall_s)
        return len(due)

    async def poll(self, connection_id: str) -> None:
        async with self._store.tx() as tx:
            connection = await tx.connection(connection_id)
        if connection is None or connection.status != "connected":
            return
        started = self._clock()
        cursor: dt.datetime | None = None
        mirrored = False
        error: str | None = None
        try:
            # Every poll: a callback deleted in the tool is registered again, and one whose
            # verification never arrived is asked for it again (FreshBooks; a no-op elsewhere).
            # Verifications FreshBooks posts meanwhile are held, then confirmed only for the
            # callback ids its answers name (handlers/verifications.py).
            url = self._webhook_url(connection.provider, connection_id)
            await self._verifications.registering(connection_id)
            async with self._connections.tool(connection) as tool:
                awaiting = await tool.ensure_webhooks(url)
            await self._verifications.registered(connection, awaiting)
            if connection.webhooks_registered_at is None:
                async with self._store.tx() as tx:
                    await tx.webhooks_registered(connection_id, self._clock())
            if connection.mirrored_at is None:
                count = await self._sync.mirror_all(connection)
                cursor, mirrored = started - MIRROR_MARGIN, True
                log.info("clients mirrored", connection_id=connection_id, changed=count)
            else:
                since = connection.changes_cursor or (started - MIRROR_MARGIN)
                cursor = await self._sync.poll(connection, since)
        except (ToolUnusableError, ProviderError, TransientError) as exc:
            error = str(exc)
            log.warning("accounting poll failed", connection_id=connection_id, error=error)
        async with self._store.tx() as tx:
            await tx.polled(
                connection_id, self._clock(), cursor=cursor, mirrored=mirrored, error=error
            )
