"""One error shape for every answer a service refuses, and OpenAPI documents that say so.

Every 4xx/5xx body of every service is :class:`ErrorBody`: ``{"detail": "<why>"}``, plus
``"errors": [{"loc", "msg", "type"}, ...]`` when the request failed validation (FastAPI's own
422 body is a list in ``detail``, business refusals a string: clients had to handle both, and the
documents described only the list). ``detail`` is always a human-readable string, so a client
reads one field whatever refused it; ``errors`` lists the failing fields for machines. The
rejected input is never echoed (it may be an API key).

:func:`install_error_handling` installs the handlers and rewrites the app's OpenAPI document
once it is built, for every route, including routers added later:

- every 4xx/5xx response is documented with ``ErrorBody`` (FastAPI's ``HTTPValidationError`` is
  replaced);
- 400 (bad bytes, :mod:`timebridge_common.request_guard`) is declared on every operation;
- operations secured by a Core admin's token (:data:`CORE_ADMIN_SCHEME`) declare 401, 403, 404
  (workspace not registered) and 502 (Core could not check the token); those secured by the
  platform token (:data:`PLATFORM_ADMIN_SCHEME`) declare 401. Statuses of a route's own use cases
  (404, 409, 422, 502, ...) are declared by the route (``responses=refusals(...)``); an answer
  sent without a body is declared with ``"content": {}`` and left so.
"""

from collections.abc import Iterable
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from timebridge_common.errors import TransientError
from timebridge_common.refusals import RefusedError

CORE_ADMIN_SCHEME = "CoreAdminToken"
PLATFORM_ADMIN_SCHEME = "PlatformAdminToken"

DESCRIPTIONS = {
    400: "Unreadable request: bad bytes (NUL, control characters, invalid UTF-8) in the path,"
    " query or body",
    401: "No token, or one that is not accepted",
    403: "The token's user is not an admin of this workspace",
    404: "Not found (or the workspace is not registered)",
    409: "The change contradicts the current state",
    413: "Body too large",
    422: "The request does not satisfy the schema or a business rule",
    502: "A provider (Core, a tracker, an accounting tool) could not be asked",
    503: "A dependency is unavailable; retry after Retry-After",
    504: "A provider did not answer in time",
}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: body/query/path/header, then the field")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The body of every refusal (4xx) and failure (5xx)."""

    detail: str = Field(description="Why the request was refused, for a human")
    errors: list[FieldError] | None = Field(
        default=None, description="Request validation: each failing field (no input echoed)"
    )


def error_response(
    status: int, detail: str, *, errors: list[FieldError] | None = None, headers: Any = None
) -> JSONResponse:
    body = ErrorBody(detail=detail, errors=errors).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: these statuses, described, with ``ErrorBody``."""
    return {s: {"description": DESCRIPTIONS[s], "model": ErrorBody} for s in statuses}


async def _http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(loc=list(e.get("loc", ())), msg=str(e.get("msg", "")), type=str(e.get("type")))
        for e in exc.errors()
    ]
    where = "; ".join(f"{'.'.join(str(p) for p in e.loc)}: {e.msg}" for e in errors[:5])
    return error_response(422, f"invalid request: {where}", errors=errors)


async def _refusal(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RefusedError)
    return error_response(exc.status, exc.reason)


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    return unavailable(exc)


def unavailable(exc: Exception) -> JSONResponse:
    """A dependency (PostgreSQL, a provider) is down: the client should retry, not give up."""
    retry_after = exc.retry_after if isinstance(exc, TransientError) else None
    wait = str(max(1, round(retry_after or 5)))
    return error_response(
        503, f"a dependency is unavailable, retry later: {exc}", headers={"Retry-After": wait}
    )


async def _internal(_: Request, __: Exception) -> JSONResponse:
    """Last resort (the exception is still logged by the server): the same shape, no internals."""
    return error_response(500, "internal error")


TRANSIENT: tuple[type[Exception], ...] = (
    TransientError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,
    TimeoutError,
)


def install_error_handling(app: FastAPI) -> None:
    """Answer every refusal as :class:`ErrorBody` and document it so (see the module)."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(RefusedError, _refusal)
    for transient in TRANSIENT:
        app.add_exception_handler(transient, _unavailable)
    app.add_exception_handler(Exception, _internal)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_ERROR_REF = "#/components/schemas/ErrorBody"
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


def _implied(security: Iterable[dict[str, Any]]) -> set[int]:
    schemes = {name for requirement in security for name in requirement}
    codes = {400}
    if CORE_ADMIN_SCHEME in schemes:
        codes |= {401, 403, 404, 502}
    if PLATFORM_ADMIN_SCHEME in schemes:
        codes |= {401}
    return codes


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a FastAPI OpenAPI document so that every error answer is ``ErrorBody``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorBody"] = error_schema
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            for implied in _implied(operation.get("security", [])):
                responses.setdefault(str(implied), {"description": DESCRIPTIONS[implied]})
            for code, response in responses.items():
                if code[0] not in "45" or response.get("content") == {}:
                    continue  # success, or declared without a body (``"content": {}``)
                content = response.setdefault("content", {})
                media = content.setdefault("application/json", {})
                ref = media.get("schema", {}).get("$ref")
                if ref in (None, _FASTAPI_VALIDATION):
                    media["schema"] = {"$ref": _ERROR_REF}
                if ref == _FASTAPI_VALIDATION:
                    response["description"] = DESCRIPTIONS[422]
    return schema
