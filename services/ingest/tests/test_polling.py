"""Polling decisions: how often each frequency polls (what a poll counts as a change is the
provider package's: libs/providers/tests/test_everhour_observe.py)."""

import datetime as dt

import pytest

from timebridge_common.events import IntegrationSettings
from timebridge_ingest.domain.polling import SAFETY_NET, next_poll_at, poll_interval


@pytest.mark.parametrize(
    ("frequency", "interval"),
    [
        ("every_5_minutes", dt.timedelta(minutes=5)),
        ("hourly", dt.timedelta(hours=1)),
        ("daily", dt.timedelta(days=1)),
        ("realtime", SAFETY_NET),
    ],
)
def test_each_frequency_polls_at_its_interval(frequency: str, interval: dt.timedelta) -> None:
    settings = IntegrationSettings.model_validate({"frequency": frequency})
    assert poll_interval(settings) == interval


def test_realtime_is_polled_hourly_as_a_safety_net_for_lost_webhooks() -> None:
    assert dt.timedelta(hours=1) == SAFETY_NET


def test_realtime_without_webhooks_polls_as_often_as_polling_goes() -> None:
    realtime = IntegrationSettings.model_validate({"frequency": "realtime"})
    daily = IntegrationSettings.model_validate({"frequency": "daily"})
    assert poll_interval(realtime, webhooks=False) == dt.timedelta(minutes=5)
    assert poll_interval(daily, webhooks=False) == dt.timedelta(days=1)


BERLIN_DAILY = IntegrationSettings(frequency="daily", timezone="Europe/Berlin")


def utc(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (utc(11, 20, 10), utc(11, 20, 23)),  # CET: Berlin's midnight is 23:00 UTC
        (utc(7, 20, 10), utc(7, 20, 22)),  # CEST: 22:00 UTC
        (utc(3, 28, 23) + dt.timedelta(seconds=5), utc(3, 29, 22)),  # a 23-hour day
        (utc(10, 24, 22) + dt.timedelta(seconds=5), utc(10, 25, 23)),  # a 25-hour day
    ],
)
def test_daily_is_polled_at_the_end_of_the_workspaces_day(
    now: dt.datetime, due: dt.datetime
) -> None:
    assert next_poll_at(BERLIN_DAILY, now) == due


def test_the_daily_sync_at_override_is_a_fixed_utc_time() -> None:
    assert next_poll_at(BERLIN_DAILY, utc(11, 20, 10), daily_at=dt.time(2, 30)) == utc(
        11, 21, 2, 30
    )


def test_other_frequencies_are_intervals_from_now() -> None:
    hourly = IntegrationSettings(frequency="hourly", timezone="Asia/Tokyo")
    assert next_poll_at(hourly, utc(11, 20, 10, 7)) == utc(11, 20, 11, 7)
