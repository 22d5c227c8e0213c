"""A budget of several limits (``budget_windows``): each request takes a grant of every window,
so a pace under an hourly quota spreads a burst out instead of meeting the provider's ``429``.

On fake time (no timing in the assertions: grant times are the fake clock's)."""

import httpx

from timebridge_common.outbound.budget_windows import Windows, windows
from timebridge_common.outbound.http import SLACK, ProviderHttp, RequestBudget, RetryPolicy

QUOTA, PACE = (240, 3600.0), (2, 2.0)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def quota(fake: FakeTime) -> RequestBudget:
    return RequestBudget(*QUOTA, clock=fake.clock, sleep=fake.sleep)


async def granted_at(budget: RequestBudget, fake: FakeTime, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await budget.acquire()
        times.append(fake.now)
    return times


async def test_a_burst_under_the_quota_is_paced_by_the_second_window() -> None:
    fake = FakeTime()
    budget = windows(quota(fake), [PACE])
    times = await granted_at(budget, fake, 8)
    counted = PACE[1] * (1 + SLACK)
    # Two at once, then two a counted window later: never more than 2 within 2 s.
    assert times == [0.0, 0.0, counted, counted, 2 * counted, 2 * counted, 3 * counted, 3 * counted]
    # The quota alone let all eight through at once (what met Toggl's 429).
    alone = FakeTime()
    assert await granted_at(quota(alone), alone, 8) == [0.0] * 8


async def test_the_quota_still_holds_and_is_waited_for_first() -> None:
    fake = FakeTime()
    first = RequestBudget(3, 100.0, clock=fake.clock, sleep=fake.sleep)
    budget = windows(first, [PACE])
    times = await granted_at(budget, fake, 4)
    assert times[:3] == [0.0, 0.0, PACE[1] * (1 + SLACK)]
    assert times[3] == 100.0 * (1 + SLACK)  # the 4th waits for the quota, not more


async def test_one_combined_budget_per_credential_budget() -> None:
    fake = FakeTime()
    first = quota(fake)
    combined = windows(first, [PACE])
    assert isinstance(combined, Windows)
    assert windows(first, [PACE]) is combined  # every client of the key: one pace
    assert windows(combined, [PACE]) is combined  # a client handed the combined one
    assert windows(first, []) is first  # a provider with one limit: unchanged


async def test_lending_and_the_floor_apply_to_the_first_window() -> None:
    fake = FakeTime()
    first = quota(fake)
    budget = windows(first, [PACE])
    assert budget.limit == QUOTA[0]
    budget.lend(120)
    assert first.floor == 120
    budget.pause(5.0)  # a 429: every window waits, the first keeps to its floor after
    assert budget.limit_now == 120
    assert first.limit_now == 120
    assert isinstance(budget, Windows)
    for window in budget.more:
        await window.acquire()
    assert fake.now == 5.0


async def test_a_prepaid_grant_is_spent_by_the_clients_first_request() -> None:
    fake = FakeTime()
    budget = windows(quota(fake), [PACE])
    sent: list[str] = []

    def provider(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={})

    http = ProviderHttp(
        "toggl",
        "http://toggl.sandbox",
        headers={},
        client=httpx.AsyncClient(transport=httpx.MockTransport(provider)),
        budget=budget,
        retry=RetryPolicy(sleep=fake.sleep),
    )
    async with budget.prepaid():
        await http.request("GET", "/a")
    await http.request("GET", "/b")
    await http.request("GET", "/c")  # the third in 2 s: the pace makes it wait
    assert sent == ["/a", "/b", "/c"]
    assert fake.now == PACE[1] * (1 + SLACK)
