"""What a ``GET`` of a collection asks for, and the per-tenant limit of calls in progress."""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Query
from starlette.types import ASGIApp, Receive, Scope, Send

from timebridge_sandboxes.faults import ApiError, error_response
from timebridge_sandboxes.xero.rules import _Sandbox
from timebridge_sandboxes.xero.state import (
    _CONDITION,
    _MS_DATE,
    API,
    CONCURRENT_LIMIT,
    Json,
    XeroState,
    _error_body,
)
from timebridge_sandboxes.xero.wire import _Caller


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"If-Modified-Since is not a timestamp: {value}") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _where(expression: str | None) -> list[tuple[str, Any]]:
    conditions: list[tuple[str, Any]] = []
    for part in re.split(r"\s+AND\s+", expression.strip()) if expression else []:
        match = _CONDITION.match(part.strip())
        if match is None:
            raise ApiError(400, f"The sandbox does not understand the where clause {part!r}")
        name, text, flag = match.groups()
        value = flag.lower() == "true" if text is None else re.sub(r"\\(.)", r"\1", text)
        conditions.append((name, value))
    return conditions


def _sortable(value: Any) -> Any:
    match = _MS_DATE.match(value) if isinstance(value, str) else None
    return int(match[1]) if match else value


@dataclass(frozen=True)
class _Listing:
    """What a ``GET`` of a collection asks for: changes since, filter, order, page."""

    since: dt.datetime | None
    where: str | None
    order: str | None
    page: int | None
    page_size: int

    def answer(
        self, sandbox: _Sandbox, caller: _Caller, key: str, found: list[tuple[dt.datetime, Json]]
    ) -> Json:
        conditions = _where(self.where)
        records = [
            record
            for updated_at, record in found
            if (self.since is None or updated_at >= self.since)
            and all(record.get(name) == value for name, value in conditions)
        ]
        if self.order:
            name, _, direction = self.order.strip().partition(" ")
            if direction.strip().upper() not in ("", "ASC", "DESC"):
                raise ApiError(400, f"The order {self.order!r} is not understood")
            records.sort(
                key=lambda r: (r.get(name) is None, _sortable(r.get(name))),
                reverse=direction.strip().upper() == "DESC",
            )
        return sandbox.envelope(caller, key, records, self.page, self.page_size)


def _listing(
    where: str | None = None,
    order: str | None = None,
    page: Annotated[int | None, Query(ge=1)] = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=1000)] = 100,
    if_modified_since: Annotated[str | None, Header()] = None,
) -> _Listing:
    return _Listing(_since(if_modified_since), where, order, page, page_size)


class _InFlight:
    """Xero's limit of calls in progress per tenant: one more is answered ``429`` at once."""

    def __init__(self, app: ASGIApp, state: XeroState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        tenant = headers.get(b"xero-tenant-id", b"").decode()
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
        self.state.in_flight[tenant] = busy + 1
        self.state.peak_in_flight[tenant] = max(busy + 1, self.state.peak_in_flight.get(tenant, 0))
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.in_flight[tenant] = self.state.in_flight.get(tenant, 1) - 1
