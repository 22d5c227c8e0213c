"""Webhook receivers of the accounting tools (answered 2xx only once the notice is in Kafka)."""

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response, status

from timebridge_common.kafka.publisher import UnavailableError
from timebridge_invoice_export.handlers.notifications import Notifications, UnauthenticatedError

MAX_BODY = 1 << 20
_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "The signature does not sign the body"},
    404: {"description": "Webhooks of this tool (or this connection) are not configured"},
    413: {"description": "Body too large"},
    422: {"description": "Not the tool's webhook format"},
    503: {"description": "Kafka did not acknowledge; the tool should deliver again"},
}


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {MAX_BODY} bytes")
    return body


def _unavailable(exc: UnavailableError) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"event store unavailable, deliver again later: {exc}",
        headers={"Retry-After": "5"},
    )


def webhooks_router(notifications: Notifications) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    @router.post("/v1/webhooks/quickbooks", responses=_RESPONSES)
    async def quickbooks(
        request: Request,
        signature: Annotated[str | None, Header(alias="intuit-signature")] = None,
    ) -> Response:
        try:
            await notifications.quickbooks(await _body(request), signature)
        except UnavailableError as exc:
            raise _unavailable(exc) from None
        return Response(status_code=status.HTTP_200_OK)

    @router.post("/v1/webhooks/xero", responses=_RESPONSES)
    async def xero(
        request: Request,
        signature: Annotated[str | None, Header(alias="x-xero-signature")] = None,
    ) -> Response:
        """``200`` or ``401`` with an empty body, as Xero's intent-to-receive check requires."""
        try:
            await notifications.xero(await _body(request), signature)
        except UnauthenticatedError:
            return Response(status_code=status.HTTP_401_UNAUTHORIZED)
        except UnavailableError as exc:
            raise _unavailable(exc) from None
        return Response(status_code=status.HTTP_200_OK)

    @router.post("/v1/webhooks/freshbooks/{connection_id}", responses=_RESPONSES)
    async def freshbooks(
        request: Request,
        connection_id: Annotated[str, Path(min_length=1, max_length=200)],
        signature: Annotated[str | None, Header(alias="X-FreshBooks-Hmac-SHA256")] = None,
    ) -> Response:
        """A callback's verification or a signed, form-encoded event."""
        fields = parse_qsl((await _body(request)).decode(), keep_blank_values=True)
        try:
            await notifications.freshbooks(connection_id, fields, signature)
        except UnavailableError as exc:
            raise _unavailable(exc) from None
        return Response(status_code=status.HTTP_200_OK)

    return router
