"""What a ``GET`` of a collection asks for, and the per-tenant limit of calls in progress."""

import datetime as dt
import email.utils
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, Query
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timebridge_sandboxes.faults import ApiError, RateLimit, error_response
from timebridge_sandboxes.xero.rules import _Sandbox
from timebridge_sandboxes.xero.state import (
    API,
    CONCURRENT_LIMIT,
    Json,
    XeroState,
    _error_body,
)
from timebridge_sandboxes.xero.where import order, where
from timebridge_sandboxes.xero.wire import _Caller


def _since(value: str | None) -> dt.datetime | None:
    """``If-Modified-Since`` as ISO-8601 (UTC without a zone, as Xero documents it; the SDKs
    send an offset) or as an HTTP date (``Tue, 14 Nov 2023 22:13:20 GMT``)."""
    if value is None or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"If-Modified-Since is not a timestamp: {value}") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class _Listing:
    """What a ``GET`` of a collection asks for: changes since, ``IDs``, filter, order, page."""

    since: dt.datetime | None
    ids: frozenset[str] | None
    where: str | None
    order: str | None
    page: int | None
    page_size: int

    def answer(
        self,
        sandbox: _Sandbox,
        caller: _Caller,
        key: str,
        found: list[tuple[dt.datetime, Json]],
        id_key: str,
    ) -> Json:
        keep = where(self.where)
        records = [
            record
            for updated_at, record in found
            if (self.since is None or updated_at >= self.since)
            and (self.ids is None or str(record.get(id_key, "")).lower() in self.ids)
            and keep(record)
        ]
        return sandbox.envelope(caller, key, order(records, self.order), self.page, self.page_size)


def _listing(  # noqa: PLR0917 - FastAPI passes query parameters by keyword
    where: str | None = None,
    order: str | None = None,
    ids: Annotated[str | None, Query(alias="IDs")] = None,
    page: Annotated[int | None, Query(ge=1)] = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=1000)] = 100,
    if_modified_since: Annotated[str | None, Header()] = None,
) -> _Listing:
    wanted = None if ids is None else frozenset(i.strip().lower() for i in ids.split(",") if i)
    return _Listing(_since(if_modified_since), wanted, where, order, page, page_size)


class _InFlight:
    """Xero's limit of calls in progress per tenant (one more is answered ``429`` at once), and
    the headers Xero puts on every Accounting answer: ``X-MinLimit-Remaining`` and
    ``X-DayLimit-Remaining`` (the tenant's calls left this minute and day)."""

    def __init__(self, app: ASGIApp, state: XeroState, minute: RateLimit, day: RateLimit) -> None:
        self.app = app
        self.state = state
        self.minute = minute
        self.day = day

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        tenant = headers.get(b"xero-tenant-id", b"").decode("latin-1")
        if scope["type"] != "http" or not scope["path"].startswith(API) or not tenant:
            await self.app(scope, receive, send)
            return
        busy = self.state.in_flight.get(tenant, 0)
        if busy >= CONCURRENT_LIMIT:
            refusal = ApiError(
                429, "Too many calls in progress", {"X-Rate-Limit-Problem": "concurrent"}
            )
            await error_response(_error_body, refusal)(scope, receive, send)
            return

        async def with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                remaining = [
                    (b"x-minlimit-remaining", self.minute.remaining(tenant)),
                    (b"x-daylimit-remaining", self.day.remaining(tenant)),
                ]
                extra = [(name, str(value).encode()) for name, value in remaining]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        self.state.in_flight[tenant] = busy + 1
        self.state.peak_in_flight[tenant] = max(busy + 1, self.state.peak_in_flight.get(tenant, 0))
        try:
            await self.app(scope, receive, with_limits)
        finally:
            self.state.in_flight[tenant] = self.state.in_flight.get(tenant, 1) - 1
