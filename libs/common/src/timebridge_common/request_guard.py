"""Bad bytes are refused at the door: one ASGI middleware in front of every service's routes.

PostgreSQL's ``text`` cannot hold NUL (``%00`` in a query parameter was a 500 once it reached a
query), Python strings can hold lone surrogates that no UTF-8 encoder accepts (a JSON body's
``"\\ud800"``), and ids never contain control characters. Rather than each route guarding each
parameter, the guard answers ``400`` with :class:`~timebridge_common.http_errors.ErrorBody`
before any route runs when:

- the path or the query string is not valid UTF-8 once percent-decoded, or holds a control
  character (C0 or DEL);
- a JSON request body holds a NUL or a lone surrogate in any key or string value.

Webhook receivers (``/v1/webhooks/...``) get the path and query check only: their bodies are
verified byte for byte against a signature by their own code and are passed on untouched.
"""

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timebridge_common.http_errors import FieldError, error_response

WEBHOOK_PREFIX = "/v1/webhooks/"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_TEXT = re.compile(r"[\x00\ud800-\udfff]")


def _decoded(raw: bytes, what: str) -> tuple[str | None, str | None]:
    """(text, problem): ``raw`` percent-decoded as UTF-8, or why it cannot be."""
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None, f"the {what} is not valid UTF-8 once percent-decoded"
    if _CONTROL.search(text):
        return None, f"the {what} holds a control character (e.g. NUL)"
    return text, None


def url_problem(scope: Scope) -> str | None:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    _, problem = _decoded(raw_path, "path")
    if problem is None:
        query: bytes = scope.get("query_string", b"")
        _, problem = _decoded(query, "query string")
    return problem


def _bad_strings(value: Any, loc: list[str | int]) -> list[FieldError]:
    found: list[FieldError] = []
    if isinstance(value, str):
        if _BAD_TEXT.search(value):
            found.append(
                FieldError(loc=loc, msg="NUL or lone surrogate in text", type="bad_characters")
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _bad_strings(key, [*loc, "<key>"]) + _bad_strings(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _bad_strings(item, [*loc, index])
    return found


def _is_json(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type in (b"", b"application/json") or content_type.endswith(b"+json")


class RequestGuard:
    """Refuses requests with bad bytes (see the module) before they reach a route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = url_problem(scope)
        if problem is not None:
            await error_response(400, problem)(scope, receive, send)
            return
        if scope["path"].startswith(WEBHOOK_PREFIX) or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        errors = _json_problems(body)
        if errors:
            detail = "bad characters in the body: NUL or lone surrogates are not accepted"
            await error_response(400, detail, errors=errors)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _json_problems(body: bytes) -> list[FieldError]:
    if not body:
        return []
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return []  # not JSON: the route's validation answers 422 with the reason
    return _bad_strings(parsed, ["body"])
