"""HTTP routes of the ingest gateway."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, status
from opentelemetry.trace import Tracer
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
from timebridge_ingest.entrypoints.core_webhook_asgi import CoreWebhookFastPath
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


@dataclass(frozen=True)
class CoreWebhookReceiver:
    """What the Core webhook route does once the request is read: shared by the documented
    FastAPI route and the lean ASGI path that serves it (:mod:`.core_webhook_asgi`)."""

    source: str
    signed: SignedWebhooks
    settings: Settings
    secrets: WebhookSecrets
    publisher: EventPublisher
    clock: Clock
    window: ReplayWindow

    @property
    def path_prefix(self) -> str:
        return f"/v1/webhooks/{self.source}/"

    async def accept(
        self, workspace_id: str, body: bytes, signature: str | None
    ) -> tuple[int, dict[str, str | None], dict[str, str] | None]:
        """``(status, JSON body, headers)``: ``202`` with the answer, or a refusal's
        ``(status, {"detail": reason}, headers)``; unexpected errors propagate (``500``)."""
        try:
            accepted = await accept_signed_webhook(
                source=self.source,
                webhooks=self.signed,
                workspace_id=workspace_id,
                body=body,
                signature=signature,
                secrets=self.secrets,
                publisher=self.publisher,
                window=self.window,
                now=self.clock(),
                tolerance_s=self.settings.webhook_tolerance_s,
                publish_timeout_s=self.settings.publish_timeout_s,
            )
        except RejectedError as exc:
            return exc.status, {"detail": exc.reason}, None
        except DeliveryInProgressError as exc:
            return status.HTTP_409_CONFLICT, {"detail": str(exc)}, {"Retry-After": "5"}
        except UnavailableError as exc:
            detail = f"event store unavailable, retry later: {exc}"
            return status.HTTP_503_SERVICE_UNAVAILABLE, {"detail": detail}, {"Retry-After": "5"}
        if accepted.event_id is None:
            return status.HTTP_202_ACCEPTED, IGNORED, None
        answer: dict[str, str | None] = {
            "status": "duplicate" if accepted.duplicate else "accepted",
            "event_id": str(accepted.event_id),
            "topic": accepted.topic,
        }
        return status.HTTP_202_ACCEPTED, answer, None


IGNORED: dict[str, str | None] = {"status": "ignored", "event_id": None, "topic": None}


def core_receiver(
    settings: Settings,
    secrets: WebhookSecrets,
    publisher: EventPublisher,
    clock: Clock,
    window: ReplayWindow,
) -> CoreWebhookReceiver:
    home = registry().home()
    webhooks = webhooks_of(home.observe)
    assert webhooks is not None, "the home system sends signed webhooks"
    assert webhooks.scheme == "signed"
    return CoreWebhookReceiver(home.name, webhooks, settings, secrets, publisher, clock, window)


def install_webhooks(
    app: FastAPI,
    tracer: Tracer,
    *,
    settings: Settings,
    secrets: WebhookSecrets,
    publisher: EventPublisher,
    clock: Clock,
    window: ReplayWindow,
) -> None:
    """The routes of :func:`webhook_router`, the Core webhook served by the lean ASGI path in
    front of the app's middlewares (issue 12: FastAPI's per-request machinery was most of
    ingest's CPU); the FastAPI route stays for the OpenAPI description (and as the fallback)."""
    receiver = core_receiver(settings, secrets, publisher, clock, window)
    app.include_router(
        webhook_router(settings, secrets, publisher, clock, window, receiver=receiver)
    )
    app.add_middleware(
        CoreWebhookFastPath,
        receiver=receiver,
        tracer=tracer,
        max_body_bytes=settings.max_webhook_bytes,
    )


def webhook_router(
    settings: Settings,
    secrets: WebhookSecrets,
    publisher: EventPublisher,
    clock: Clock,
    window: ReplayWindow,
    *,
    receiver: CoreWebhookReceiver | None = None,
) -> APIRouter:
    """The home system's signed webhooks (``/v1/webhooks/<home>/<workspace>``) and secrets."""
    router = APIRouter()
    platform_admin = PlatformAdmin(settings.admin_token)
    core = receiver or core_receiver(settings, secrets, publisher, clock, window)
    home = registry().home()
    source = core.source

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
        signature: Annotated[str | None, Header(alias=core.signed.signature_header)] = None,
    ) -> AcceptedResponse:
        """Answered 202 only once the event (an entry's, a contract's or a milestone's) is
        durably in Kafka."""
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "expected application/json")
        body = await read_body(request, settings.max_webhook_bytes)
        code, answer, headers = await core.accept(workspace_id, body, signature)
        if code != status.HTTP_202_ACCEPTED:
            raise HTTPException(code, answer["detail"], headers=headers)
        return AcceptedResponse.model_validate(answer)

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
