"""What every provider client is built with from a :class:`~.session.Session`, said once.

A package's ``client(session)`` passes the connection's base URL, credential and its own extras
positionally, then ``**plumbing(session)``: the shared pool, the credential's request budget and
the retry policy. An extra a connection cannot work without is read with :func:`required_extra`,
so a missing one is invalid input (dead-lettered with its reason), never a crash deep in a call.
"""

from typing import TypedDict

import httpx

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_providers.kit.session import Session


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
