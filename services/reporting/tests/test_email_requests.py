"""What an emailed request asks for: a definition's name, or a plain sentence."""

import pytest

from timebridge_reporting.domain.email_requests import (
    NamedRequest,
    PlainRequest,
    limited_to,
    parse_request,
)
from timebridge_reporting.domain.report_model import ReportParams

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


def test_a_request_is_limited_to_the_senders_clients_or_refused() -> None:
    a, ab = frozenset({"cl_a"}), frozenset({"cl_a", "cl_b"})
    everything = ReportParams(kind="time")
    assert limited_to(everything, None) == everything  # a workspace-wide recipient
    assert limited_to(everything, ab) == ReportParams(kind="time", clients=("cl_a", "cl_b"))
    only_b = ReportParams(kind="billing", clients=("cl_b",))
    assert limited_to(only_b, a) is None  # another client's
    assert limited_to(only_b, ab) == only_b
    in_a = ReportParams(kind="time", projects=("p_1",))
    assert limited_to(in_a, a) == ReportParams(kind="time", projects=("p_1",), clients=("cl_a",))
    assert limited_to(ReportParams(kind="reconciliation"), ab) is None  # covers every client
    assert limited_to(ReportParams(kind="reconciliation"), None) is not None
