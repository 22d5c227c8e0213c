"""What an emailed request asks for: a definition's name, or a plain sentence."""

import pytest

from timebridge_reporting.domain.email_requests import NamedRequest, PlainRequest, parse_request

NAMES = {"weekly time": "rdef_1"}


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Weekly time", "", NamedRequest("rdef_1")),
        ("RE: weekly  TIME", "", NamedRequest("rdef_1")),
        ("", "Weekly time", NamedRequest("rdef_1")),
        ("Hi", "Could I get the time report for last week for Globex Corporation? Thanks",
         PlainRequest("time", "previous_week", "Globex Corporation")),
        ("utilisation report for last month", "",
         PlainRequest("utilization", "previous_month", None)),
        ("billing report this month for p_1", "", PlainRequest("billing", "month_to_date", "p_1")),
        ("Hello", "how are you?", None),
        ("time report", "", None),
    ],
)  # fmt: skip
def test_requests_are_understood_or_not(subject: str, body: str, expected: object) -> None:
    assert parse_request(subject, body, NAMES) == expected
