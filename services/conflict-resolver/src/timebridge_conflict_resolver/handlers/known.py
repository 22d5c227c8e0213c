"""What one change reads before it decides, asked of the store at once (``SyncStore.known``).

Each change asks when its lane reaches it, after the lane's previous changes committed, so
nothing it reads is older than it was when each read was its own round trip (issue 12: those
were up to seven per change, one by one); the single statement even reads them in one snapshot.

A batch's changes also read their integration's connection copy once per batch
(``batch_connections``): a change of it reaches this copy through its own consumer anyway, at
some point between two batches as much as within one.
"""

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from timebridge_common.errors import TransientError
from timebridge_common.events import ConnectionChanged
from timebridge_conflict_resolver.domain.decisions import in_flight
from timebridge_conflict_resolver.domain.matching import candidate
from timebridge_conflict_resolver.domain.plans import Job
from timebridge_conflict_resolver.domain.records import slot_key
from timebridge_conflict_resolver.handlers.ports import Ask, Connections, Known

_BATCH: ContextVar[dict[str, "asyncio.Future[ConnectionChanged | None]"] | None] = ContextVar(
    "resolver_batch_connections", default=None
)
"""The connection copies this batch read or is reading (its lanes' tasks share the dict)."""


@contextlib.contextmanager
def batch_connections() -> Iterator[None]:
    """Within the block (one batch), each connection copy is read once (``connection``)."""
    token = _BATCH.set({})
    try:
        yield
    finally:
        _BATCH.reset(token)


async def connection(connections: Connections, connection_id: str) -> ConnectionChanged | None:
    """The copy of ``connection_id``: once per batch within ``batch_connections`` (lanes
    starting together wait for the same read; a failed read fails them all, and the batch is
    retried), else read."""
    reads = _BATCH.get()
    if reads is None:
        return await connections.get(connection_id)
    read = reads.get(connection_id)
    if read is None:
        read = reads[connection_id] = asyncio.ensure_future(connections.get(connection_id))
    return await asyncio.shield(read)


def ask(job: Job, lease_s: float) -> Ask:
    """The reads routing ``job`` may need: its link, its copy, the leases on it (a delivery
    only), the record it lands in and the day's observations (an upsert not forced)."""
    event = job.event
    keys: tuple[str, ...] = ()
    day = None
    if event.operation == "upsert":
        key = slot_key(
            job.pair.of(event.target), event.source, event.source_external_id, event.entry
        )
        keys = (key,) if key else ()
        if job.forced is None:
            seen = candidate(event)
            day = (seen.workspace_id, seen.person, seen.date)
    return Ask(
        event.integration_id,
        event.source,
        event.source_external_id,
        event.target,
        keys,
        owner=job.owner if job.claim is not None else None,
        lease_s=lease_s,
        day=day,
    )


def not_being_written(job: Job, known: Known) -> None:
    """An observed record that another attempt is writing right now is retried until that
    attempt commits (``in_flight``): then it is known as Timebridge's own (an echo, or an
    edit compared with what was confirmed). Decided before, a tracker record the resolver
    had just created was taken for someone's new entry, copied to Core, and the next Core
    edit created a second tracker record."""
    event = job.event
    if in_flight(known.leases, event.source_external_id, event.source_entry):
        raise TransientError(
            f"{event.source} {event.source_external_id} is being written by another change:"
            " decided once that write is committed"
        )
