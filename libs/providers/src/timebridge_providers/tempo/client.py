"""Tempo Cloud client (REST API v4): the calls Timebridge makes.

What each fact rests on (V = Tempo's documentation, apidocs.tempo.io and help.tempo.io; A =
assumed where it is silent):

- V Tempo Cloud's API is ``https://api.tempo.io/4``; the seeds' ``/rest/tempo-timesheets/4/...``
  is the Server/Data Center plugin's path (a Jira server's own URL), not Tempo Cloud's.
- V ``Authorization: Bearer <token>``: a personal API integration token (Tempo > Settings > API
  integration) or an OAuth 2.0 access token.
- V ``GET /worklogs`` filters by ``from``/``to`` (worklog dates), ``updatedFrom`` (system time of
  the last change; "does not work in conjunction with other parameters"), ``issueId``, and pages
  with ``offset``/``limit`` (at most 1,000 a page documented for v3, 5,000 in v4), the next page
  named in ``metadata.next``. ``GET/PUT/DELETE /worklogs/{id}``, ``POST /worklogs``
  (``authorAccountId``, ``issueId``, ``startDate``, ``startTime``, ``timeSpentSeconds``,
  ``billableSeconds``, ``description``); ``PUT`` replaces the worklog.
- V Errors are ``{"errors": [{"message": ...}]}``; ``429`` carries ``Retry-After``.
- A The limit's number is not published: a budget of 300 requests a minute per token.
- A A write into an approved timesheet or a closed period is refused with ``400``/``403`` whose
  message names the approval or the closed period: raised as :class:`EntryLockedError`.
- A Tempo publishes no tombstone feed for its worklogs (Jira's ``/rest/api/3/worklog/deleted``
  names Jira worklog ids, on another host and credential): deletions are seen by re-listing.
"""

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Unpack
from urllib.parse import parse_qsl, urlsplit

from pydantic import TypeAdapter

from timebridge_common.outbound.http import RequestBudget
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, LockingClient, Wire, bearer, found
from timebridge_providers.kit.writes import deleted
from timebridge_providers.tempo.wire import Worklog, WorklogPage

TEMPO_API_URL = "https://api.tempo.io/4"
RATE_LIMIT = (300, 60.0)
PAGE_SIZE = 1000
_WIRE = Wire("tempo", RATE_LIMIT)

_LOCKS = LockRefusals({400, 403, 409, 423}, "approv|closed|lock")
_WORKLOG = TypeAdapter(Worklog)
_PAGE = TypeAdapter(WorklogPage)


class TempoClient(LockingClient):
    """One Tempo connection: a bearer token.

    Errors: ``AuthenticationError``, ``NotFoundError``, :class:`EntryLockedError`, other
    ``ProviderError`` refusals, ``OutcomeUnknownError`` when a POST may have been applied,
    ``TransientError`` otherwise.
    """

    _locks = _LOCKS

    def __init__(self, base_url: str, token: str, **options: Unpack[ClientOptions]) -> None:
        headers = {**bearer(token), "Content-Type": "application/json"}
        self._http = _WIRE.http(base_url, headers, options)
        self.identity = hashlib.sha256(f"{base_url}|{token}".encode()).hexdigest()
        """Names the token (listings are shared under it), never the token itself."""

    @property
    def budget(self) -> RequestBudget:
        """The token's request budget, shared by every client of the token."""
        return self._http.budget

    async def worklogs(self, **filters: str | int) -> AsyncIterator[Worklog]:
        """``GET /worklogs`` with ``filters``, following ``metadata.next`` page by page."""
        params: dict[str, str | int] = {"offset": 0, "limit": PAGE_SIZE, **filters}
        while True:
            response = await self._http.request("GET", "/worklogs", params=params)
            page = self._http.parse(response, _PAGE)
            for worklog in page.results:
                yield worklog
            if not page.metadata.next or not page.results:
                return
            params = {**params, **dict(parse_qsl(urlsplit(page.metadata.next).query))}

    def updated_from(self, since: dt.datetime) -> AsyncIterator[Worklog]:
        stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self.worklogs(updatedFrom=stamp)

    def dated(self, start: dt.date, end: dt.date, **more: str | int) -> AsyncIterator[Worklog]:
        return self.worklogs(**{"from": start.isoformat(), "to": end.isoformat(), **more})

    async def worklog(self, worklog_id: int) -> Worklog | None:
        response = await found(self._http.request("GET", f"/worklogs/{worklog_id}"))
        return None if response is None else self._http.parse(response, _WORKLOG)

    async def create(self, body: Mapping[str, Any]) -> Worklog:
        """Create a worklog (POST: after OutcomeUnknownError, look it up before sending again)."""
        return self._http.parse(await self._send("POST", "/worklogs", body), _WORKLOG)

    async def update(self, worklog_id: int, body: Mapping[str, Any]) -> Worklog:
        response = await self._send("PUT", f"/worklogs/{worklog_id}", body)
        return self._http.parse(response, _WORKLOG)

    async def delete(self, worklog_id: int) -> bool:
        """Delete a worklog; ``False`` when it was already gone."""
        return await deleted(self._send("DELETE", f"/worklogs/{worklog_id}", None))
