"""QuickBooks Time's changes by polling its change feed: ``modified_since`` on ``/timesheets``
for what changed and on ``/timesheets_deleted`` for what was deleted (tombstones, so no window is
re-listed and a deletion of any age is seen).

The cursor is JSON: the next ``modified_since`` (the newest ``last_modified`` seen, QuickBooks
Time's clock, minus an overlap that catches a change committed late) and the versions of what
the overlap lists again, so an unchanged timesheet is not reported twice. A running timer
(``on_the_clock``) is left out: it is reported once it stops (its ``last_modified`` moves then).
The collection lists no webhooks for timesheets, so the provider is polled.
"""

import datetime as dt
import json
from collections.abc import Sequence

from timebridge_common.errors import InvalidMessageError
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.kit.relisting import OVERLAP, deletion, stamped
from timebridge_providers.quickbooks_time.client import QuickBooksTimeClient
from timebridge_providers.quickbooks_time.translate import entry_fields
from timebridge_providers.quickbooks_time.wire import Timesheet


def _version(timesheet: Timesheet, deleted: bool = False) -> str:
    content = timesheet.model_dump_json(exclude={"last_modified"})
    return stamped(timesheet.last_modified, f"{deleted}{content}")


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class QuickBooksTimeObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one connection."""

    hooks: HookAdmin | None = None
    """No timesheet webhooks are documented: the provider is polled."""

    def __init__(self, client: QuickBooksTimeClient, zone: str) -> None:
        self._client = client
        self._zone = zone

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        since, reported = now - lookback, {}
        if cursor:
            try:
                data = json.loads(cursor)
                since = dt.datetime.fromisoformat(data["since"])
                reported = dict(data["reported"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidMessageError(f"not a QuickBooks Time poll cursor: {exc}") from exc
        stamp = _stamp(since)
        changed = [t async for t in self._client.timesheets(modified_since=stamp)]
        gone = [t async for t in self._client.deleted(modified_since=stamp)]
        seen = [(t, False) for t in changed if not t.on_the_clock] + [(t, True) for t in gone]
        changes = [
            self._change(t, now) if not deleted else _deleted(t, now)
            for t, deleted in seen
            if reported.get(str(t.id)) != _version(t, deleted)
        ]
        times = [t.last_modified for t, _ in seen if t.last_modified is not None]
        following = max(times) - OVERLAP if times else since
        again = {
            str(t.id): _version(t, deleted)
            for t, deleted in seen
            if t.last_modified is not None and t.last_modified >= following
        }
        state = {"since": following.isoformat(), "reported": again}
        return ChangePage(changes=changes, cursor=json.dumps(state, separators=(",", ":")))

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """Each named timesheet as it is now; one gone is reported deleted."""
        changes: list[Change] = []
        for hint in hints:
            found = (
                await self._client.timesheet(int(hint.external_id))
                if hint.external_id.isdigit()
                else None
            )
            if found is None:
                changes.append(
                    deletion(
                        hint.external_id, now, user=hint.user_id, task=hint.task_id, date=hint.date
                    )
                )
            elif not found.on_the_clock:
                changes.append(self._change(found, now))
        return changes

    def _change(self, timesheet: Timesheet, now: dt.datetime) -> Change:
        return Change(
            external_id=str(timesheet.id),
            fields=entry_fields(
                timesheet, zone=self._zone, billable=self._client.billable(timesheet.jobcode_id)
            ),
            updated_at=timesheet.last_modified or now,
        )


def _deleted(timesheet: Timesheet, now: dt.datetime) -> Change:
    return deletion(
        str(timesheet.id), timesheet.last_modified or now, user=timesheet.user_id,
        task=timesheet.jobcode_id or None, date=timesheet.date,
    )  # fmt: skip
