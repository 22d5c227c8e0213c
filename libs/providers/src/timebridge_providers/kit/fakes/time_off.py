"""An in-memory :class:`~timebridge_providers.kit.ports.time_off.TimeOffSource`: an HR system's
time-off requests that a test records and changes; the cursor is a change counter, so a poll
sees every request recorded or changed since the last one, cancellations included."""

import datetime as dt
from dataclasses import dataclass, field, replace

from timebridge_providers.kit.ports.time_off import TimeOffPage, TimeOffRequest, TimeOffStatus


@dataclass
class FakeTimeOff:
    requests: dict[str, tuple[int, TimeOffRequest]] = field(default_factory=dict)
    """By id: the change number that last touched it, and the request as it stands."""
    changes_made: int = 0
    calls: list[str | None] = field(default_factory=list)

    def record(self, request: TimeOffRequest) -> None:
        self.changes_made += 1
        self.requests[request.external_id] = (self.changes_made, request)

    def set_status(self, external_id: str, status: TimeOffStatus) -> None:
        self.record(replace(self.requests[external_id][1], status=status))

    async def changes(
        self,
        cursor: str | None,
        *,
        now: dt.datetime,
        lookback: dt.timedelta,
    ) -> TimeOffPage:
        self.calls.append(cursor)
        since = int(cursor) if cursor and cursor.isdigit() else 0
        oldest = now.date() - lookback
        changed = tuple(
            request
            for number, request in sorted(self.requests.values(), key=lambda kv: kv[0])
            if number > since and request.end >= oldest
        )
        return TimeOffPage(changed, str(self.changes_made))
