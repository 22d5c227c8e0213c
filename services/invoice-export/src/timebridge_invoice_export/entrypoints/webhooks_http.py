"""Webhook receivers of the accounting tools (answered 2xx only once the notice is in Kafka).

Every malformed request is a 4xx with a reason and publishes nothing: a body over
:data:`MAX_BODY` (``413``, read as a stream and never held whole), a FreshBooks form that is
not UTF-8 or not a form (``400``), a signature header that is not printable ASCII (``401``), a
payload that is not the tool's format (``422``). A delivery being published by another request
right now is ``409`` (the tool retries and then gets the first answer).
"""

from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, Field

from timebridge_common.errors import TransientError
from timebridge_common.kafka.publisher import UnavailableError
from timebridge_common.webhooks.intake import ascii_header, read_body
from timebridge_common.webhooks.replay import DeliveryInProgressError
from timebridge_invoice_export.handlers.notifications import (
    Delivery,
    Notifications,
    UnauthenticatedError,
)

MAX_BODY = 1 << 20
MAX_FORM_FIELDS = 50
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a readable form (FreshBooks: not UTF-8, not form-encoded)"},
    401: {"description": "The signature is missing, malformed or does not sign the body"},
    404: {"description": "Webhooks of this tool (or this connection) are not configured"},
    409: {
        "description": "The same delivery is being published right now (retry), or a FreshBooks"
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
        " which polling reconciles); verified/held: a FreshBooks callback verification"
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
        "/v1/webhooks/quickbooks",
        responses=_with({200: {"description": "Verified; published, or a replay, or ignored"}}),
    )
    async def quickbooks(
        request: Request,
        signature: Annotated[str | None, Header(alias="intuit-signature")] = None,
    ) -> DeliveryAnswer:
        signature = ascii_header(signature, "intuit-signature")
        try:
            delivery = await notifications.quickbooks(await read_body(request, MAX_BODY), signature)
        except retry as exc:
            raise _refused(exc) from None
        return DeliveryAnswer.of(delivery)

    @router.post(
        "/v1/webhooks/xero",
        responses=_with(
            {
                200: {"description": "Verified (no body, as Xero requires)", "content": {}},
                401: {"description": "The signature does not sign the body (no body)"},
            }
        ),
    )
    async def xero(
        request: Request,
        signature: Annotated[str | None, Header(alias="x-xero-signature")] = None,
    ) -> Response:
        """``200`` or ``401`` with an empty body, as Xero's intent-to-receive check requires."""
        try:
            await notifications.xero(await read_body(request, MAX_BODY), signature)
        except UnauthenticatedError:
            return Response(status_code=status.HTTP_401_UNAUTHORIZED)
        except retry as exc:
            raise _refused(exc) from None
        return Response(status_code=status.HTTP_200_OK)

    @router.post(
        "/v1/webhooks/freshbooks/{connection_id}",
        responses=_with({200: {"description": "A verification handled, or a signed event"}}),
    )
    async def freshbooks(
        request: Request,
        connection_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
        signature: Annotated[str | None, Header(alias="X-FreshBooks-Hmac-SHA256")] = None,
    ) -> DeliveryAnswer:
        """A callback's verification or a signed, form-encoded event."""
        signature = ascii_header(signature, "X-FreshBooks-Hmac-SHA256")
        fields = _form(await read_body(request, MAX_BODY))
        try:
            delivery = await notifications.freshbooks(connection_id, fields, signature)
        except retry as exc:
            raise _refused(exc) from None
        return DeliveryAnswer.of(delivery)

    return router
