"""TimeOffRecorded: the same request read twice is one event; any change of content is another."""

import datetime as dt
from decimal import Decimal

from timebridge_common.events.time_off import TimeOffRecorded

APPROVED = TimeOffRecorded(
    workspace_id="acme",
    integration_id="int_1",
    source="bamboohr",
    request_id="1342",
    employee_id="5",
    employee_email="ann@example.com",
    start=dt.date(2026, 11, 23),
    end=dt.date(2026, 11, 24),
    status="approved",
    unit="hours",
    amount=Decimal(12),
    days={dt.date(2026, 11, 23): Decimal(8), dt.date(2026, 11, 24): Decimal(4)},
    observed_at=dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC),
)


def test_read_again_later_is_the_same_event() -> None:
    later = APPROVED.model_copy(update={"observed_at": dt.datetime(2026, 11, 22, tzinfo=dt.UTC)})
    assert later.recorded_id() == APPROVED.recorded_id()


def test_a_cancellation_is_another_event() -> None:
    cancelled = APPROVED.model_copy(update={"status": "canceled"})
    assert cancelled.recorded_id() != APPROVED.recorded_id()


def test_the_json_round_trip_keeps_the_id() -> None:
    again = TimeOffRecorded.model_validate_json(APPROVED.model_dump_json())
    assert again.recorded_id() == APPROVED.recorded_id()
    assert again.days[dt.date(2026, 11, 24)] == Decimal(4)
