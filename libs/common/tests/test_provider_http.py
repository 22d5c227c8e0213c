"""The provider HTTP layer: budget, Retry-After, backoff, cut-off, unknown outcomes, secrets."""

import datetime as dt
import email.utils
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import BudgetShares, ProviderClients, limits
from timebridge_providers.kit.session import Access

from timebridge_common.errors import TransientError
from timebridge_common.outbound import http as provider_http
from timebridge_common.outbound.http import (
    BODY_LIMIT,
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    ProviderError,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
    parse_retry_after,
)
from timebridge_common.outbound.shared_budget import budget_key

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
API_KEY = "ek-live-7f3c9a0b1d2e"

Step = httpx.Response | Exception


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Provider:
    """A scripted provider: answers (or raises) the given steps in order, the last one forever."""

    def __init__(self, *steps: Step) -> None:
        self.steps: Iterator[Step] = iter(steps)
        self.last: Step = steps[-1]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = next(self.steps, self.last)
        if isinstance(step, Exception):
            raise step
        return step


def connection(
    provider: Provider, fake: FakeTime, *, rng: Callable[[], float] = lambda: 0.5, **retry: Any
) -> ProviderHttp:
    return ProviderHttp(
        "acme",
        "https://api.acme.test",
        headers={"X-Api-Key": API_KEY},
        secret_headers=("X-Api-Key",),
        client=httpx.AsyncClient(transport=httpx.MockTransport(provider)),
        budget=RequestBudget(20, 10.0, clock=fake.clock, sleep=fake.sleep),
        retry=RetryPolicy(sleep=fake.sleep, rng=rng, now=lambda: NOW, **retry),
    )


def ok() -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


async def test_budget_keeps_every_window_within_the_limit() -> None:
    fake = FakeTime()
    fake.now = start = 86_400.3
    budget = RequestBudget(20, 10.0, clock=fake.clock, sleep=fake.sleep)
    sent = []
    for _ in range(60):
        await budget.acquire()
        sent.append(fake.now - start)
    assert all(sent[i + 20] - sent[i] >= 10.0 for i in range(len(sent) - 20))
    # A steady caller gets all 20 of every window (it got half, 10, with half the limit as a
    # burst and half refilled: the last of 60 went at 50 s).
    assert sent == [0.0] * 20 + [10.5] * 20 + [21.0] * 20  # a grant counts 5% longer


async def test_a_lending_budget_runs_at_the_whole_limit_until_a_429_then_at_its_floor() -> None:
    fake = FakeTime()
    budget = RequestBudget(20, 10.0, clock=fake.clock, sleep=fake.sleep)
    budget.lend(10, cooldown_s=60)
    for _ in range(40):
        await budget.acquire()
    assert fake.now == 10.5  # the whole limit: 20 at 0 s, 20 at 10.5 s
    budget.pause(2.0)  # someone sharing the key needs its share
    sent = []
    for _ in range(20):
        await budget.acquire()
        sent.append(fake.now)
    assert sent == [21.0] * 10 + [31.5] * 10  # its floor: 10 per window
    fake.now = 90.0  # the cool-down is over
    for _ in range(20):
        await budget.acquire()
    assert fake.now == 90.0  # the whole limit again


async def test_a_prepaid_token_is_spent_by_the_next_request_without_waiting_again() -> None:
    fake = FakeTime()
    budget = RequestBudget(2, 10.0, clock=fake.clock, sleep=fake.sleep)
    await budget.acquire()
    await budget.acquire()
    async with budget.prepaid():
        took = fake.now  # the wait happened here, before whatever the block then holds
        await budget.acquire()
        assert fake.now == took == 10.5
        await budget.acquire()  # the second of this window
        await budget.acquire()  # the prepaid one was counted: this one waits for the next
        assert fake.now == 21.0


async def test_budget_pause_holds_every_request_of_the_connection() -> None:
    fake = FakeTime()
    budget = RequestBudget(20, 10.0, clock=fake.clock, sleep=fake.sleep)
    budget.pause(7.5)
    await budget.acquire()
    assert fake.now == 7.5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        (email.utils.format_datetime(NOW + dt.timedelta(seconds=30), usegmt=True), 30.0),
        (email.utils.format_datetime(NOW - dt.timedelta(minutes=5), usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_accepts_seconds_and_http_dates(value: str | None, expected: float) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    low, high = RetryPolicy(rng=lambda: 0.0), RetryPolicy(rng=lambda: 1.0)
    assert [low.backoff(n) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert [high.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert high.backoff(12) == 30.0


async def test_429_pauses_the_connection_for_retry_after() -> None:
    fake = FakeTime()
    limited = httpx.Response(429, headers={"Retry-After": "2"})
    provider = Provider(limited, limited, ok())
    response = await connection(provider, fake).request("GET", "/users/me")
    assert response.json() == {"ok": True}
    assert len(provider.requests) == 3
    assert fake.sleeps == [2.0, 2.0]


async def test_5xx_and_connect_errors_are_retried_with_backoff() -> None:
    fake = FakeTime()
    provider = Provider(httpx.Response(502), httpx.ConnectError("refused"), ok())
    response = await connection(provider, fake).request("GET", "/projects")
    assert response.status_code == 200
    assert fake.sleeps == [0.375, 0.75]


async def test_cut_off_raises_transient_with_the_providers_wait() -> None:
    fake = FakeTime()
    provider = Provider(httpx.Response(503, headers={"Retry-After": "7"}))
    with pytest.raises(TransientError) as caught:
        await connection(provider, fake, max_attempts=3).request("GET", "/projects")
    assert len(provider.requests) == 3
    assert caught.value.retry_after == 7.0
    assert "gave up after 3 attempts" in caught.value.reason


async def test_a_long_retry_after_is_handed_to_the_caller_instead_of_waited() -> None:
    fake = FakeTime()
    provider = Provider(httpx.Response(429, headers={"Retry-After": "600"}), ok())
    http = connection(provider, fake)
    with pytest.raises(TransientError) as caught:
        await http.request("GET", "/projects")
    assert caught.value.retry_after == 600.0
    assert (len(provider.requests), fake.now) == (1, 0.0)
    await http.request("GET", "/projects")
    assert fake.now == 600.0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.Response(500),
        httpx.Response(504),
    ],
)
async def test_a_post_is_not_repeated_when_it_may_have_been_applied(failure: Step) -> None:
    provider = Provider(failure, ok())
    with pytest.raises(OutcomeUnknownError):
        await connection(provider, FakeTime()).request("POST", "/tasks/ev:1/time", json={})
    assert len(provider.requests) == 1


@pytest.mark.parametrize(
    "refused_before_sending",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(408),
    ],
)
async def test_a_post_is_repeated_when_it_cannot_have_been_applied(
    refused_before_sending: Step,
) -> None:
    provider = Provider(refused_before_sending, ok())
    response = await connection(provider, FakeTime()).request("POST", "/hooks", json={})
    assert (response.status_code, len(provider.requests)) == (200, 2)


async def test_idempotent_writes_are_repeated_after_a_timeout() -> None:
    for method, idempotent in (("PUT", None), ("DELETE", None), ("POST", True)):
        provider = Provider(httpx.ReadTimeout("read timed out"), ok())
        http = connection(provider, FakeTime())
        response = await http.request(method, "/tasks/ev:1/time", json={}, idempotent=idempotent)
        assert (response.status_code, len(provider.requests)) == (200, 2)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ProviderError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (422, ProviderError),
    ],
)
async def test_refusals_raise_at_once_with_status_and_answer(
    status: int, error: type[ProviderError]
) -> None:
    provider = Provider(httpx.Response(status, text="x" * 2000))
    with pytest.raises(error) as caught:
        await connection(provider, FakeTime()).request("GET", "/tasks/ev:1")
    assert type(caught.value) is error
    assert (caught.value.status, caught.value.path) == (status, "/tasks/ev:1")
    assert caught.value.body == "x" * BODY_LIMIT
    assert len(provider.requests) == 1


async def test_the_api_key_is_sent_but_never_logged_nor_in_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged: list[dict[str, Any]] = []

    class Recorder:
        def warning(self, event: str, **fields: Any) -> None:
            logged.append({"event": event, **fields})

    monkeypatch.setattr(provider_http, "log", Recorder())
    echo = httpx.Response(400, json={"message": f"key {API_KEY} may not do this"})
    provider = Provider(httpx.Response(503), echo)
    with pytest.raises(ProviderError) as caught:
        await connection(provider, FakeTime()).request("GET", "/team/users")
    assert all(r.headers["X-Api-Key"] == API_KEY for r in provider.requests)
    assert logged
    assert logged[0]["event"] == "provider request will be retried"
    assert "key *** may not do this" in caught.value.body
    for text in (repr(logged), str(caught.value), repr(caught.value), caught.value.body):
        assert API_KEY not in text


async def test_a_bearer_token_sent_per_request_is_masked_too() -> None:
    token = "eyJ-per-request-token"
    echo = httpx.Response(403, json={"message": f"Bearer {token} lacks the scope ({token})"})
    provider = Provider(echo)
    with pytest.raises(ProviderError) as caught:
        await connection(provider, FakeTime()).request(
            "GET", "/invoices", headers={"Authorization": f"Bearer {token}"}
        )
    assert token not in caught.value.body
    assert "*** lacks the scope (***)" in caught.value.body


def test_the_services_shares_of_each_provider_sum_to_its_limit() -> None:
    for provider in registry():
        shares = provider.profile.rate_limit.shares
        assert sum(shares.values()) <= provider.profile.rate_limit.requests, provider.name
    mapping_share = registry().get("everhour").profile.rate_limit.shares["mapping"]
    assert BudgetShares.of("mapping").limit("everhour") == (mapping_share, 10.0)
    with pytest.raises(RuntimeError, match="no share of the everhour budget"):
        BudgetShares.of("reporting").limit("everhour")


def test_clients_draw_from_the_services_share_one_budget_per_credential() -> None:
    clients = ProviderClients(shares=BudgetShares({"everhour": 6, "core": 2}))
    first = clients.session("everhour", Access("https://api.everhour.com", API_KEY)).budget
    again = clients.session("everhour", Access("https://api.everhour.com", API_KEY)).budget
    other = clients.session("everhour", Access("https://api.everhour.com", "ek-other")).budget
    assert first is again
    assert other is not first
    assert (first.limit_now, first.window_s) == (6, 10.0)  # its share: 6 per 10 s
    assert ProviderClients()._limit("everhour") == limits()["everhour"]


def test_a_borrowing_service_runs_at_the_keys_whole_limit_with_its_share_as_floor() -> None:
    clients = ProviderClients(shares=BudgetShares({"everhour": 10}), borrow=True)
    budget = clients.session("everhour", Access("https://api.everhour.com", API_KEY)).budget
    assert budget.limit_now == 20  # the whole key
    budget.pause(1.0)
    assert budget.limit_now == 10  # its own share after a 429


def test_a_shared_budget_is_keyed_by_the_credentials_hash_never_the_credential() -> None:
    key = budget_key("everhour", "https://api.everhour.com/", API_KEY)
    assert API_KEY not in key
    assert key == budget_key("everhour", "https://api.everhour.com", API_KEY)
    assert key != budget_key("everhour", "https://api.everhour.com", API_KEY + "x")
