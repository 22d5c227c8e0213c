"""HTTP routes of the ingest gateway."""

import datetime as dt
import hmac
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.core_webhook import SIGNATURE_HEADER
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.ports import WebhookSecrets
from timebridge_ingest.handlers.webhooks import accept_core_webhook

Clock = Callable[[], dt.datetime]


class AcceptedResponse(BaseModel):
    status: Literal["accepted", "ignored"] = "accepted"
    event_id: str | None = None
    topic: str | None = None


class SecretBody(BaseModel):
    secret: str = Field(min_length=32, max_length=256, description="Shared HMAC secret")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_router(
    settings: Settings, secrets: WebhookSecrets, publisher: EventPublisher, clock: Clock
) -> APIRouter:
    router = APIRouter()
    bearer = HTTPBearer(auto_error=False)

    def require_admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        token = settings.admin_token.get_secret_value()
        if credentials is None or not hmac.compare_digest(credentials.credentials, token):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "admin bearer token required")

    @router.post(
        "/v1/webhooks/core/{workspace_id}",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["webhooks"],
        summary="Receive a signed Core webhook",
        responses={
            400: {"description": "Body is not JSON"},
            401: {"description": "Missing, stale or wrong signature"},
            404: {"description": "No webhook secret for this workspace"},
            413: {"description": "Body too large"},
            415: {"description": "Not application/json"},
            422: {"description": "Body violates the Core webhook schema"},
            503: {"description": "Kafka did not acknowledge; retry later"},
        },
    )
    async def core_webhook(
        request: Request,
        workspace_id: WorkspaceIdPath,
        signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    ) -> AcceptedResponse:
        """Answered 202 only once the ``TimeEntryLogged`` event is durably in Kafka."""
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "expected application/json")
        body = await _read_body(request, settings.max_webhook_bytes)
        try:
            accepted = await accept_core_webhook(
                workspace_id=workspace_id,
                body=body,
                signature=signature,
                secrets=secrets,
                publisher=publisher,
                now=clock(),
                tolerance_s=settings.webhook_tolerance_s,
                publish_timeout_s=settings.publish_timeout_s,
            )
        except RejectedError as exc:
            raise HTTPException(exc.status, exc.reason) from None
        except UnavailableError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"event store unavailable, retry later: {exc}",
                headers={"Retry-After": "5"},
            ) from None
        if accepted.event_id is None:
            return AcceptedResponse(status="ignored")
        return AcceptedResponse(event_id=str(accepted.event_id), topic=accepted.topic)

    @router.put(
        "/v1/admin/workspaces/{workspace_id}/webhook-secrets/{source}",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["admin"],
        summary="Set the secret a source signs its webhooks with",
        dependencies=[Depends(require_admin)],
    )
    async def put_secret(workspace_id: WorkspaceIdPath, source: str, body: SecretBody) -> None:
        if source != "core":
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown webhook source {source!r}")
        await secrets.put(workspace_id, source, body.secret)

    return router
