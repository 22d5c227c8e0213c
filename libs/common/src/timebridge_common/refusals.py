"""Refusals of the services' management use cases; each kind carries the HTTP status it answers.

Use cases raise these; the HTTP entrypoints turn them into ``HTTPException(status, reason)``
(:func:`refusal_handler`), so the domain never imports the web framework.
"""

from fastapi import Request
from fastapi.responses import JSONResponse


class RefusedError(Exception):
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFoundError(RefusedError):
    status = 404


class ConflictError(RefusedError):
    """The change contradicts what is set up, or the thing is in a state that forbids it."""

    status = 409


class InvalidError(RefusedError):
    """An id the other system does not know, or a value outside what is allowed."""

    status = 422


class UpstreamError(RefusedError):
    """A provider could not be asked (down, rate limited, refusing the credentials)."""

    status = 502


async def refusal_handler(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI exception handler: ``{"detail": reason}`` with the refusal's status."""
    assert isinstance(exc, RefusedError)
    return JSONResponse({"detail": exc.reason}, status_code=exc.status)
