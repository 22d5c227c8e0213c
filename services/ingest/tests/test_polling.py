"""Polling decisions: how often each frequency polls (what a poll counts as a change is the
provider package's: libs/providers/tests/test_everhour_observe.py)."""

import datetime as dt

import pytest

from timebridge_common.events import IntegrationSettings
from timebridge_ingest.domain.polling import SAFETY_NET, poll_interval


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
