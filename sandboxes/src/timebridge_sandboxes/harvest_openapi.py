"""Checking a client's traffic with the Harvest sandbox against Harvest's OpenAPI description.

Every request a test sends and every answer it gets goes through :class:`SpecCheckingTransport`,
which validates both with ``openapi-core`` against ``harvest-v2-openapi.yaml`` (its server URL
replaced by the sandbox's, so paths match) and records each mismatch; the test asserts there were
none. Admin calls under ``/_sandbox`` are not Harvest's and are not checked.
"""

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_NAME = "harvest-v2-openapi.yaml"


@functools.cache
def harvest_openapi(specs: Path, server: str) -> OpenAPI:
    """The spec, read once per server URL (parsing 470 kB of YAML takes a moment)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser, where built
    raw = yaml.load((specs / SPEC_NAME).read_text(), Loader=loader)  # noqa: S506 - a safe loader
    document: dict[str, Any] = _string_keys(raw)
    document["servers"] = [{"url": server.rstrip("/") + "/v2"}]
    return OpenAPI.from_dict(document)


def _string_keys(node: Any) -> Any:
    """The document as OpenAPI 3.0 means it: YAML reads ``200:`` as an integer key, and the
    generator writes a nullable reference as ``anyOf: [{$ref}, {type: "null"}]`` (3.1's form,
    invalid in 3.0), read here as ``anyOf: [{$ref}]`` with ``nullable: true``."""
    if isinstance(node, list):
        return [_string_keys(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {str(k): _string_keys(v) for k, v in node.items()}
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        out["anyOf"] = [o for o in options if o != {"type": "null"}]
        out["nullable"] = True
    return out


class _Request:
    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        url = request.url
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(url.query.decode(), keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )
        self.host_url = f"{url.scheme}://{url.netloc.decode()}"
        self.path = url.path
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "application/json")


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "")
        self.data: bytes | None = response.content


@dataclass
class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; every exchange with Harvest's API is validated against the spec."""

    inner: httpx.AsyncBaseTransport
    openapi: OpenAPI
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    def take(self, fragment: str) -> list[str]:
        """Remove and return the problems mentioning ``fragment`` (a test's deliberate ones)."""
        taken = [p for p in self.problems if fragment in p]
        self.problems = [p for p in self.problems if fragment not in p]
        return taken

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.startswith("/_sandbox"):
            return response
        await response.aread()
        where = f"{request.method} {request.url.path}"
        checked_request = _Request(request)
        for error in self.openapi.iter_request_errors(checked_request):
            self.problems.append(f"request {where}: {error!r}")
        for error in self.openapi.iter_response_errors(checked_request, _Response(response)):
            self.problems.append(f"answer {response.status_code} to {where}: {error!r}")
        self.checked += 1
        return response
