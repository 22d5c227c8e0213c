"""The HTTP layer every provider client sends its requests through.

It owns the three decisions that must be the same for every provider:

- **Budget.** Providers limit requests per API key, so every request of one connection takes a
  token from one shared :class:`RequestBudget` first, and a ``429`` pauses the whole connection.
  A budget is anything with ``acquire()`` and ``pause()``: this module's bucket bounds one
  process; ``shared_budget.SharedBudget`` keeps the bucket in the service's database, for all its
  processes and replicas, with the service's share of the limit (each provider profile's
  ``rate_limit.shares``).
- **Retries.** ``429``, ``408``, ``5xx``, connection failures and timeouts are retried with
  exponential backoff and jitter, honouring ``Retry-After`` (seconds or an HTTP date); after
  ``max_attempts`` the caller gets a :class:`~timebridge_common.errors.TransientError` carrying
  the wait it should apply before trying again.
- **Unknown outcomes.** A timeout, a dropped connection or a ``5xx`` after the request was sent
  may mean the provider applied it. Repeating an idempotent request (GET, PUT, DELETE) is harmless;
  repeating a non-idempotent one (POST) can write twice. So a non-idempotent request is never
  repeated after such a failure: it raises :class:`OutcomeUnknownError` and the caller looks the
  write up before deciding to send it again.

Any other ``4xx`` will not succeed by repeating it and raises a :class:`ProviderError` with the
status and the provider's answer (truncated). Credentials never reach logs or error messages:
only method, path and status are logged, and secret header values are masked in answer bodies.
"""

import asyncio
import collections
import contextlib
import contextvars
import datetime as dt
import email.utils
import hashlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import httpx
import structlog
from pydantic import TypeAdapter, ValidationError

from timebridge_common.errors import InvalidMessageError, TransientError

log = structlog.get_logger(__name__)

BODY_LIMIT = 500
"""Characters of a provider's error answer kept in a :class:`ProviderError`."""

T = TypeVar("T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ProviderError(InvalidMessageError):
    """The provider refused the request (a ``4xx``); sending it again will not help.

    It is an :class:`InvalidMessageError`, so a consumer dead-letters the message unless the
    handler knows better (e.g. marks the connection broken on :class:`AuthenticationError`).
    """

    def __init__(self, provider: str, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{provider} answered {status} to {method} {path}: {body}")
        self.provider = provider
        self.method = method
        self.path = path
        self.status = status
        self.body = body


class AuthenticationError(ProviderError):
    """``401``/``403``: the API key is wrong, revoked or lacks the permission."""


class NotFoundError(ProviderError):
    """``404``: the resource does not exist (or is not visible to this API key)."""


class OutcomeUnknownError(TransientError):
    """A non-idempotent request failed after it was sent: it may or may not have been applied.

    The caller must look the write up at the provider before sending it again.
    """


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), if valid."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


SLACK = 0.05
"""The share of a window a grant counts for beyond it (``RequestBudget``)."""


class RequestBudget:
    """The requests one API key may still send: a log of the grants of the last window.

    A provider limit of ``limit`` requests per ``window_s`` is usually enforced over a sliding
    window, so a request is granted while fewer than ``limit`` grants are younger than the
    window: no window of ``window_s`` seconds ever sees more than ``limit``, a burst may use the
    whole limit and a steady caller gets nearly all of it. A grant counts for ``SLACK`` (5%)
    longer than the window: a request reaches the provider some time after its grant, and one
    sent later after its grant than the request a window before it (a prepaid grant, a busy
    loop) must not find that one still in the provider's window. (It was a token bucket holding
    half the limit and refilling the other half, so a busy caller only ever got half: issue 12.)

    **Borrowing** (:meth:`lend`): a service may run at the credential's whole limit while the
    other services that share the key leave their shares unused; the provider's ``429`` is the
    sign that someone needs theirs, and the budget then keeps to ``floor`` (the service's own
    share) for ``cooldown_s``.

    **A prepaid token** (:meth:`prepaid`): a caller that must not hold something (a write
    lease) while it waits for the budget takes its next request's grant first.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 2 or window_s <= 0:
            raise ValueError("a budget needs at least 2 requests per positive window")
        self.limit = limit
        self.window_s = window_s
        self.counted_s = window_s * (1 + SLACK)
        """How long a grant counts: the window and the slack."""
        self.floor: int | None = None
        self._floor_until = float("-inf")
        self.cooldown_s = 60.0
        self._clock = clock
        self._sleep = sleep
        self._grants: collections.deque[float] = collections.deque()
        self._paused_until = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def limit_now(self) -> int:
        """Requests per window now: the whole limit, or the floor after a ``429``."""
        if self.floor is not None and self._clock() < self._floor_until:
            return self.floor
        return self.limit

    def lend(self, floor: int, cooldown_s: float = 60.0) -> None:
        """Run at the whole limit, and at ``floor`` requests per window for ``cooldown_s`` after
        the provider answered ``429`` (someone else sharing the key needs its share)."""
        if not 2 <= floor <= self.limit:
            raise ValueError(f"a floor must be 2..{self.limit} requests, not {floor}")
        self.floor = floor
        self.cooldown_s = cooldown_s

    async def acquire(self) -> None:
        """Wait until a request may be sent, then take its grant (first come, first served);
        a grant this task prepaid (:meth:`prepaid`) is spent instead."""
        held = _PREPAID.get()
        if self in held:
            _PREPAID.set(tuple(b for b in held if b is not self))
            return
        await self._take()

    @contextlib.asynccontextmanager
    async def prepaid(self) -> AsyncIterator[None]:
        """Take the next request's grant now: the first request this task sends through this
        budget inside the block spends it without waiting (a grant left unspent is lost)."""
        await self._take()
        token = _PREPAID.set((*_PREPAID.get(), self))
        try:
            yield
        finally:
            _PREPAID.reset(token)

    async def _take(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                grants, limit = self._grants, self.limit_now
                while grants and grants[0] <= now - self.counted_s:
                    grants.popleft()
                if len(grants) < limit:
                    grants.append(now)
                    return
                await self._sleep(grants[len(grants) - limit] + self.counted_s - now)

    def pause(self, seconds: float) -> None:
        """The provider said to wait (``429``): no request of this connection before then, and
        a borrowing budget keeps to its floor for its cool-down after that."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + seconds)
        self._floor_until = self._paused_until + self.cooldown_s


_PREPAID: contextvars.ContextVar[tuple[RequestBudget, ...]] = contextvars.ContextVar(
    "timebridge_prepaid_budgets", default=()
)
"""The budgets whose next request this task already took the token of."""


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried; ``sleep``, ``rng`` and ``now`` are for tests."""

    max_attempts: int = 5
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 60.0
    """A longer ``Retry-After`` is not waited for here: the caller reschedules the work."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: Callable[[], float] = random.random
    now: Callable[[], dt.datetime] = _utcnow

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: between half and all of the capped base."""
        base = min(self.max_backoff_s, self.initial_backoff_s * 2.0 ** (attempt - 1))
        return base / 2 + self.rng() * base / 2


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class _Retry:
    reason: str
    wait: float | None
    rate_limited: bool = False


class ProviderHttp:
    """Sends one provider connection's requests with its budget, retries and error mapping."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        secret_headers: Collection[str] = (),
        client: httpx.AsyncClient | None = None,
        budget: RequestBudget,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 30.0,
    ) -> None:
        self.provider = provider
        self._base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._secret_names = {name.lower() for name in (*secret_headers, "authorization")}
        self._client = client or httpx.AsyncClient()
        self._owns_client = client is None
        self.budget = budget
        self._retry = retry
        self._timeout = timeout_s

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send the request until it succeeds, is refused, or the attempts run out.

        ``idempotent`` defaults to the HTTP semantics of ``method``; pass it explicitly for a
        provider whose PUT adds or whose POST is keyed.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        attempt = 0
        while True:
            attempt += 1
            await self.budget.acquire()
            outcome = await self._attempt(
                method, path, params=params, json=json, headers=headers, idempotent=idempotent
            )
            if isinstance(outcome, httpx.Response):
                return outcome
            wait = outcome.wait if outcome.wait is not None else self._retry.backoff(attempt)
            if outcome.rate_limited:
                self.budget.pause(wait)
            if wait > self._retry.max_retry_after_s:
                raise TransientError(outcome.reason, retry_after=wait)
            if attempt >= self._retry.max_attempts:
                raise TransientError(
                    f"{outcome.reason} (gave up after {attempt} attempts)", retry_after=wait
                )
            log.warning(
                "provider request will be retried",
                provider=self.provider,
                method=method,
                path=path,
                reason=outcome.reason,
                attempt=attempt,
                wait_s=round(wait, 3),
            )
            if not outcome.rate_limited:
                await self._retry.sleep(wait)

    async def _attempt(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        idempotent: bool,
    ) -> httpx.Response | _Retry:
        try:
            response = await self._client.request(
                method,
                self._base_url + path,
                params=params,
                json=json,
                headers={**self._headers, **(headers or {})},
                timeout=self._timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return _Retry(f"{self.provider} unreachable ({type(exc).__name__})", None)
        except httpx.TransportError as exc:
            reason = f"{self.provider} did not answer {method} {path} ({type(exc).__name__})"
            if not idempotent:
                raise OutcomeUnknownError(reason) from exc
            return _Retry(reason, None)
        status = response.status_code
        if status < 400:
            return response
        wait = parse_retry_after(response.headers.get("retry-after"), self._retry.now())
        reason = f"{self.provider} answered {status} to {method} {path}"
        if status == 429:
            return _Retry(reason, wait, rate_limited=True)
        if status == 408:
            return _Retry(reason, wait)
        if status >= 500:
            if not idempotent:
                raise OutcomeUnknownError(reason, retry_after=wait)
            return _Retry(reason, wait)
        raise self._refusal(method, path, response)

    def parse(self, response: httpx.Response, adapter: TypeAdapter[T]) -> T:
        """The answer as a model; an answer of another shape is a refusal of this request."""
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            raise ProviderError(
                self.provider,
                response.request.method,
                response.request.url.path,
                response.status_code,
                f"unexpected answer: {exc}"[:BODY_LIMIT],
            ) from exc

    def _refusal(self, method: str, path: str, response: httpx.Response) -> ProviderError:
        """The refusal, with every credential the request carried masked in the answer's text.

        Credentials are whatever the request sent in a secret header, whether set for the
        connection or per request (a bearer token fetched for each call), and the token part of
        an ``Authorization`` value on its own.
        """
        sent = [v for k, v in response.request.headers.items() if k.lower() in self._secret_names]
        secrets = {*sent, *(v.split(" ", 1)[1] for v in sent if " " in v)}
        body = response.text[:BODY_LIMIT]
        for secret in sorted(secrets, key=len, reverse=True):
            body = body.replace(secret, "***")
        cls = {401: AuthenticationError, 403: AuthenticationError, 404: NotFoundError}.get(
            response.status_code, ProviderError
        )
        return cls(self.provider, method, path, response.status_code, body)


class Budgets:
    """One :class:`RequestBudget` per credential, shared by every client built in this process.

    Clients are cheap and short-lived (one per use case), but the provider counts requests per
    API key: every client for the same key must draw from the same budget. This one is per
    process, for tools and tests alone with a credential; services use
    ``shared_budget.SharedBudgets``, whose buckets every replica shares.
    """

    def __init__(self) -> None:
        self._budgets: dict[tuple[str, str, str], RequestBudget] = {}

    def get(
        self, provider: str, base_url: str, credential: str, limit: tuple[int, float]
    ) -> RequestBudget:
        key = (provider, base_url, hashlib.sha256(credential.encode()).hexdigest())
        budget = self._budgets.get(key)
        if budget is None:
            budget = self._budgets[key] = RequestBudget(*limit)
        return budget


class ProviderClient:
    """What every provider client shares: its :class:`ProviderHttp`, closed when the client is.

    Clients are short-lived (``async with Client(...) as client:``); closing one closes the HTTP
    connection pool it owns, never one it was handed.
    """

    _http: ProviderHttp

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
