"""The kit's client plumbing: what a provider's ``client(session)`` takes from a session."""

import httpx
import pytest
from pydantic import TypeAdapter
from timebridge_providers import harvest
from timebridge_providers.installed import registry
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import (
    LockingClient,
    Wire,
    basic,
    bearer,
    found,
    numbered_pages,
    plumbing,
    required_extra,
)
from timebridge_providers.kit.ports.entries import EntryLockedError
from timebridge_providers.kit.session import Access, Session
from timebridge_providers.toggl.client import PACE, RATE_LIMIT, TogglClient

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.budget_windows import Windows
from timebridge_common.outbound.http import ProviderError, RequestBudget


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


def _answering(status: int, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"id": 1})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_wire_opens_the_clients_http_on_the_given_pool_with_its_own_limit() -> None:
    seen: list[httpx.Request] = []
    pool = _answering(200, seen)
    wire = Wire("tracker", (40, 10.0), secret_headers=("X-Api-Key",))
    http = wire.http("https://tracker.test/v1/", {"X-Api-Key": "k", **bearer("t")}, {"http": pool})
    assert http.budget.limit == 40  # a fresh budget at the wire's limit
    shared = RequestBudget(10, 1.0)
    assert wire.http("https://t.test", {}, {"budget": shared}).budget is shared
    assert wire.http("https://t.test", {}, {}, budget=shared).budget is shared
    await http.request("GET", "/me")
    assert str(seen[0].url) == "https://tracker.test/v1/me"
    assert seen[0].headers["X-Api-Key"] == "k"
    assert seen[0].headers["Authorization"] == "Bearer t"
    await http.aclose()
    assert not pool.is_closed  # a pool handed in is the caller's
    await pool.aclose()


async def test_found_is_none_on_404_and_the_answer_otherwise() -> None:
    wire = Wire("tracker", (10, 1.0))
    for status, expected in ((404, None), (200, {"id": 1})):
        pool = _answering(status, [])
        http = wire.http("https://tracker.test", {}, {"http": pool})
        response = await found(http.request("GET", "/entries/1"))
        assert (None if response is None else response.json()) == expected
        await pool.aclose()
    pool = _answering(403, [])
    with pytest.raises(ProviderError):
        await found(wire.http("https://tracker.test", {}, {"http": pool}).request("GET", "/x"))
    await pool.aclose()


def test_basic_auth_is_user_colon_password_in_base64() -> None:
    assert basic("key", "x") == "Basic a2V5Ong="


class _Tracker(LockingClient):
    _locks = LockRefusals({400}, "locked")

    def __init__(self, pool: httpx.AsyncClient) -> None:
        self._http = Wire("tracker", (10, 1.0)).http("https://tracker.test", {}, {"http": pool})


async def test_a_locking_client_reads_json_and_tells_locked_time_from_other_refusals() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=[1, 2] if request.url.path == "/ok" else {"a": 1})
        if b"closed" in request.content:
            return httpx.Response(400, text="the period is locked")
        return httpx.Response(400, text="bad duration")

    pool = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    client = _Tracker(pool)
    assert await client._get("/ok", TypeAdapter(list[int])) == [1, 2]
    with pytest.raises(ProviderError):  # an answer of another shape is refused, not a crash
        await client._get("/other", TypeAdapter(list[int]))
    with pytest.raises(EntryLockedError):
        await client._send("PUT", "/entries/1", {"period": "closed"})
    with pytest.raises(ProviderError) as refused:
        await client._send("PUT", "/entries/1", {"period": "open"})
    assert not isinstance(refused.value, EntryLockedError)
    await pool.aclose()


async def test_numbered_pages_read_until_a_short_page() -> None:
    asked: list[int] = []
    pages = {1: [1, 2], 2: [3, 4], 3: [5]}

    async def page(number: int) -> list[int]:
        asked.append(number)
        return pages.get(number, [])

    assert [item async for item in numbered_pages(page, 2)] == [1, 2, 3, 4, 5]
    assert asked == [1, 2, 3]
    asked.clear()
    pages = {0: [1, 2], 1: [3, 4]}  # a full last page: one more read finds it empty
    assert [item async for item in numbered_pages(page, 2, first=0)] == [1, 2, 3, 4]
    assert asked == [0, 1, 2]


async def test_toggl_paces_its_requests_under_the_hourly_quota_unless_the_limit_is_raised() -> None:
    """Issue 12: Toggl's leaky bucket (about one a second) beside its hourly quota; the client
    takes both from the session's budget, and the profile declares the same further limit."""
    assert registry().get("toggl").profile.rate_limit.more == (PACE,)
    share = RequestBudget(120, RATE_LIMIT[1])  # the resolver's share of the hour
    first = TogglClient("https://toggl.test/api/v9", "tt", 1, budget=share)
    second = TogglClient("https://toggl.test/api/v9", "tt", 1, budget=share)
    assert isinstance(first.budget, Windows)
    assert first.budget.first is share
    assert [(w.limit, w.window_s) for w in first.budget.more] == [PACE]
    assert second.budget is first.budget  # one pace for every client of the token
    lifted = RequestBudget(10**6, 1.0)  # a sandbox with its limits lifted
    assert TogglClient("https://toggl.test/api/v9", "tt", 1, budget=lifted).budget is lifted
    for client in (first, second):
        await client.aclose()
