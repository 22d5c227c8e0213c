"""The in-memory time-off source behaves as the port says: changes since the cursor, every
status, nothing older than the lookback."""

import datetime as dt
from decimal import Decimal

from timebridge_providers.kit.fakes.time_off import FakeTimeOff
from timebridge_providers.kit.ports.time_off import TimeOffRequest, TimeOffSource

NOW = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 23)


def _request(external_id: str, day: dt.date = DAY) -> TimeOffRequest:
    return TimeOffRequest(
        external_id, "5", "ann@example.com", "Ann", day, day, "approved", "Vacation", "hours",
        Decimal(8), {day: Decimal(8)},
    )  # fmt: skip


async def test_changes_since_the_cursor_include_cancellations() -> None:
    fake = FakeTimeOff()
    source: TimeOffSource = fake
    fake.record(_request("1"))
    fake.record(_request("old", dt.date(2026, 1, 5)))
    first = await source.changes(None, now=NOW, lookback=dt.timedelta(days=31))
    assert [r.external_id for r in first.requests] == ["1"]
    assert (await source.changes(first.cursor, now=NOW, lookback=dt.timedelta(days=31))) == (
        type(first)((), first.cursor)
    )
    fake.set_status("1", "canceled")
    later = await source.changes(first.cursor, now=NOW, lookback=dt.timedelta(days=31))
    assert [(r.external_id, r.status) for r in later.requests] == [("1", "canceled")]
