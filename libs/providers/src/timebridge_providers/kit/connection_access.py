"""The access of a connection a service keeps a copy of (``ConnectionChanged``), in one place.

The credential owner (the credentials service) hands out what to call the provider with:
:meth:`~timebridge_providers.kit.credentials.CredentialSource.access` gives the key or a current
OAuth access token (refreshed and rotated by the owner) with the base URL and the connection's
fields as ``Access.extra``. A service reading its copies asks here, never builds an ``Access``
of its own from the copy (one way for every reader). There is no other source: ingest publishes
``ConnectionChanged`` v2, which carries no secret, the upcaster drops the sealed
``credentials_encrypted`` of an old v1 record, and every service that calls a provider is
configured with the owner (``OwnerSettings``).
"""

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import structlog

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import ConnectionChanged
from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.kit.credentials import CredentialSource
from timebridge_providers.kit.session import Access

log = structlog.get_logger(__name__)

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class ConnectionAccess:
    """Connection copy -> the ``Access`` to call its provider with, from ``source`` (the owner).

    Raises what the owner raises: ``UnknownCredentialError`` (it holds nothing: invalid),
    ``NeedsReauthorisationError`` (an admin must connect again), ``TransientError`` (retried).
    """

    source: CredentialSource

    async def __call__(self, connection: ConnectionChanged) -> Access:
        return await self.source.access(connection.workspace_id, connection.connection_id)

    def reporting(self, connection: ConnectionChanged, port: P) -> P:
        """``port``, opened with this connection's access, reporting a ``401`` to the owner
        (``CredentialSource.refused``): health then says "needs re-authorisation" and the
        owner answers ``409`` from then on, so the caller stops retrying a dead key."""

        async def report(reason: str) -> None:
            await self.source.refused(connection.workspace_id, connection.connection_id, reason)

        return refusals_reported(port, report)


def refusals_reported(port: P, report: Callable[[str], Awaitable[None]]) -> P:
    """``port`` (a capability opened with an owner's access) whose provider calls report a
    ``401`` to ``report`` (the owner's ``refused``) before the error goes on as it was.

    Without this a revoked key kept failing each call as if it were new: the owner never learnt
    that what it hands out is refused, so health did not say "needs re-authorisation" and an
    OAuth token was not refreshed early. Reporting is best effort: the owner being unavailable
    must not hide the provider's answer.
    """
    return cast(P, _Reporting(port, report))


class _Reporting:
    def __init__(self, inner: object, report: Callable[[str], Awaitable[None]]) -> None:
        self._inner = inner
        self._report = report

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if inspect.iscoroutinefunction(found):

            @functools.wraps(found)
            async def called(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await found(*args, **kwargs)
                except AuthenticationError as exc:
                    await self._refused(exc)
                    raise

            return called
        if inspect.isasyncgenfunction(found) or (
            callable(found) and name in _ITERATING and not inspect.iscoroutinefunction(found)
        ):

            @functools.wraps(found)
            async def iterated(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                try:
                    async for item in found(*args, **kwargs):
                        yield item
                except AuthenticationError as exc:
                    await self._refused(exc)
                    raise

            return iterated
        return found

    async def _refused(self, exc: AuthenticationError) -> None:
        if exc.status != 401:
            return  # 403: the key works but lacks a permission; nothing to re-authorise
        try:
            await self._report(f"{exc.provider} answered 401 to {exc.method} {exc.path}")
        except (TransientError, InvalidMessageError) as failed:
            log.warning("the refused credential could not be reported", error=str(failed))


_ITERATING = frozenset({"projects", "tasks"})
"""Port methods that return an async iterator without being async generators themselves."""
