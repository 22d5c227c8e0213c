"""Webhook receivers of the accounting tools (answered 2xx only once the notice is in Kafka).

``/v1/webhooks/{provider}`` receives a tool's per-app webhooks, ``/v1/webhooks/{provider}/
{connection_id}`` a connection's; which a tool sends, under which signature header, as JSON or
a form, is its provider package's (``WebhookSpec``); a tool that sends none is ``404``.

Every malformed request is a 4xx with a reason and publishes nothing: a body over
:data:`MAX_BODY` (``413``, read as a stream and never held whole), a FreshBooks form that is
not UTF-8 or not a form (``400``), a signature header that is not printable ASCII (``401``), a
payload that is not the tool's format (``422``). A delivery being published by another request
right now is ``409`` (the tool retries and then gets the first answer).
"""

from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from timebridge_common.errors import TransientError
from timebridge_common.kafka.publisher import UnavailableError
from timebridge_common.webhooks.intake import ascii_header, read_body
from timebridge_common.webhooks.replay import DeliveryInProgressError
from timebridge_invoice_export.entrypoints.paths import ProviderPath
from timebridge_invoice_export.handlers.notifications import (
    Delivery,
    Notifications,
    UnauthenticatedError,
)

MAX_BODY = 1 << 20
MAX_FORM_FIELDS = 50
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a readable form (a form-encoded webhook: not UTF-8, not a form)"},
    401: {"description": "The signature is missing, malformed or does not sign the body"},
    404: {"description": "Webhooks of this tool (or this connection) are not configured"},
    409: {
        "description": "The same delivery is being published right now (retry), or a webhook"
        " verification nobody awaits (nothing done)"
    },
    413: {"description": "Body too large"},
    422: {"description": "Not the tool's webhook format"},
    503: {"description": "Kafka (or the database) unavailable; the tool should deliver again"},
}


class DeliveryAnswer(BaseModel):
    """What was done with a delivery."""

    status: Literal["accepted", "duplicate", "ignored", "verified", "held"] = Field(
        description="accepted: published now; duplicate: published before (a replay, answered"
        " again without publishing); ignored: nothing to publish (e.g. changes older than 24 h,"
        " which polling reconciles); verified/held: a webhook registration's verification"
    )
    events: int = Field(description="Notices published by this request")
    reason: str | None = None

    @classmethod
    def of(cls, delivery: Delivery) -> "DeliveryAnswer":
        return cls(status=delivery.status, events=delivery.events, reason=delivery.reason)


def _with(extra: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    return {**_RESPONSES, **extra}


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, DeliveryInProgressError):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc), headers={"Retry-After": "5"})
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"event store unavailable, deliver again later: {exc}",
        headers={"Retry-After": "5"},
    )


def _form(body: bytes) -> list[tuple[str, str]]:
    """The form's fields in the order sent (FreshBooks signs them in that order)."""
    try:
        text = body.decode("utf-8")
        return parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"not a UTF-8 form-encoded body: {exc}"[:300]
        ) from None


def webhooks_router(notifications: Notifications) -> APIRouter:
    router = APIRouter(tags=["webhooks"])
    retry = (DeliveryInProgressError, UnavailableError, TransientError)

    @router.post(
        "/v1/webhooks/{provider}",
        responses=_with(
            {
                200: {
                    "model": DeliveryAnswer,
                    "description": "Verified; published, or a replay, or ignored (a tool that"
                    " checks its intent to receive gets 200 or 401 with no body)",
                }
            }
        ),
    )
    async def per_app(provider: ProviderPath, request: Request) -> Response:
        """A tool's webhooks for every company connected to Timebridge's app."""
        spec = notifications.spec(provider, "app")
        try:
            signature = ascii_header(
                request.headers.get(spec.signature_header), spec.signature_header
            )
            delivery = await notifications.app_delivery(
                provider, await read_body(request, MAX_BODY), signature
            )
        except (UnauthenticatedError, HTTPException) as exc:
            unauthenticated = isinstance(exc, UnauthenticatedError) or exc.status_code == 401
            if spec.bare_answers and unauthenticated:
                return Response(status_code=status.HTTP_401_UNAUTHORIZED)
            raise
        except retry as exc:
            raise _refused(exc) from None
        if spec.bare_answers:
            return Response(status_code=status.HTTP_200_OK)
        return JSONResponse(DeliveryAnswer.of(delivery).model_dump(mode="json"))

    @router.post(
        "/v1/webhooks/{provider}/{connection_id}",
        responses=_with({200: {"description": "A verification handled, or a signed event"}}),
    )
    async def per_connection(
        provider: ProviderPath,
        connection_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
        request: Request,
    ) -> DeliveryAnswer:
        """A connection's webhook: its registration's verification, or a signed event."""
        spec = notifications.spec(provider, "connection")
        signature = ascii_header(request.headers.get(spec.signature_header), spec.signature_header)
        body = await read_body(request, MAX_BODY)
        if spec.form:
            _form(body)
        try:
            delivery = await notifications.connection_delivery(
                provider, connection_id, body, signature
            )
        except retry as exc:
            raise _refused(exc) from None
        return DeliveryAnswer.of(delivery)

    return router
