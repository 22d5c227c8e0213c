"""The crossing decision and consumption: pure functions."""

import datetime as dt
from decimal import Decimal

from timebridge_contracts.domain.budgets import (
    Contribution,
    RateRule,
    consumption,
    decide,
    normalise_thresholds,
    rate_for,
)

D = Decimal


def test_a_threshold_crosses_once_and_stays_fired() -> None:
    first = decide((50, 80, 100), D(10), D("8.5"), fired=())
    assert (first.crossed, first.rearmed) == ((50, 80), ())
    again = decide((50, 80, 100), D(10), D("9"), fired=first.fired)
    assert (again.crossed, again.rearmed, again.fired) == ((), (), first.fired)


def test_dropping_below_rearms_and_crossing_again_fires_again() -> None:
    fired = frozenset({50, 80})
    lowered = decide((50, 80, 100), D(10), D("6"), fired)
    assert (lowered.crossed, lowered.rearmed, lowered.fired) == ((), (80,), frozenset({50}))
    back = decide((50, 80, 100), D(10), D("8"), lowered.fired)
    assert back.crossed == (80,)


def test_exactly_at_the_threshold_is_reached_and_jumping_past_several_fires_each() -> None:
    assert decide((80,), D(10), D(8), ()).crossed == (80,)
    assert decide((80,), D(10), D("7.9999"), ()).crossed == ()
    assert decide((50, 80, 100, 120), D(10), D(13), ()).crossed == (50, 80, 100, 120)


def test_a_zero_budget_is_reached_by_any_consumption() -> None:
    assert decide((50, 100), D(0), D(0), ()).crossed == ()
    assert decide((50, 100), D(0), D("0.01"), ()).crossed == (50, 100)


def test_default_thresholds() -> None:
    assert normalise_thresholds(None) == (50, 80, 100)
    assert normalise_thresholds([100, 80, 80]) == (80, 100)


def entry(
    n: int, seconds: int, day: int = 5, *, billable: bool = True, user: str = "u_1"
) -> Contribution:
    return Contribution(f"te_{n}", "p_1", None, user, dt.date(2026, 11, day), seconds, billable)


def test_consumption_hours_of_all_money_of_billable_and_monthly_periods() -> None:
    card = (RateRule(D(100)), RateRule(D(150), project_id="p_1", user_id="u_2"))
    entries = [
        entry(1, 3600),
        entry(2, 1800, billable=False),
        entry(3, 3600, user="u_2"),
        Contribution("te_4", "p_1", None, "u_1", dt.date(2026, 12, 1), 7200, True),
    ]
    total = consumption("total", entries, card)
    assert (total.hours, total.amount) == (D("4.5"), D(450))
    november = consumption("2026-11", entries, card)
    assert (november.hours, november.amount) == (D("2.5"), D(250))


def test_the_most_specific_rate_wins() -> None:
    card = (
        RateRule(D(90)),
        RateRule(D(120), project_id="p_1"),
        RateRule(D(150), project_id="p_1", user_id="u_2"),
    )
    assert rate_for(card, "p_1", "u_2") == D(150)
    assert rate_for(card, "p_1", "u_1") == D(120)
    assert rate_for(card, "p_9", "u_2") == D(90)
    assert rate_for((), "p_1", "u_1") == D(0)
