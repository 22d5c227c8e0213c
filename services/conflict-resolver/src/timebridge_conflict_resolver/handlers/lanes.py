"""Handling a batch of changes in concurrent lanes (issue 12).

One change at a time, the resolver spent ~75 ms per entry, nearly all of it waiting on round
trips (database, provider): 12.9 entries/s. Changes that touch different target records do not
depend on each other, so a batch is split into *lanes*: the records that share a key (the
changed entry, or the target record it lands in) fall into one lane, handled one after another in
the batch's order; lanes run concurrently, at most ``concurrency`` changes at once (below the
database pool size, which every change draws on).

What holds:

* **Per-key order.** Keys are joined transitively (an entry moved between two day records in
  one batch joins both records' lanes), so two versions of one entry, or two entries of one
  record, are never handled at once or out of order. Whatever the lanes cannot see (a move out
  of a record only the database knows) is still guarded by the write lease: the other change
  waits as a transient failure.
* **Invalid records never block.** One found invalid is reported for its position (dead-lettered
  by the consumer after the batch); the later records of its lane go on.
* **Transient failures retry.** A lane that fails stops (its later records must not overtake
  it); the other lanes finish, then the failure is raised so the consumer retries the batch.
  The changes already done are then no-ops (each one's inbox claim: ``processed``).

Per credential (:class:`PerCredential`, issue 12). A provider's budget is per credential: lanes
beyond what its rate keeps busy only wait on it, each holding a write lease (60 s) meanwhile.
So at most ``cap(credential)`` lanes of one credential run at once (about rate x latency + 1).
Where the provider lists its records (``shares(credential, lanes)``, given how many of the
batch's lanes draw on the credential), those lanes are the members of
one :class:`~timebridge_providers.kit.writes.ReadGroup`: their look-ups and read-backs are
answered by shared listings, and a member waiting for one gives its concurrency slot to another
lane meanwhile (it holds no database connection then).
"""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from timebridge_providers.kit.writes import ReadGroup

from timebridge_common.errors import InvalidMessageError

T = TypeVar("T")


def lanes_of(keys: Sequence[Sequence[Hashable]]) -> list[list[int]]:
    """The positions of each lane, in order: positions sharing any key, transitively."""
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[Hashable, int] = {}
    for i, item_keys in enumerate(keys):
        for key in item_keys:
            j = first.setdefault(key, i)
            a, b = root(i), root(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    lanes: dict[int, list[int]] = {}
    for i in range(len(keys)):
        lanes.setdefault(root(i), []).append(i)
    return list(lanes.values())


@dataclass(frozen=True)
class PerCredential(Generic[T]):
    """Which credential a change draws on, how many of its lanes run at once, and whether its
    lanes share their reads (see the module)."""

    of: Callable[[T], Hashable]
    cap: Callable[[Hashable], int]
    shares: Callable[[Hashable, int], bool]


@contextlib.asynccontextmanager
async def _released(gate: asyncio.Semaphore) -> AsyncIterator[None]:
    """The caller's slot of ``gate`` lent to another lane while the block waits."""
    gate.release()
    try:
        yield
    finally:
        await asyncio.shield(gate.acquire())


async def in_lanes(
    items: Sequence[T],
    keys: Callable[[T], Sequence[Hashable]],
    handle: Callable[[T], Awaitable[object]],
    *,
    concurrency: int,
    credentials: PerCredential[T] | None = None,
) -> list[InvalidMessageError | None]:
    """Handle ``items`` lane by lane (see the module); per item ``None`` or why it is invalid.

    Raises the first failure of a lane other than an invalid record, after every lane ended.
    """
    results: list[InvalidMessageError | None] = [None] * len(items)
    failures: list[BaseException] = []
    gate = asyncio.Semaphore(concurrency)
    per: PerCredential[T] = credentials or PerCredential(
        lambda _: None, lambda _: concurrency, lambda *_: False
    )
    caps: dict[Hashable, asyncio.Semaphore] = {}
    groups: dict[Hashable, ReadGroup] = {}
    all_lanes = lanes_of([keys(item) for item in items])
    lanes_per: Counter[Hashable] = Counter(per.of(items[lane[0]]) for lane in all_lanes)

    def limits(credential: Hashable) -> tuple[asyncio.Semaphore, ReadGroup | None]:
        if credential not in caps:
            caps[credential] = asyncio.Semaphore(max(1, per.cap(credential)))
            if per.shares(credential, lanes_per[credential]):
                groups[credential] = ReadGroup(idle=lambda: _released(gate))
        return caps[credential], groups.get(credential)

    async def lane(positions: list[int]) -> None:
        cap, group = limits(per.of(items[positions[0]]))
        async with cap, group.member() if group else contextlib.nullcontext():
            for i in positions:
                try:
                    async with gate:
                        await handle(items[i])
                except InvalidMessageError as exc:
                    results[i] = exc
                except Exception as exc:
                    failures.append(exc)
                    return

    async with asyncio.TaskGroup() as group:
        for positions in all_lanes:
            group.create_task(lane(positions))
    if failures:
        raise failures[0]
    return results
