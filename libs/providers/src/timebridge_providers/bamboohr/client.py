"""BambooHR API client: the calls Timebridge makes (spec: ``bamboohr-openapi.yaml``).

- Basic auth with the API key as user name and ``x`` as password; ``Accept: application/json``
  on every call (BambooHR answers XML without it).
- Base ``https://{company_domain}.bamboohr.com`` (the spec's server), paths under ``/api/v1``;
  ``{company_domain}`` is the connection field of that name. The seeds' older form
  ``https://api.bamboohr.com/api/gateway.php/{companyDomain}/v1/...`` is the same API.
- ``GET /api/v1/employees/0`` is the key's own employee (the connection test);
  ``GET /api/v1/employees/directory`` gives the work emails (``404`` when it is empty);
  ``GET /api/v1/time_off/requests?start=&end=`` lists requests overlapping the dates, every
  status when ``status`` is not given (so cancellations are seen).
- BambooHR publishes no request limit; it answers ``503`` (or ``429``) with ``Retry-After`` when
  it throttles, which the shared HTTP layer waits out.
"""

import datetime as dt
from typing import Unpack

from pydantic import TypeAdapter

from timebridge_common.outbound.http import NotFoundError, ProviderClient
from timebridge_providers.bamboohr.wire import Directory, Employee, TimeOffRequest
from timebridge_providers.kit.plumbing import ClientOptions, Wire, basic

BAMBOOHR_API_URL = "https://{company_domain}.bamboohr.com"
RATE_LIMIT = (100, 60.0)
"""Not published by BambooHR: a conservative budget per key; throttling answers are retried."""
_WIRE = Wire("bamboohr", RATE_LIMIT)

_EMPLOYEE = TypeAdapter(Employee)
_DIRECTORY = TypeAdapter(Directory)
_REQUESTS = TypeAdapter(list[TimeOffRequest])
_JSON = {"Accept": "application/json"}


def company_url(base_url: str, company_domain: str) -> str:
    """The API's base for one company: ``{company_domain}`` in the base URL filled in."""
    return base_url.replace("{company_domain}", company_domain)


def basic_auth(api_key: str) -> str:
    """BambooHR's Basic auth: the API key as user name and ``x`` as password."""
    return basic(api_key, "x")


class BambooHrClient(ProviderClient):
    """One BambooHR company, read with one API key."""

    def __init__(
        self, base_url: str, api_key: str, company_domain: str, **options: Unpack[ClientOptions]
    ) -> None:
        headers = {"Authorization": basic_auth(api_key), **_JSON}
        self._http = _WIRE.http(company_url(base_url, company_domain), headers, options)

    async def me(self) -> Employee:
        params = {"fields": "firstName,lastName,workEmail"}
        response = await self._http.request("GET", "/api/v1/employees/0", params=params)
        return self._http.parse(response, _EMPLOYEE)

    async def directory(self) -> Directory:
        try:
            response = await self._http.request("GET", "/api/v1/employees/directory")
        except NotFoundError:
            return Directory()  # documented: 404 when the directory is empty
        return self._http.parse(response, _DIRECTORY)

    async def time_off_requests(self, start: dt.date, end: dt.date) -> list[TimeOffRequest]:
        """Every request overlapping ``start`` to ``end``, whatever its status."""
        params = {"start": start.isoformat(), "end": end.isoformat()}
        response = await self._http.request("GET", "/api/v1/time_off/requests", params=params)
        return self._http.parse(response, _REQUESTS)
