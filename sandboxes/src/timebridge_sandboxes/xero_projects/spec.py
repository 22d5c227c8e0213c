"""Xero's OpenAPI description of the Projects API (``xero-projects.yaml``), for checking every
exchange a test has with the sandbox (through the generic
:class:`~timebridge_sandboxes.harvest_openapi.SpecCheckingTransport`).

The file documents ``200``/``201``/``204`` and ``400`` only: answers with another status (the
``401``/``403`` problem documents, ``404``, ``429`` and ``5xx``) have nothing to be checked
against, and :data:`UNDOCUMENTED` names them so a test can set them aside, saying so. Xero's file
has slips a validator of the file itself trips over (``maximum`` on a string), so it is loaded
without validating the file; and it writes ``type`` beside ``$ref`` (a task's ``rate``: ``$ref:
Amount`` with ``type: number``), which OpenAPI 3.0 says to ignore, so it is dropped here (a
validator that merged them would demand an amount be both an object and a number).
"""

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.testing import MockRequest, MockResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SPEC_NAME = "xero-projects.yaml"
UNDOCUMENTED = (401, 403, 404, 429, 500, 502, 503, 504)


@functools.cache
def xero_projects_openapi(specs: Path, server: str) -> OpenAPI:
    """The spec, its server replaced by the sandbox's ``.../projects.xro/2.0``."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load((specs / SPEC_NAME).read_text(), Loader=loader)  # noqa: S506 - a safe loader
    document: dict[str, Any] = _refs_alone(raw)
    document["servers"] = [{"url": server.rstrip("/") + "/projects.xro/2.0"}]
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
    return OpenAPI.from_dict(document, config=config)


def _refs_alone(node: Any) -> Any:
    """The document as OpenAPI 3.0 reads it: a ``$ref`` object's siblings are ignored."""
    if isinstance(node, list):
        return [_refs_alone(v) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    return {k: _refs_alone(v) for k, v in node.items()}


@dataclass
class SpecRecorder:
    """ASGI middleware validating every exchange with the sandbox against the spec, for clients
    that call it over a socket (xero-python): request always, answer when its status is one the
    spec documents."""

    app: ASGIApp
    openapi: OpenAPI
    host: str
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        sent: list[Message] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self._check(scope, bytes(body), sent)
            await send(message)

        await self.app(scope, recording_receive, recording_send)

    def _check(self, scope: Scope, body: bytes, sent: list[Message]) -> None:
        start = next(m for m in sent if m["type"] == "http.response.start")
        answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        answered = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
        where = f"{scope['method']} {scope['path']}"
        request = MockRequest(
            self.host,
            scope["method"].lower(),
            scope["path"],
            args=parse_qsl(scope.get("query_string", b"").decode("latin-1")),  # type: ignore[arg-type]
            headers=headers,
            data=body or None,
            content_type=headers.get("content-type", "application/json"),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # OAuth2 is the sandbox's to check
            self.problems += [
                f"request {where}: {e!r}" for e in self.openapi.iter_request_errors(request)
            ]
            if start["status"] not in UNDOCUMENTED:
                response = MockResponse(
                    answer,
                    status_code=start["status"],
                    headers=answered,
                    content_type=answered.get("content-type", "application/json"),
                )
                self.problems += [
                    f"answer {start['status']} to {where}: {e!r}"
                    for e in self.openapi.iter_response_errors(request, response)
                ]
        self.checked += 1
