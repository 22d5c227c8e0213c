"""Core time entries as an :class:`~timebridge_providers.kit.ports.entries.EntryStore`.

One entry per source entry: the slot key (:func:`~timebridge_providers.kit.ports.entries.entry_key`,
``<source>:<source id>``) is also the ``external_ref`` the entry is created with, so it is found
again after a lost answer or before its id is known. Creates carry an ``Idempotency-Key``;
updates name the version they were decided on (``If-Match``), so an answer that means "changed
since the read" (``412``, or ``404`` for an entry deleted meanwhile) is ``TransientError``.
"""

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.core.client import (
    CoreClient,
    ExternalRef,
    TimeEntryWrite,
    VersionConflictError,
)
from timebridge_providers.core.client import EntryLockedError as CoreLockedError
from timebridge_providers.core.translate import entry_fields, writable
from timebridge_providers.kit.ports.entries import (
    EntryLockedError,
    Observed,
    Slot,
    Write,
    parse_entry_key,
)
from timebridge_providers.kit.session import Access


class CoreEntries:
    """Core time entries, found by id or by the ``external_ref`` they were created with."""

    def __init__(self, client: CoreClient) -> None:
        self._client = client

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            entry = await self._client.find_by_external_ref(*parse_entry_key(slot.key))
        else:
            try:
                entry = await self._client.time_entry(slot.target_id)
            except NotFoundError:
                return None
        if entry is None or entry.deleted_at is not None:
            return None
        return Observed(entry.id, entry_fields(entry), entry.updated_at, entry.version)

    async def write(self, slot: Slot, write: Write) -> str | None:
        try:
            return await self._write(slot, write)
        except CoreLockedError as exc:
            raise EntryLockedError(
                exc.provider, exc.method, exc.path, exc.status, exc.body
            ) from exc
        except (VersionConflictError, NotFoundError) as exc:
            raise TransientError(f"the Core entry changed meanwhile ({exc.status})") from exc

    async def _write(self, slot: Slot, write: Write) -> str | None:
        desired, current = write.desired, write.current
        if write.operation == "create":
            assert desired is not None
            system, external_id = parse_entry_key(slot.key)
            ref = ExternalRef(system=system, id=external_id)
            fields = TimeEntryWrite(**writable(desired), external_ref=ref)
            key = write.idempotency_key
            return (await self._client.create_time_entry(fields, idempotency_key=key)).id
        assert current is not None
        if write.operation == "delete":
            await self._client.delete_time_entry(current.target_id)
            return None
        assert desired is not None
        assert current.version is not None
        before = writable(current.fields)
        changed = {k: v for k, v in writable(desired).items() if before[k] != v}
        await self._client.update_time_entry(
            current.target_id, TimeEntryWrite(**changed), if_version=current.version
        )
        return None


def opener(
    factory: Callable[[str, str], CoreClient],
) -> Callable[[Access], AbstractAsyncContextManager[CoreEntries]]:
    """Entries on clients ``factory`` builds from (base URL, token), closed after use: for
    callers that build their own clients (tests: a sandbox on fake time)."""

    @contextlib.asynccontextmanager
    async def open_entries(access: Access) -> AsyncIterator[CoreEntries]:
        async with factory(access.base_url, access.credential) as client:
            yield CoreEntries(client)

    return open_entries
