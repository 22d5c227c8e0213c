"""Everhour's webhook route, and the middleware that keeps its URL token out of everything.

The token in ``/v1/webhooks/everhour/<token>`` is the only credential of an unsigned delivery.
:class:`HookTokenMiddleware` is the outermost layer: it replaces the token by its SHA-256 before
routing, tracing (span names, ``url.path``) or logging (structlog's ``path``) see the request,
so only the hash, which is also all the database holds, is ever logged or stored.
"""

import re

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.types import ASGIApp, Receive, Scope, Send

from timebridge_common.kafka.publisher import UnavailableError
from timebridge_ingest.domain.connections import hook_token_hash
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.everhour_hooks import EverhourHooks

PREFIX = "/v1/webhooks/everhour/"
_HASH = re.compile(r"[0-9a-f]{64}")


class HookTokenMiddleware:
    """Rewrites ``PREFIX<anything>`` to ``PREFIX<sha256 of anything>`` (path and raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            hashed = PREFIX + hook_token_hash(scope["path"][len(PREFIX) :])
            scope = {**scope, "path": hashed, "raw_path": hashed.encode("ascii")}
        await self.app(scope, receive, send)


def everhour_router(hooks: EverhourHooks, max_body_bytes: int) -> APIRouter:
    router = APIRouter()

    @router.post(
        PREFIX + "{token_hash}",
        tags=["webhooks"],
        summary="Everhour webhook: registration handshake and time deliveries",
        responses={
            200: {"description": "Handshake: X-Hook-Secret echoed"},
            202: {"description": "Delivery durably stored; its record is re-read and published"},
            404: {"description": "Unknown or disconnected webhook"},
            413: {"description": "Body too large"},
            422: {"description": "Not an Everhour time delivery"},
            503: {"description": "Storage unavailable or too many deliveries waiting; retry"},
        },
    )
    async def everhour_hook(token_hash: str, request: Request) -> Response:
        """The path segment arrives hashed (:class:`HookTokenMiddleware`); anything else is
        unknown."""
        if not _HASH.fullmatch(token_hash):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown webhook")
        body = await _read_body(request, max_body_bytes)
        try:
            answer = await hooks.receive(token_hash, dict(request.headers), body)
        except UnavailableError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "30"}
            ) from None
        except RejectedError as exc:
            raise HTTPException(exc.status, exc.reason) from None
        if not answer.accepted:
            return Response(status_code=status.HTTP_200_OK, headers=answer.headers)
        return Response(
            status_code=status.HTTP_202_ACCEPTED,
            content=b'{"status":"accepted"}',
            media_type="application/json",
        )

    return router


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
