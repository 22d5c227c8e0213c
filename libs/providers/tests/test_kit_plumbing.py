"""The kit's client plumbing: what a provider's ``client(session)`` takes from a session."""

import httpx
import pytest
from timebridge_providers import harvest
from timebridge_providers.kit.plumbing import plumbing, required_extra
from timebridge_providers.kit.session import Access, Session

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import RequestBudget


def _session(extra: dict[str, str]) -> Session:
    access = Access("https://tracker.test", "key", extra)
    return Session("harvest", access, httpx.AsyncClient(), RequestBudget(10, 1.0))


async def test_plumbing_is_the_sessions_pool_budget_and_retry() -> None:
    session = _session({})
    assert plumbing(session) == {
        "http": session.http,
        "budget": session.budget,
        "retry": session.retry,
    }
    await session.http.aclose()


async def test_a_required_extra_is_read_under_any_of_its_keys_or_refused() -> None:
    assert required_extra(_session({"b": "2"}), "a", "b", what="x") == "2"
    assert required_extra(_session({"a": "1", "b": "2"}), "a", "b", what="x") == "1"
    with pytest.raises(InvalidMessageError, match=r"needs its account id \(Access.extra\['a'\]\)"):
        required_extra(_session({"a": ""}), "a", "b", what="needs its account id")
    with pytest.raises(InvalidMessageError, match="Harvest connection needs its account id"):
        harvest.client(_session({}))
    built = harvest.client(_session({"account_id": "42"}))
    assert built is not None
