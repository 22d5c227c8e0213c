"""The Projects and rates page's pure parts: a project's own rate, and the rate form."""

import pytest

from timebridge_console.domain.billing import project_rates, rate_from_form
from timebridge_console.domain.choices import FormError


def test_a_projects_own_rate_is_shown_not_a_users_on_it_nor_a_trackers() -> None:
    rates: list[dict[str, str | None]] = [
        {"project_id": "p1", "user_id": None, "hourly_rate": "120", "source": "timebridge"},
        {"project_id": "p1", "user_id": "u1", "hourly_rate": "150", "source": "timebridge"},
        {"project_id": "p2", "user_id": None, "hourly_rate": "90", "source": "tracker:int_1"},
        {"project_id": None, "user_id": "u1", "hourly_rate": "80", "source": "timebridge"},
    ]
    assert {k: v["hourly_rate"] for k, v in project_rates(rates).items()} == {"p1": "120"}


def test_the_rate_form_takes_a_decimal_comma_and_a_lower_case_code() -> None:
    assert rate_from_form({"hourly_rate": " 95,50 ", "currency": "eur"}) == ("95.50", "EUR")


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"hourly_rate": "12O", "currency": "USD"}, "hourly rate as a number"),
        ({"hourly_rate": "-5", "currency": "USD"}, "hourly rate as a number"),
        ({"hourly_rate": "120", "currency": "dollars"}, "three-letter code"),
    ],
)
def test_a_wrong_rate_is_said_in_words(fields: dict[str, str], said: str) -> None:
    with pytest.raises(FormError, match=said):
        rate_from_form(fields)
