"""The ``VerificationRows`` port in memory, for the verification handler's unit tests.

Each method does what its statement in ``adapters/verifications.py`` does.
"""

import datetime as dt
from dataclasses import dataclass

from timebridge_invoice_export.adapters.memory import MemoryStore
from timebridge_invoice_export.adapters.verifications import REGISTERING


@dataclass
class _Awaiting:
    awaited: bool
    attempts: int
    verifier: str | None
    expires_at: dt.datetime


class MemoryVerifications:
    """The ``VerificationRows`` port in memory (``adapters/verifications.py`` in Postgres),
    reading the verifiers kept on the connections of ``store``."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.rows: dict[tuple[str, str], _Awaiting] = {}

    async def registering(self, connection_id: str, until: dt.datetime) -> None:
        found = self.rows.get((connection_id, REGISTERING))
        if found is None:
            self.rows[(connection_id, REGISTERING)] = _Awaiting(False, 0, None, until)
        else:
            found.expires_at = until

    async def registered(self, connection_id: str) -> None:
        self.rows.pop((connection_id, REGISTERING), None)

    async def awaited(self, connection_id: str, callback_id: str, until: dt.datetime) -> str | None:
        held = self.rows.get((connection_id, callback_id))
        self.rows[(connection_id, callback_id)] = _Awaiting(True, 0, None, until)
        return None if held is None else held.verifier

    async def attempt(
        self, connection_id: str, callback_id: str, now: dt.datetime, max_attempts: int
    ) -> bool:
        row = self.rows.get((connection_id, callback_id))
        if row is None or not row.awaited or row.expires_at <= now or row.attempts >= max_attempts:
            return False
        row.attempts += 1
        return True

    async def hold(
        self,
        connection_id: str,
        callback_id: str,
        verifier: str,
        now: dt.datetime,
        max_held: int,
    ) -> bool:
        registering = self.rows.get((connection_id, REGISTERING))
        held = sum(
            1
            for (c, cb), row in self.rows.items()
            if c == connection_id and not row.awaited and cb != REGISTERING
        )
        if registering is None or registering.expires_at <= now or held >= max_held:
            return False
        existing = self.rows.get((connection_id, callback_id))
        if existing is not None and existing.awaited:
            return False
        self.rows[(connection_id, callback_id)] = _Awaiting(
            False, 0, verifier, registering.expires_at
        )
        return True

    async def done(self, connection_id: str, callback_id: str) -> None:
        self.rows.pop((connection_id, callback_id), None)

    async def is_verified(self, connection_id: str, callback_id: str) -> bool:
        found = self._store.state.connections.get(connection_id)
        return found is not None and callback_id in found.verifiers

    async def purge(self, now: dt.datetime) -> None:
        for key in [k for k, row in self.rows.items() if row.expires_at <= now]:
            del self.rows[key]
