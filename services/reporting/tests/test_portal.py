"""The portal's rules: one-time tokens, link request limits, and a recipient's client scope."""

import datetime as dt

import pytest

from timebridge_reporting.domain.portal import (
    LINK_PREFIX,
    SESSION_PREFIX,
    LinkLimits,
    client_limit,
    link_text,
    may_request,
    new_token,
    receives,
    scope_of,
    token_hash,
    well_formed,
    within,
)
from timebridge_reporting.domain.report_model import ReportParams

T0 = dt.datetime(2026, 12, 6, 9, tzinfo=dt.UTC)


def test_tokens_are_random_well_formed_and_kept_only_as_their_hash() -> None:
    first, second = new_token(LINK_PREFIX), new_token(LINK_PREFIX)
    assert first != second
    assert well_formed(first, LINK_PREFIX)
    assert not well_formed(first, SESSION_PREFIX)  # a link is not a session, nor the reverse
    assert not well_formed(new_token(SESSION_PREFIX), LINK_PREFIX)
    assert len(token_hash(first)) == 32
    assert token_hash(first) == token_hash(first)
    assert token_hash(first) != token_hash(second)
    assert first.encode() not in token_hash(first)


@pytest.mark.parametrize(
    "token",
    ["", "tbl_", "tbl_short", "tbl_" + "a" * 101, "tbl_" + "é" * 30, "tbl_" + "a b" * 10,
     "xx_" + "a" * 40, "tbl_" + "a" * 30 + "\x00"],
)  # fmt: skip
def test_malformed_tokens_are_refused_before_any_lookup(token: str) -> None:
    assert not well_formed(token, LINK_PREFIX)


def test_a_bad_surrogate_does_not_break_hashing() -> None:
    assert len(token_hash("tbl_\udcff")) == 32


def test_link_requests_are_limited_per_address() -> None:
    limits = LinkLimits(min_interval=dt.timedelta(seconds=30), per_hour=3)
    assert may_request([], T0, limits)
    assert not may_request([T0], T0 + dt.timedelta(seconds=29), limits)
    assert may_request([T0], T0 + dt.timedelta(seconds=30), limits)
    three = [T0, T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=2)]
    assert not may_request(three, T0 + dt.timedelta(minutes=30), limits)
    assert may_request(three, T0 + dt.timedelta(minutes=61), limits)  # the first is an hour old


def test_a_definitions_client_limit_holds_only_where_its_kind_filters_by_client() -> None:
    assert client_limit(ReportParams(kind="time", clients=("cl_a",))) == frozenset({"cl_a"})
    both = ReportParams(kind="utilization", clients=("cl_a", "cl_b"))
    assert client_limit(both) == frozenset({"cl_a", "cl_b"})
    assert client_limit(ReportParams(kind="time")) is None
    # Billing keeps to its filter now (it did not: a client's contact saw every client's).
    assert client_limit(ReportParams(kind="billing", clients=("cl_a",))) == frozenset({"cl_a"})
    assert client_limit(ReportParams(kind="billing")) is None
    # Reconciliation covers the whole workspace whatever the filter says.
    assert client_limit(ReportParams(kind="reconciliation", clients=("cl_a",))) is None


def test_the_session_scope_is_the_union_of_its_definitions_limits_or_everything() -> None:
    a, b = frozenset({"cl_a"}), frozenset({"cl_b"})
    assert scope_of([a]) == a
    assert scope_of([a, b]) == a | b
    assert scope_of([a, None]) is None
    assert scope_of([]) == frozenset()


def test_only_data_within_the_scope_is_shown() -> None:
    a, ab = frozenset({"cl_a"}), frozenset({"cl_a", "cl_b"})
    assert within(a, a)
    assert within(a, ab)
    assert not within(frozenset({"cl_b"}), a)
    assert not within(ab, a)  # partly another client's
    assert not within(None, a)  # a workspace-wide report for a client's contact
    assert within(None, None)  # a manager's session
    assert within(a, None)


def test_recipients_match_without_regard_to_case() -> None:
    assert receives(("PM@Client.Example",), "pm@client.example")
    assert not receives(("pm@client.example",), "other@client.example")


def test_the_link_mail_says_how_long_the_link_works() -> None:
    text = link_text("http://console/portal/sign-in?token=tbl_x", "demo", dt.timedelta(minutes=15))
    assert "http://console/portal/sign-in?token=tbl_x" in text
    assert "15 minutes" in text
    assert "works once" in text
