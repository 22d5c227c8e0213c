"""Tracker webhook routes, and the middleware that keeps their URL token out of everything.

Every tracker whose package offers webhooks (the registry says which; signed or hints) gets
``/v1/webhooks/<provider>/<token>`` (Everhour's hooks registered before stay valid: the path is
the same). The token names the connection; it is the only credential of an unsigned delivery.
:class:`HookTokenMiddleware` is the outermost layer: it replaces the token by its SHA-256 before
routing, tracing (span names, ``url.path``) or logging (structlog's ``path``) see the request, so
only the hash, which is also all the database holds, is ever logged or stored.
"""

import json
import re

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.types import ASGIApp, Receive, Scope, Send
from timebridge_providers.installed import registry

from timebridge_common.kafka.publisher import UnavailableError
from timebridge_common.webhooks.replay import DeliveryInProgressError
from timebridge_ingest.domain.connections import hook_token_hash
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.hooks import HookIntake, hook_providers

_HASH = re.compile(r"[0-9a-f]{64}")


def prefix(provider: str) -> str:
    return f"/v1/webhooks/{provider}/"


class HookTokenMiddleware:
    """Rewrites ``<prefix><anything>`` to ``<prefix><sha256 of anything>`` (path and raw path)
    for every provider whose webhooks carry a URL token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.prefixes = tuple(prefix(p) for p in sorted(hook_providers()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            start = next((p for p in self.prefixes if path.startswith(p)), None)
            if start is not None:
                hashed = start + hook_token_hash(path[len(start) :])
                scope = {**scope, "path": hashed, "raw_path": hashed.encode("ascii")}
        await self.app(scope, receive, send)


def hooks_router(hooks: HookIntake, max_body_bytes: int) -> APIRouter:
    router = APIRouter()
    for provider in sorted(hook_providers()):
        _route(router, provider, hooks, max_body_bytes)
    return router


def _route(router: APIRouter, provider: str, hooks: HookIntake, max_body_bytes: int) -> None:
    title = registry().get(provider).profile.title

    @router.post(
        prefix(provider) + "{token_hash}",
        tags=["webhooks"],
        summary=f"{title} webhook: handshake or validation ping, and deliveries",
        responses={
            200: {
                "description": "Handshake (X-Hook-Secret echoed, or its HMAC under the hook's"
                " secret) or validation ping answered"
            },
            202: {
                "description": "Signed change published to Kafka, or hint durably stored (its"
                " record is re-read and published); status accepted, duplicate or ignored"
            },
            400: {"description": "Body is not JSON"},
            401: {"description": "Missing, malformed, wrong or stale signature"},
            404: {"description": "Unknown or disconnected webhook"},
            409: {
                "description": "The same delivery is being taken right now (retry), or a"
                " handshake handing over a secret for a hook not being registered"
            },
            413: {"description": "Body too large"},
            422: {"description": "Not a delivery naming a record of this provider"},
            503: {"description": "Kafka or storage unavailable, or too many waiting; retry"},
        },
    )
    async def hint_webhook(token_hash: str, request: Request) -> Response:
        """The path segment arrives hashed (:class:`HookTokenMiddleware`); anything else is
        unknown."""
        if not _HASH.fullmatch(token_hash):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown webhook")
        body = await _read_body(request, max_body_bytes)
        try:
            answer = await hooks.receive(provider, token_hash, dict(request.headers), body)
        except UnavailableError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "30"}
            ) from None
        except DeliveryInProgressError as exc:
            raise HTTPException(
                status.HTTP_409_CONFLICT, str(exc), headers={"Retry-After": "5"}
            ) from None
        except RejectedError as exc:
            raise HTTPException(exc.status, exc.reason) from None
        if answer.reply is not None:
            return Response(
                status_code=status.HTTP_200_OK,
                content=json.dumps(answer.reply).encode(),
                media_type="application/json",
            )
        if not answer.accepted:
            return Response(status_code=status.HTTP_200_OK, headers=answer.headers)
        return Response(
            status_code=status.HTTP_202_ACCEPTED,
            content=json.dumps({"status": answer.status}).encode(),
            media_type="application/json",
        )


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
