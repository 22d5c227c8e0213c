"""QuickBooks Time client (``https://rest.tsheets.com/api/v1``): the calls Timebridge makes.

What each fact rests on (V = the API documentation and its Postman collection; A = assumed
where they are silent):

- V ``Authorization: Bearer <access token>``; OAuth 2.0 at ``/api/v1/grant`` (authorization code
  and refresh token grants, the app's ``client_id``/``client_secret`` in the form body; the
  refresh token rotates with each refresh): :class:`GrantEndpoint` for the credential owner.
- V ``GET /timesheets`` filters by ``ids``, ``start_date``/``end_date`` (timesheet dates),
  ``modified_since`` (ISO 8601), ``user_ids``, ``jobcode_ids``, ``on_the_clock``; pages with
  ``page`` (from 1) and ``limit`` (at most 200) while the answer says ``"more": true``.
  ``GET /timesheets_deleted`` takes the same window and ``modified_since``: the tombstones.
- V ``POST``/``PUT /timesheets`` take ``{"data": [...]}`` and answer each item with its own
  ``_status_code``; ``DELETE /timesheets?ids=`` likewise.
- V Answers carry ``supplemental_data`` (``supplemental_data=yes``, the default): the jobcodes
  a timesheet names, with their ``billable`` flag (a timesheet has none of its own).
- V ``POST /reports/project`` with ``{"data": {"start_date", "end_date"}}`` answers
  ``results.project_report.totals.users`` (seconds per user id).
- A A write refused because the timesheet is locked or its user's time is approved or submitted
  up to its date answers the item with a ``4xx`` whose message names the lock/approval: raised
  as :class:`EntryLockedError`.
- A The collection publishes no number for the rate limit: a budget of 300 requests per five
  minutes per access token is kept; ``429`` with ``Retry-After`` is waited out.
"""

import hashlib
import re
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Unpack

import httpx
from pydantic import TypeAdapter

from timebridge_common.outbound.http import (
    NotFoundError,
    ProviderClient,
    ProviderError,
    RequestBudget,
)
from timebridge_common.outbound.oauth import BasicAuthTokenEndpoint, TokenEndpoint, Tokens
from timebridge_providers.kit.credentials import OAuthApp
from timebridge_providers.kit.plumbing import ClientOptions, Wire, bearer
from timebridge_providers.kit.ports.entries import EntryLockedError
from timebridge_providers.quickbooks_time.wire import Jobcode, Timesheet, User

QBT_API_URL = "https://rest.tsheets.com/api/v1"
TOKEN_URL = "https://rest.tsheets.com/api/v1/grant"  # noqa: S105 (a URL)
AUTHORIZE_URL = "https://rest.tsheets.com/api/v1/authorize"
"""Where an admin consents to the app (the API documentation's authorization code flow)."""
RATE_LIMIT = (300, 300.0)
_WIRE = Wire("quickbooks_time", RATE_LIMIT)
PAGE_SIZE = 200

_LOCK_WORDS = re.compile(r"lock|approv|submit", re.IGNORECASE)
_ANY: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
_TIMESHEET = TypeAdapter(Timesheet)
_USER = TypeAdapter(User)
_JOBCODE = TypeAdapter(Jobcode)
_BILLABLE: weakref.WeakKeyDictionary[RequestBudget, dict[int, bool]] = weakref.WeakKeyDictionary()
"""Each credential's jobcodes' billable flags, as answers' ``supplemental_data`` said."""


class QuickBooksTimeClient(ProviderClient):
    """One QuickBooks Time connection: a bearer access token.

    Errors: ``AuthenticationError``, ``NotFoundError``, :class:`EntryLockedError`, other
    ``ProviderError`` refusals, ``OutcomeUnknownError`` when a POST may have been applied,
    ``TransientError`` otherwise.
    """

    def __init__(self, base_url: str, token: str, **options: Unpack[ClientOptions]) -> None:
        headers = {**bearer(token), "Content-Type": "application/json"}
        self._http = _WIRE.http(base_url, headers, options)
        self._billable = _BILLABLE.setdefault(self._http.budget, {})
        """Per credential: a timesheet picked from a listing another client sent is read with
        the jobcodes that listing's answer named."""
        self.identity = hashlib.sha256(f"{base_url}|{token}".encode()).hexdigest()
        """Names the token (listings are shared under it), never the token itself."""

    @property
    def budget(self) -> RequestBudget:
        """The token's request budget, shared by every client of the token."""
        return self._http.budget

    def billable(self, jobcode_id: int) -> bool:
        """Whether the jobcode is billable, as the answers' ``supplemental_data`` said (a
        timesheet has no billable flag of its own); ``False`` for one not seen."""
        return self._billable.get(jobcode_id, False)

    def _supplemental(self, body: dict[str, Any]) -> None:
        jobcodes = (body.get("supplemental_data") or {}).get("jobcodes") or {}
        for item in jobcodes.values() if isinstance(jobcodes, dict) else ():
            if isinstance(item, dict) and isinstance(item.get("id"), int):
                self._billable[item["id"]] = bool(item.get("billable"))

    async def _list(
        self, path: str, key: str, params: Mapping[str, str | int]
    ) -> AsyncIterator[Any]:
        """``GET path`` page by page while ``more`` is true; the items of ``results[key]``."""
        page = 1
        while True:
            query = {**params, "page": page, "limit": PAGE_SIZE}
            body = self._http.parse(await self._http.request("GET", path, params=query), _ANY)
            self._supplemental(body)
            items = (body.get("results") or {}).get(key) or {}
            for item in items.values() if isinstance(items, dict) else items:
                yield item
            if not body.get("more") or not items:
                return
            page += 1

    async def timesheets(self, **filters: str | int) -> AsyncIterator[Timesheet]:
        query = {"supplemental_data": "yes", **filters}
        async for item in self._list("/timesheets", "timesheets", query):
            yield _TIMESHEET.validate_python(item)

    async def deleted(self, **filters: str | int) -> AsyncIterator[Timesheet]:
        """``GET /timesheets_deleted``: the timesheets deleted, as they were."""
        async for item in self._list("/timesheets_deleted", "timesheets_deleted", filters):
            yield _TIMESHEET.validate_python(item)

    async def timesheet(self, timesheet_id: int) -> Timesheet | None:
        async for found in self.timesheets(ids=str(timesheet_id)):
            return found
        return None

    async def users(self, **filters: str | int) -> list[User]:
        return [_USER.validate_python(u) async for u in self._list("/users", "users", filters)]

    async def current_user(self) -> User:
        async for user in self._list("/current_user", "users", {}):
            return _USER.validate_python(user)
        raise ProviderError("quickbooks_time", "GET", "/current_user", 200, "no user answered")

    async def jobcodes(self, **filters: str | int) -> AsyncIterator[Jobcode]:
        async for item in self._list("/jobcodes", "jobcodes", filters):
            yield _JOBCODE.validate_python(item)

    async def create_jobcode(self, body: Mapping[str, Any]) -> Jobcode:
        [item] = await self._write("POST", "/jobcodes", "jobcodes", [body])
        return _JOBCODE.validate_python(item)

    async def create(self, body: Mapping[str, Any]) -> Timesheet:
        """Add a timesheet (POST: after OutcomeUnknownError, look it up before sending again)."""
        [item] = await self._write("POST", "/timesheets", "timesheets", [body])
        return _TIMESHEET.validate_python(item)

    async def update(self, body: Mapping[str, Any]) -> Timesheet:
        [item] = await self._write("PUT", "/timesheets", "timesheets", [body])
        return _TIMESHEET.validate_python(item)

    async def delete(self, timesheet_id: int) -> bool:
        """Delete a timesheet; ``False`` when it was already gone."""
        path = "/timesheets"
        response = await self._http.request("DELETE", path, params={"ids": str(timesheet_id)})
        try:
            _results(self._http.parse(response, _ANY), "timesheets", "DELETE", path)
        except NotFoundError:
            return False
        return True

    async def project_report(self, start: str, end: str) -> dict[str, float]:
        """Seconds per user id in the period (``POST /reports/project``, a read)."""
        body = {"data": {"start_date": start, "end_date": end}}
        response = await self._http.request("POST", "/reports/project", json=body, idempotent=True)
        report = (self._http.parse(response, _ANY).get("results") or {}).get("project_report")
        users = ((report or {}).get("totals") or {}).get("users") or {}
        return {str(user): float(seconds) for user, seconds in users.items()}

    async def _write(
        self, method: str, path: str, key: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        response = await self._http.request(method, path, json={"data": list(items)})
        body = self._http.parse(response, _ANY)
        self._supplemental(body)
        return _results(body, key, method, path)


def _results(body: dict[str, Any], key: str, method: str, path: str) -> list[dict[str, Any]]:
    """The answer's items in the order sent; an item refused raises its typed error."""
    items = (body.get("results") or {}).get(key) or {}
    ordered = [items[k] for k in sorted(items, key=lambda k: int(k) if k.isdigit() else 0)]
    for item in ordered:
        status = int(item.get("_status_code", 200))
        if status < 400:
            continue
        reason = f"{item.get('_status_message', '')}: {item.get('_status_extra', '')}"
        if status == 404:
            raise NotFoundError("quickbooks_time", method, path, status, reason)
        if _LOCK_WORDS.search(reason):
            raise EntryLockedError("quickbooks_time", method, path, status, reason)
        raise ProviderError("quickbooks_time", method, path, status, reason)
    return ordered


class GrantEndpoint(BasicAuthTokenEndpoint):
    """QuickBooks Time's ``/grant``: RFC 6749 grants with the client id and secret in the form
    body (as its documentation shows them), not as HTTP Basic."""

    provider = "quickbooks_time"
    default_token_url = TOKEN_URL

    def __init__(self, client_id: str, client_secret: str, **options: Any) -> None:
        super().__init__(client_id, client_secret, **options)
        self._app = {"client_id": client_id, "client_secret": client_secret}
        self._auth = None  # type: ignore[assignment]  # no Basic header: the body carries them

    async def _grant(self, form: dict[str, str]) -> Tokens:
        return await super()._grant({**form, **self._app})


def grant_endpoint(
    provider: str, app: OAuthApp, token_url: str, http: httpx.AsyncClient
) -> TokenEndpoint:
    """The :class:`~timebridge_providers.kit.credentials.OAuthDescription` endpoint factory."""
    del provider
    secret = app.client_secret.get_secret_value()
    return GrantEndpoint(app.client_id, secret, token_url=token_url, http=http)
