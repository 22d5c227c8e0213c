"""HTTP client of the services' public APIs: the console's only way to read or change anything.

Every call carries the signed-in admin's Core token as ``Authorization: Bearer``; the services
check it (Core says who is an admin of which workspace). A refusal becomes :class:`ApiError`
with the service's own reason, a service that cannot be reached an ``ApiError`` with status 0.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from timebridge_console.config import ServiceUrls
from timebridge_console.domain.errors import ApiError, reason_of

Params = dict[str, str]


def _bearer(token: str) -> dict[str, str]:
    """The caller's token; none for a public route (``Bearer `` alone is not a valid header)."""
    return {"authorization": f"Bearer {token}"} if token else {}


def segment(value: str) -> str:
    """A value placed in a URL path, escaped so it stays one segment."""
    return quote(value, safe="")


@dataclass(frozen=True)
class Download:
    body: bytes
    media_type: str
    disposition: str | None


class ServiceApis:
    """One pooled HTTP client per service; ``transport`` lets tests route to in-process apps."""

    def __init__(
        self,
        urls: ServiceUrls,
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        bases = {
            "ingest": urls.ingest_url,
            "mapping": urls.mapping_url,
            "conflict_resolver": urls.conflict_resolver_url,
            "invoice_export": urls.invoice_export_url,
            "reporting": urls.reporting_url,
        }
        self._clients = {
            name: httpx.AsyncClient(
                base_url=base.rstrip("/"), timeout=timeout_s, transport=transport
            )
            for name, base in bases.items()
        }

    def as_user(self, token: str) -> "Caller":
        return Caller(self, token)

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        token: str,
        *,
        json: Any = None,
        params: Params | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        client = self._clients[service]
        try:
            answer = await client.request(
                method,
                path,
                json=json,
                params=params,
                headers={
                    **_bearer(token),
                    "accept": "application/json",
                    **(headers or {}),
                },
            )
        except httpx.TimeoutException:
            raise ApiError(service, 0, "no answer in time") from None
        except httpx.HTTPError as exc:
            raise ApiError(service, 0, type(exc).__name__) from None
        if answer.status_code >= 400:
            try:
                body = answer.json()
            except ValueError:
                body = None
            raise ApiError(service, answer.status_code, reason_of(body, answer.reason_phrase))
        if answer.status_code == 204 or not answer.content:
            return None
        return answer.json()

    async def download(self, service: str, path: str, token: str) -> "Download":
        """A file a service serves (a report's PDF, CSV, ...), passed through as it is."""
        client = self._clients[service]
        try:
            answer = await client.get(path, headers=_bearer(token))
        except httpx.TimeoutException:
            raise ApiError(service, 0, "no answer in time") from None
        except httpx.HTTPError as exc:
            raise ApiError(service, 0, type(exc).__name__) from None
        if answer.status_code >= 400:
            try:
                body = answer.json()
            except ValueError:
                body = None
            raise ApiError(service, answer.status_code, reason_of(body, answer.reason_phrase))
        return Download(
            answer.content,
            answer.headers.get("content-type", "application/octet-stream"),
            answer.headers.get("content-disposition"),
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()


class Caller:
    """The APIs as one signed-in admin: every call forwards their token."""

    def __init__(self, apis: ServiceApis, token: str) -> None:
        self._apis = apis
        self._token = token

    async def get(self, service: str, path: str, params: Params | None = None) -> Any:
        return await self._apis.request(service, "GET", path, self._token, params=params)

    async def post(
        self, service: str, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        return await self._apis.request(
            service, "POST", path, self._token, json=json, headers=headers
        )

    async def put(self, service: str, path: str, json: Any = None) -> Any:
        return await self._apis.request(service, "PUT", path, self._token, json=json)

    async def patch(self, service: str, path: str, json: Any = None) -> Any:
        return await self._apis.request(service, "PATCH", path, self._token, json=json)

    async def delete(self, service: str, path: str) -> Any:
        return await self._apis.request(service, "DELETE", path, self._token)

    async def download(self, service: str, path: str) -> Download:
        return await self._apis.download(service, path, self._token)
