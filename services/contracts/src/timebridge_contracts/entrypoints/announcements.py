"""At start-up: announce the budgets that were never announced (``announce_pending``), retrying
while the database is unreachable; a background task that ends once it is done."""

import asyncio

import structlog

from timebridge_contracts.handlers.budgets import Clock, announce_pending
from timebridge_contracts.handlers.ports import Store

log = structlog.get_logger(__name__)


class PendingAnnouncements:
    def __init__(self, store: Store, clock: Clock, *, max_delay_s: float = 30.0) -> None:
        self._store = store
        self._clock = clock
        self._max_delay_s = max_delay_s
        self.done = asyncio.Event()
        """Set when every pending budget was announced (tests wait for it)."""

    async def run(self) -> None:
        delay = min(1.0, self._max_delay_s)
        while True:
            try:
                announced = await announce_pending(self._store, self._clock)
            except Exception as exc:  # the database is back later: try again, never give up
                log.warning("announcing pending budgets failed, retrying", error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay_s)
                continue
            if announced:
                log.info("pending budgets announced", budgets=announced)
            self.done.set()
            return
