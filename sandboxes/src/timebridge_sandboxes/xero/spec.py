"""Every exchange with the Xero sandbox checked against Xero's own OpenAPI files, for tests.

:class:`SpecChecked` wraps the sandbox app (whichever client talks to it: xero-python, our
adapter, httpx) and validates each Accounting request and response with ``openapi-core`` against
``xero_accounting.yaml``; :func:`webhook_problems` checks a webhook payload against
``xero-webhooks.yaml``. Not covered, because the files do not describe them: the identity host
(``/connect/token``, ``/connections``), the admin API, and answers with a status the operation
does not document (Xero's ``401``/``403``/``429`` problem documents); those are recorded in
:attr:`SpecChecked.unchecked`, so a test can see what was left out.

Xero's file has defects of its own that a validator trips over (``default: 'false'`` on booleans,
so the file is loaded without validating the file itself).
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

from timebridge_sandboxes.xero.state import API

ACCOUNTING_SPEC = "xero_accounting.yaml"
WEBHOOKS_SPEC = "xero-webhooks.yaml"
SPEC_HOST = "https://api.xero.com"


@functools.cache
def _load(path: Path) -> Any:
    with path.open() as text:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


@functools.cache
def _accounting(specs: Path) -> OpenAPI:
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
    return OpenAPI.from_dict(_load(specs / ACCOUNTING_SPEC), config=config)


@dataclass
class Exchange:
    """One request the sandbox answered, and what the spec said about it."""

    method: str
    path: str
    status: int
    problems: list[str]
    checked: bool
    headers: dict[str, str] = field(default_factory=dict)
    """The request's headers (lower-case names)."""
    body: bytes = b""
    """The request's body, as the client sent it."""
    answer_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SpecChecked:
    """ASGI middleware validating Accounting API traffic against ``xero_accounting.yaml``."""

    app: ASGIApp
    specs: Path
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [
            f"{e.method} {e.path} -> {e.status}: {p}" for e in self.exchanges for p in e.problems
        ]

    @property
    def unchecked(self) -> list[str]:
        return [f"{e.method} {e.path} -> {e.status}" for e in self.exchanges if not e.checked]

    @property
    def checked(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.checked]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
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
                # recorded before the client has the answer, so it can look at once
                self.exchanges.append(self._check(scope, bytes(body), sent))
            await send(message)

        await self.app(scope, recording_receive, recording_send)

    def _check(self, scope: Scope, body: bytes, sent: list[Message]) -> Exchange:
        method, path = scope["method"], scope["path"]
        start = next(m for m in sent if m["type"] == "http.response.start")
        status = start["status"]
        answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
        if not path.startswith(f"{API}/"):
            return Exchange(method, path, status, [], False, headers, body, response_headers)
        spec = _accounting(self.specs)
        request = MockRequest(
            SPEC_HOST,
            method,
            path,
            args=parse_qsl(scope.get("query_string", b"").decode("latin-1")),  # type: ignore[arg-type]
            headers=headers,
            data=body or None,
            content_type=headers.get("content-type", "application/json"),
        )
        with warnings.catch_warnings():
            # openapi-core warns that it cannot check OAuth2 (the sandbox does that itself)
            warnings.simplefilter("ignore", UserWarning)
            found = _errors(spec.iter_request_errors(request))
        problems = [f"request: {error}" for error in found]
        response = MockResponse(
            answer,
            status_code=status,
            headers=response_headers,
            content_type=response_headers.get("content-type", "application/json"),
        )
        documented = _documents(spec, method, path, status)
        if documented:
            problems += [
                f"response: {error}"
                for error in _errors(spec.iter_response_errors(request, response))
            ]
        return Exchange(method, path, status, problems, documented, headers, body, response_headers)


READ_ONLY_SENT = "Tried to write read-only property"


def _errors(found: Any) -> list[str]:
    """Each error with the schema errors under it (openapi-core nests them).

    A read-only property sent back is not one: OpenAPI 3.0 says clients SHOULD NOT send them
    and Xero ignores them, while xero-python sends some on every write (``HasAttachments``
    defaults to ``false`` in its models) and an object read and sent back carries them all.
    """
    messages = []
    for error in found:
        inner = getattr(error.__cause__, "schema_errors", None) or []
        kept = [e for e in inner if not str(e.message).startswith(READ_ONLY_SENT)]
        if inner and not kept:
            continue
        details = "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in kept)
        messages.append(f"{error}" + (f" ({details})" if details else ""))
    return messages


def _documents(spec: OpenAPI, method: str, path: str, status: int) -> bool:
    """Whether the spec describes ``status`` for this operation (or has a default answer)."""
    paths = spec.spec / "paths"
    relative = path.removeprefix(API)
    for template in paths.keys():  # noqa: SIM118 - a spec path object, not a dict
        if _matches(str(template), relative):
            operation = paths / str(template) / method.lower()
            if operation.exists():
                responses = operation / "responses"
                return str(status) in responses or "default" in responses
    return False


def _matches(template: str, path: str) -> bool:
    wanted, given = template.strip("/").split("/"), path.strip("/").split("/")
    return len(wanted) == len(given) and all(
        w.startswith("{") or w == g for w, g in zip(wanted, given, strict=True)
    )


def webhook_problems(specs: Path, payload: Any) -> list[str]:
    """What in a webhook payload ``xero-webhooks.yaml``'s ``WebhookEvent`` schema refuses."""
    from jsonschema import Draft202012Validator, FormatChecker  # noqa: PLC0415 - tests only

    document = _load(specs / WEBHOOKS_SPEC)
    root = {"$ref": "#/components/schemas/WebhookEvent", "components": document["components"]}
    validator = Draft202012Validator(root, format_checker=FormatChecker(["uuid"]))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(payload)]
