"""The order in which a tracker carries out one planned :class:`~.ports.entries.Write`, said once.

Nothing to do is nothing; a delete removes the record the slot or the last read names (none
known: nothing to delete); an update changes that record; anything else creates one, and the
provider's ``create`` looks a lost earlier create up before sending it again (its answer may have
been lost after the provider applied it). Each package gives the three provider-specific steps;
what a step refuses (a move to another user or task, locked time) stays in the package.
"""

from collections.abc import Awaitable, Callable

from timebridge_common.events import TimeEntryFields
from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.kit.ports.entries import Observed, Slot, Write


async def carry_out(
    slot: Slot,
    write: Write,
    *,
    delete: Callable[[str], Awaitable[object]],
    update: Callable[[str, TimeEntryFields, Observed | None], Awaitable[object]],
    create: Callable[[TimeEntryFields], Awaitable[str]],
) -> str | None:
    """Run ``write`` on ``slot``; the id of a record created (or found), else ``None``."""
    if write.operation == "none":
        return None
    target = slot.target_id or (write.current.target_id if write.current else None)
    if write.operation == "delete":
        if target is not None:
            await delete(target)
        return None
    if write.desired is None:
        raise ValueError(f"a {write.operation} needs desired fields")
    if write.operation == "update" and target is not None:
        await update(target, write.desired, write.current)
        return None
    return await create(write.desired)


async def deleted(request: Awaitable[object]) -> bool:
    """A DELETE's outcome: ``True`` when it removed the record, ``False`` when the provider says
    it was already gone (404), which a retried delete or a race with a person makes ordinary."""
    try:
        await request
    except NotFoundError:
        return False
    return True
