"""A raised limit replaces this service's share of one provider's budget, and only that one."""

import pytest

from timebridge_common.outbound.http import Budgets
from timebridge_conflict_resolver.bootstrap import RaisedLimits
from timebridge_conflict_resolver.config import Settings


def test_a_raised_limit_replaces_the_share_of_its_provider_only() -> None:
    budgets = RaisedLimits(Budgets(), {"tally": 1000})

    raised = budgets.get("tally", "https://tally", "key", (20, 10.0))
    other = budgets.get("home", "https://home", "token", (20, 10.0))

    assert (raised.limit, raised.window_s) == (1000, 10.0)
    assert (other.limit, other.window_s) == (20, 10.0)
    assert budgets.get("tally", "https://tally", "key", (20, 10.0)) is raised  # one per key


def test_raised_limits_are_read_per_provider_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TB_CREDENTIALS_URL", "http://credentials.test")
    monkeypatch.setenv("TB_SERVICE_TOKEN", "svc-token")
    monkeypatch.setenv("TB_RAISED_LIMITS__TALLY", "100000")

    assert Settings().raised_limits == {"tally": 100000}
