"""Harvest's translation: decimal hours <-> seconds, wall-clock times, Rails time zones."""

import datetime as dt

import httpx
import pytest
from timebridge_providers.harvest import PROVIDER
from timebridge_providers.harvest.translate import (
    entry_body,
    entry_fields,
    hours_of,
    parse_wall_time,
    seconds_of,
    wall_time,
)
from timebridge_providers.harvest.wire import Ref, TimeEntry, User
from timebridge_providers.harvest.zones import RAILS_ZONES, iana_zone
from timebridge_providers.kit.session import Access, Session

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import RequestBudget

BERLIN = User(id=7, first_name="Ann", last_name="Admin", email="ann@example.com", timezone="Berlin")


def _entry(**fields: object) -> TimeEntry:
    base: dict[str, object] = {
        "id": 1,
        "spent_date": dt.date(2026, 3, 29),
        "user": Ref(id=7, name="Ann Admin"),
        "project": Ref(id=11),
        "task": Ref(id=22),
        "hours": 2.0,
        "notes": "n",
    }
    return TimeEntry.model_validate({**base, **fields})


def test_every_whole_second_of_a_day_survives_the_trip_through_decimal_hours() -> None:
    assert all(seconds_of(hours_of(s)) == s for s in range(0, 86_401))
    assert hours_of(5400) == 1.5


@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("8:00am", dt.time(8)),
        ("12:00am", dt.time(0)),
        ("12:30pm", dt.time(12, 30)),
        ("11:59pm", dt.time(23, 59)),
        ("13:05", dt.time(13, 5)),
        ("9pm", dt.time(21)),
    ],
)
def test_wall_times_in_harvest_forms(text: str, time: dt.time) -> None:
    assert parse_wall_time(text) == time
    assert parse_wall_time(wall_time(time)) == time


@pytest.mark.parametrize("text", ["13:00pm", "8:00xm", "", "25:00"])
def test_what_is_not_a_time_of_day_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="time of day"):
        parse_wall_time(text)


def test_rails_zone_names_map_to_zones_that_exist() -> None:
    wrong = [name for name in RAILS_ZONES if iana_zone(name) == "UTC" and "UTC" not in name]
    assert wrong == []
    assert iana_zone("Eastern Time (US & Canada)") == "America/New_York"
    assert iana_zone("Europe/Berlin") == "Europe/Berlin"
    assert iana_zone("Atlantis") == "UTC"
    assert iana_zone(None) == "UTC"


def test_a_start_across_the_spring_dst_change_is_read_in_the_users_zone() -> None:
    fields = entry_fields(_entry(started_time="1:30am", ended_time="4:30am"), BERLIN)
    assert fields.started_at == dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
    assert fields.duration_seconds == 7200  # hours, not end minus start on the wall clock
    assert fields.timezone == "Europe/Berlin"
    assert (fields.user.email, fields.user.name) == ("ann@example.com", "Ann Admin")


def test_an_entry_crossing_midnight_is_written_on_its_first_day() -> None:
    start = dt.datetime(2026, 11, 5, 22, 30, tzinfo=dt.UTC)  # 23:30 in Berlin
    fields = TimeEntryFields(
        user=UserRef(external_id="7"),
        project_external_id="11",
        task_external_id="22",
        date=dt.date(2026, 11, 5),
        started_at=start,
        duration_seconds=7200,
        billable=True,
    )
    body = entry_body(fields, timestamps=True, zone="Europe/Berlin", reference="core:te_1")
    assert body["spent_date"] == "2026-11-05"
    assert (body["started_time"], body["ended_time"]) == ("11:30pm", "1:30am")
    assert "hours" not in body
    assert body["external_reference"] == {"id": "core:te_1", "group_id": "timebridge"}
    by_duration = entry_body(fields, timestamps=False, zone="Europe/Berlin", with_user=False)
    assert by_duration["hours"] == 2.0
    assert "started_time" not in by_duration
    assert "user_id" not in by_duration


def test_ids_that_are_not_harvest_numbers_are_invalid_input() -> None:
    fields = TimeEntryFields(
        user=UserRef(external_id="u_1"),
        project_external_id="p_1",
        task_external_id="22",
        date=dt.date(2026, 11, 5),
        duration_seconds=60,
        billable=True,
    )
    with pytest.raises(InvalidMessageError, match="project id"):
        entry_body(fields, timestamps=False, zone="UTC")


async def test_a_session_without_the_account_id_is_refused_with_the_reason() -> None:
    async with httpx.AsyncClient() as http:
        bare = Session("harvest", Access("http://harvest.test/v2", "t"), http, RequestBudget(4, 1))
        with pytest.raises(InvalidMessageError, match="Harvest-Account-Id"):
            await PROVIDER.check(bare)
