"""What every provider client is built with from a :class:`~.session.Session`, said once.

A package's ``client(session)`` passes the connection's base URL, credential and its own extras
positionally, then ``**plumbing(session)``: the shared pool, the credential's request budget and
the retry policy. An extra a connection cannot work without is read with :func:`required_extra`,
so a missing one is invalid input (dead-lettered with its reason), never a crash deep in a call.

A client states its wire as data (:class:`Wire`: name, request limit, secret headers) and opens
its :class:`ProviderHttp` from it and the :class:`ClientOptions` it was given, so the pool /
budget / retry / timeout handling every client shares is written here once. What is left of a
client is the provider's own: its paths, models and paging. The rest that was copied between
packages lives here too: :func:`bearer` / :func:`basic` headers, :class:`JsonClient` (GET and
parse), :class:`LockingClient` (JSON writes inside the provider's lock rule), :func:`found` (a
404 read is ``None``) and :func:`numbered_pages` (pages until a short one).
"""

import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict, TypeVar

import httpx
from pydantic import TypeAdapter

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.budget_windows import windows
from timebridge_common.outbound.http import (
    DEFAULT_RETRY,
    NotFoundError,
    ProviderClient,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
)
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.session import Session

T = TypeVar("T")


class Plumbing(TypedDict):
    """The keyword arguments every provider client takes from a session."""

    http: httpx.AsyncClient
    budget: RequestBudget
    retry: RetryPolicy


def plumbing(session: Session) -> Plumbing:
    """The session's pool (not closed by the client: shared), budget and retry policy."""
    return Plumbing(http=session.http, budget=session.budget, retry=session.retry)


def required_extra(session: Session, *keys: str, what: str) -> str:
    """The first of ``keys`` the connection's ``Access.extra`` holds, non-empty; otherwise
    :class:`InvalidMessageError` saying ``what`` is missing under the first key."""
    extra = session.access.extra
    for key in keys:
        if value := extra.get(key):
            return value
    raise InvalidMessageError(f"{what} (Access.extra[{keys[0]!r}])")


class ClientOptions(TypedDict, total=False):
    """How a client's requests travel; each optional (a test may pass only its pool).

    ``http``: a pool the client uses and never closes (none: the client opens and closes its
    own); ``budget``: the credential's shared budget (none: a fresh one at the wire's limit).
    """

    http: httpx.AsyncClient | None
    budget: RequestBudget | None
    retry: RetryPolicy
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Wire:
    """One provider's HTTP as data: its name in errors and logs, its request limit per
    credential (requests, seconds) and the headers besides ``Authorization`` that carry a secret
    (never logged)."""

    provider: str
    rate_limit: tuple[int, float]
    secret_headers: tuple[str, ...] = ()
    more_limits: tuple[tuple[int, float], ...] = ()
    """Further limits per credential that hold as well (Toggl's pace under its hourly quota):
    every request also takes a grant of each (``budget_windows.windows``)."""

    def budget(self, options: ClientOptions) -> RequestBudget:
        """The options' budget, else a fresh one at this wire's limit, with the further limits
        beside it (the same combined budget for every client of the credential). A budget
        raised above the documented limit (a sandbox's limits lifted) is not paced either."""
        first = options.get("budget") or RequestBudget(*self.rate_limit)
        raised = first.limit > self.rate_limit[0]
        return first if raised else windows(first, self.more_limits)

    def http(
        self,
        base_url: str,
        headers: Mapping[str, str],
        options: ClientOptions,
        *,
        budget: RequestBudget | None = None,
    ) -> ProviderHttp:
        """A :class:`ProviderHttp` to ``base_url`` sending ``headers``; ``budget`` when a client
        opens several (one per API host) that share one credential's budget."""
        return ProviderHttp(
            self.provider,
            base_url,
            headers=headers,
            secret_headers=self.secret_headers,
            client=options.get("http"),
            budget=budget or self.budget(options),
            retry=options.get("retry", DEFAULT_RETRY),
            timeout_s=options.get("timeout_s", 30.0),
        )


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of an OAuth access token or personal token."""
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value (API keys sent as a user with a fixed password)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class JsonClient(ProviderClient):
    """A client whose reads are a GET answered with JSON, parsed by a pydantic adapter (an answer
    of another shape is a refusal of that request, never a crash later)."""

    async def _get(
        self, path: str, adapter: TypeAdapter[T], params: Mapping[str, str | int] | None = None
    ) -> T:
        return self._http.parse(await self._http.request("GET", path, params=params), adapter)


class LockingClient(JsonClient):
    """A tracker client whose writes send a JSON body inside its lock rule (``_locks``): a
    refusal the rule matches is ``EntryLockedError``, every other error passes unchanged."""

    _locks: ClassVar[LockRefusals]

    async def _send(self, method: str, path: str, body: Mapping[str, Any] | None) -> httpx.Response:
        with self._locks.raised():
            return await self._http.request(method, path, json=None if body is None else dict(body))


async def found(request: Awaitable[T]) -> T | None:
    """A read's answer, or ``None`` when the provider says the record is not there (404)."""
    try:
        return await request
    except NotFoundError:
        return None


async def numbered_pages(
    page: Callable[[int], Awaitable[Sequence[T]]], size: int, *, first: int = 1
) -> AsyncIterator[T]:
    """The items of pages ``first``, ``first + 1``, ... (``page(n)`` reads page ``n``) until one
    holds fewer than ``size``: the paging of APIs whose answers do not name the last page."""
    number = first
    while True:
        items = await page(number)
        for item in items:
            yield item
        if len(items) < size:
            return
        number += 1
