"""The Core webhook's hot path as plain ASGI, in front of the app's middlewares (issue 12).

Ingest's accept path spent most of its CPU in FastAPI's per-request machinery (dependency
solving of the path and header parameters, response model serialization, router matching, the
exception and request-guard middlewares) rather than in accepting webhooks. This middleware
answers ``POST /v1/webhooks/<home>/<workspace>`` itself and passes everything else on. It keeps
what those layers gave the route, in the same order and with the same answers: the bad-bytes
check of the URL (``400``, :func:`~timebridge_common.request_guard.url_problem`), the workspace
id's pattern (``422`` naming ``path.workspace_id``), ``415``, the bounded body (``413``), one
server span per request continuing an incoming ``traceparent`` (the producer span of the
publish is its child), the ``path`` bound for log lines, and :class:`ErrorBody` refusals. The
FastAPI route stays registered for the OpenAPI description (and serves when this layer is not
installed); both call :class:`~timebridge_ingest.entrypoints.http.CoreWebhookReceiver`.
"""

import json
import re
from typing import TYPE_CHECKING

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, use_span
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from timebridge_common.api import WORKSPACE_ID_PATTERN
from timebridge_common.http_errors import TRANSIENT, FieldError, error_response, unavailable
from timebridge_common.request_guard import url_problem
from timebridge_common.tracing_lean import LeanTracer

if TYPE_CHECKING:
    from timebridge_ingest.entrypoints.http import CoreWebhookReceiver

_WORKSPACE = re.compile(WORKSPACE_ID_PATTERN)
_PATTERN_MSG = f"String should match pattern '{WORKSPACE_ID_PATTERN}'"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class _BodyTooLargeError(Exception):
    pass


class _DisconnectedError(Exception):
    pass


class CoreWebhookFastPath:
    """Serves the home system's signed webhook route without FastAPI (see the module)."""

    def __init__(
        self, app: ASGIApp, *, receiver: "CoreWebhookReceiver", tracer: Tracer, max_body_bytes: int
    ) -> None:
        self.app = app
        self.receiver = receiver
        self.tracer = LeanTracer(tracer)
        self.max_body_bytes = max_body_bytes
        self.prefix = receiver.path_prefix
        self.signature_header = receiver.signed.signature_header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == "http" else ""
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith(self.prefix)
            or "/" in path[len(self.prefix) :]
            or len(path) == len(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.lower(), value)
        carrier = {
            name: headers[key].decode("latin-1")
            for name, key in (("traceparent", b"traceparent"), ("tracestate", b"tracestate"))
            if key in headers
        }
        span = self.tracer.start_span(
            f"POST {path}",
            context=propagate.extract(carrier) if carrier else None,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": "POST", "url.path": path},
        )
        # What ``start_as_current_span`` does with the span (current while the request is
        # handled, an escaping exception recorded on it, ended on exit), without the SDK's
        # per-span machinery (see tracing_lean).
        with use_span(span, end_on_exit=True):
            # bind/reset rather than structlog's ``bound_contextvars`` (a generator-based
            # context manager: ~1% of the CPU per webhook for the same binding).
            tokens = bind_contextvars(path=path)
            try:
                code = await self._handle(scope, receive, send, path, headers) or 500
            finally:
                reset_contextvars(**tokens)
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, path: str, headers: dict[bytes, bytes]
    ) -> int | None:
        """The status answered (None: the client left before its body was read)."""
        refused = self._refusal(scope, path, headers)
        if refused is None:
            try:
                body = await self._body(receive, headers.get(b"content-length"))
            except _BodyTooLargeError:
                refused = error_response(413, f"body over {self.max_body_bytes} bytes")
            except _DisconnectedError:
                return None  # nobody to answer; nothing was published
        if refused is not None:
            await refused(scope, receive, send)
            return refused.status_code
        workspace_id = path[len(self.prefix) :]
        signature = headers.get(self.signature_header)
        try:
            code, answer, extra = await self.receiver.accept(
                workspace_id, body, None if signature is None else signature.decode("latin-1")
            )
        except TRANSIENT as exc:
            refused = unavailable(exc)
        else:
            if code >= 400:
                refused = error_response(code, str(answer["detail"]), headers=extra)
        if refused is not None:
            await refused(scope, receive, send)
            return refused.status_code
        payload = json.dumps(answer, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": code,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return code

    def _refusal(self, scope: Scope, path: str, headers: dict[bytes, bytes]) -> Response | None:
        """What the request guard, FastAPI's path validation and the route's content type check
        answered before the body is read, in their order; None when the request passes."""
        problem = url_problem(scope)
        if problem is not None:
            return error_response(400, problem)
        if not _WORKSPACE.match(path[len(self.prefix) :]):
            error = FieldError(
                loc=["path", "workspace_id"], msg=_PATTERN_MSG, type="string_pattern_mismatch"
            )
            detail = f"invalid request: path.workspace_id: {_PATTERN_MSG}"
            return error_response(422, detail, errors=[error])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if content_type.split(";")[0].strip().lower() != "application/json":
            return error_response(415, "expected application/json")
        return None

    async def _body(self, receive: Receive, declared: bytes | None) -> bytes:
        """The raw body, refused as soon as it exceeds the limit (declared or streamed)."""
        limit = self.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _BodyTooLargeError
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _DisconnectedError
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
