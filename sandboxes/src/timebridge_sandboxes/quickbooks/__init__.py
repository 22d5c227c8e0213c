"""An in-memory QuickBooks Online: Intuit's OAuth 2.0, the Accounting API v3 for customers, items,
invoices, payments and accounts, and signed webhooks.

Written from Intuit's documentation and the official XSD, not from Timebridge's client, and
driven in its tests by python-quickbooks as well as by Timebridge's client. One app serves every
route on one host, under the real paths: ``GET /connect/oauth2`` (appcenter.intuit.com), ``POST
/oauth2/v1/tokens/bearer`` (oauth.platform.intuit.com) and ``/v3/company/{realmId}/...``
(quickbooks.api.intuit.com).

Documented behaviour simulated here: the authorization-code flow (``code``, ``state``,
``realmId`` on the redirect; HTTP Basic client authentication; one-hour access tokens; rotating
refresh tokens; ``invalid_grant``); entities wrapped in their name; bodies with any element the
XSD gives the entity, read leniently as QuickBooks' JSON reader does (:mod:`.elements`), unknown
elements refused (Fault ``2010``), read-only ones ignored; creates, sparse updates
(``"sparse": true``) and full updates (elements left out are cleared), ``operation=void`` and
``operation=delete`` of invoices and payments (name-list entities are made inactive instead:
code ``500`` "Unsupported Operation"), ``operation=update&include=void`` of a payment; payments
applied to invoices (``Balance``, ``LinkedTxn``); ``invoice/{id}/send`` and ``invoice/{id}/pdf``;
``batch`` (:mod:`.batch`); ``companyinfo/{realmId}``; queries by ``GET /query?query=`` or ``POST
/query`` (:mod:`.query`, with ``COUNT(*)``); the OpenID discovery document intuit-oauth reads and
token revocation (:mod:`.oauth`); ``minorversion`` (any from 1; Intuit serves those
below 75 as 75); change data capture (30 days back, at most 1000 objects, deleted entities as
``"status": "Deleted"``); ``requestid`` replaying the first answer; ``SyncToken`` optimistic
locking (Fault ``5010``); Fault bodies ``{"Fault": {"Error": [{"Message", "Detail", "code",
"element"}], "type"}, "time"}`` with type ``ValidationFault`` (400), ``AuthenticationFault``
(401, code ``3200``), ``AuthorizationFault`` (403, ``3100``), ``SystemFault`` (5xx) and the
documented codes (``610`` missing or deleted, ``2020`` required, ``2500`` invalid reference,
``6140`` duplicate ``DocNumber``, ``6240`` duplicate name, ``6070`` amount not Qty x UnitPrice);
voiding (amounts zeroed, "Voided" prepended to ``PrivateNote``); 500 requests a minute per
company (``429``, code ``3001``); webhooks with ``intuit-signature`` = base64 HMAC-SHA256(verifier
token, body), in the legacy ``eventNotifications`` payload or the CloudEvents one that replaces
it in 2026.

Assumed where the documentation is silent, or simplified:

- A refresh token stops working the moment it is rotated (Intuit's grace period is undocumented;
  being strict catches a client that loses the rotated token). Codes live 5 minutes, once.
- The one seeded user consents at once, to ``QuickBooksState.consent_realm`` (else the first
  company); the sandbox has no login page.
- A ``requestid`` replays successful answers only; a refused request may be corrected and sent
  again with the same id. Request ids are kept for the sandbox's lifetime.
- Invoice lines: sales item, description-only, discount and the subtotal QuickBooks adds; other
  line kinds (group, tax lines) are refused with ``2010``. Taxes are not computed (``TotalTax``
  0); one currency per company (``USD``) unless a customer has another, and an invoice must be in
  its customer's currency. Payments apply to invoices only. Items are ``Service`` or
  ``NonInventory``; accounts are read-only. Other entities are not simulated (``2010``).
- A ``401`` carries the ``Fault`` body above; ``429`` is a ``ValidationFault`` with code
  ``3001``; a request without ``Accept: application/json`` is ``406`` (QuickBooks would answer
  XML); the 10-concurrent-requests limit is not simulated.
- Timestamps are in the company's zone (UTC-8, as Intuit's Pacific-time sandboxes), at seconds.
- Webhooks: one notification per change, sent after the answer, not batched nor retried; a
  payment announces its ``Payment`` and an ``Update`` of each invoice it applies to.

What a QuickBooks user does in QuickBooks' screens goes through the admin API under
``/_sandbox`` (:mod:`.admin`), plus the shared ``/_sandbox/reset`` and ``/_sandbox/faults``.
"""

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from timebridge_sandboxes.faults import Faults, RateLimit, install
from timebridge_sandboxes.quickbooks.admin import admin
from timebridge_sandboxes.quickbooks.base import (
    RATE_LIMIT,
    STATUS_FAULTS,
    Fault,
    Json,
    fault_body,
    invalid,
)
from timebridge_sandboxes.quickbooks.oauth import oauth
from timebridge_sandboxes.quickbooks.routes import api
from timebridge_sandboxes.quickbooks.sandbox import Sandbox
from timebridge_sandboxes.quickbooks.state import Delivery, QuickBooksState, WebhookTarget

__all__ = [
    "RATE_LIMIT",
    "Delivery",
    "QuickBooksState",
    "WebhookTarget",
    "create_quickbooks_sandbox",
]


def create_quickbooks_sandbox(
    state: QuickBooksState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The sandbox app; ``webhook_transport`` lets tests receive webhooks without a socket."""
    sandbox = Sandbox(
        state if state is not None else QuickBooksState(),
        rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT),
        webhook_transport,
    )

    def error_body(status: int, message: str) -> Json:
        code, text = STATUS_FAULTS.get(status, ("10000", "An application error has occurred"))
        return fault_body(status, code, text, message, sandbox.state.now())

    def answer(exc: Fault) -> JSONResponse:
        body = fault_body(
            exc.status, exc.code, exc.message, exc.detail, sandbox.state.now(), element=exc.element
        )
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    async def fault(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Fault)
        return answer(exc)

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return answer(invalid("; ".join(f"{e['loc']}: {e['msg']}" for e in exc.errors())))

    app = FastAPI(title="QuickBooks Online sandbox")
    app.state.sandbox = sandbox
    faults = faults if faults is not None else Faults()
    install(app, faults, sandbox.limit, sandbox.state.reset, error_body)
    app.add_exception_handler(Fault, fault)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.include_router(oauth)
    app.include_router(api)
    app.include_router(admin)
    return app
