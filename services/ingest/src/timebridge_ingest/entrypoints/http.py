"""HTTP routes of the ingest gateway."""

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from pydantic import BaseModel, Field
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.observe import SignedWebhooks, webhooks_of

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import PlatformAdmin
from timebridge_common.http_errors import refusals
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.webhooks.intake import read_body
from timebridge_common.webhooks.replay import DeliveryInProgressError, ReplayWindow
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.ports import WebhookSecrets
from timebridge_ingest.handlers.webhooks import accept_signed_webhook

Clock = Callable[[], dt.datetime]


class AcceptedResponse(BaseModel):
    status: Literal["accepted", "ignored", "duplicate"] = Field(
        default="accepted",
        description="accepted: published now; duplicate: this delivery was published before"
        " (a replay, answered again without publishing); ignored: nothing to publish",
    )
    event_id: str | None = None
    topic: str | None = None


class SecretBody(BaseModel):
    secret: str = Field(min_length=32, max_length=256, description="Shared HMAC secret")


def webhook_router(
    settings: Settings,
    secrets: WebhookSecrets,
    publisher: EventPublisher,
    clock: Clock,
    window: ReplayWindow,
) -> APIRouter:
    """The home system's signed webhooks (``/v1/webhooks/<home>/<workspace>``) and secrets."""
    router = APIRouter()
    platform_admin = PlatformAdmin(settings.admin_token)
    home = registry().home()
    webhooks = webhooks_of(home.observe)
    assert webhooks is not None, "the home system sends signed webhooks"
    assert webhooks.scheme == "signed"
    signed: SignedWebhooks = webhooks
    source = home.name

    @router.post(
        f"/v1/webhooks/{source}/{{workspace_id}}",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["webhooks"],
        summary=f"Receive a signed {home.profile.title} webhook",
        responses={
            202: {"description": "Published (or published before: a replay), or ignored"},
            400: {"description": "Body is not JSON (or bad bytes in the URL)"},
            401: {"description": "Missing, malformed (non-ASCII), stale or wrong signature"},
            404: {"description": "No webhook secret for this workspace"},
            409: {"description": "The same delivery is being published right now; retry"},
            413: {"description": "Body too large"},
            415: {"description": "Not application/json"},
            422: {"description": "Body violates the Core webhook schema"},
            503: {"description": "Kafka (or the replay window) unavailable; retry later"},
        },
    )
    async def signed_webhook(
        request: Request,
        workspace_id: WorkspaceIdPath,
        signature: Annotated[str | None, Header(alias=signed.signature_header)] = None,
    ) -> AcceptedResponse:
        """Answered 202 only once the event (an entry's, a contract's or a milestone's) is
        durably in Kafka."""
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "expected application/json")
        body = await read_body(request, settings.max_webhook_bytes)
        try:
            accepted = await accept_signed_webhook(
                source=source,
                webhooks=signed,
                workspace_id=workspace_id,
                body=body,
                signature=signature,
                secrets=secrets,
                publisher=publisher,
                window=window,
                now=clock(),
                tolerance_s=settings.webhook_tolerance_s,
                publish_timeout_s=settings.publish_timeout_s,
            )
        except RejectedError as exc:
            raise HTTPException(exc.status, exc.reason) from None
        except DeliveryInProgressError as exc:
            raise HTTPException(
                status.HTTP_409_CONFLICT, str(exc), headers={"Retry-After": "5"}
            ) from None
        except UnavailableError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"event store unavailable, retry later: {exc}",
                headers={"Retry-After": "5"},
            ) from None
        if accepted.event_id is None:
            return AcceptedResponse(status="ignored")
        return AcceptedResponse(
            status="duplicate" if accepted.duplicate else "accepted",
            event_id=str(accepted.event_id),
            topic=accepted.topic,
        )

    @router.put(
        "/v1/admin/workspaces/{workspace_id}/webhook-secrets/{source}",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["admin"],
        summary="Set the secret a source signs its webhooks with",
        dependencies=[Depends(platform_admin.require)],
        responses=refusals(404),
    )
    async def put_secret(workspace_id: WorkspaceIdPath, source: str, body: SecretBody) -> None:
        if source != home.name:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown webhook source {source!r}")
        await secrets.put(workspace_id, source, body.secret)

    return router
