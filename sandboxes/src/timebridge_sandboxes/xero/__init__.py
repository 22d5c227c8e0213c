"""An in-memory Xero: OAuth2, ``/connections``, contacts, invoices and payments, webhooks.

Written from Xero's documentation and its official OpenAPI files (``shared/provider-specs``), not
from Timebridge's client. One host plays all of Xero's: ``login.xero.com``
(``/identity/connect/authorize``), ``identity.xero.com`` (``/connect/token``) and ``api.xero.com``
(``/connections``, ``/api.xro/2.0/...``).

Taken from the documentation and from how xero-python calls it (``tests/test_xero_sdk.py`` drives
it with that SDK; every exchange is checked against ``xero_accounting.yaml``): the
authorization-code flow, the client authenticating on the token endpoint by Basic auth or by
``client_id``/``client_secret`` in the body, and ``offline_access`` for a refresh token;
``/connect/revocation`` (the refresh token, its access tokens and its connections removed);
30-minute access tokens; rotating refresh tokens, the old one still answered for a 30-minute grace
period and refused with ``invalid_grant`` after it, unused ones expiring after 60 days;
``/connections`` (also ``/Connections``, as xero-python asks) in Xero's camelCase, ``authEventId``,
``DELETE``; ``xero-tenant-id`` on every Accounting call; JSON only with ``Accept:
application/json`` (Xero would answer XML; the sandbox answers ``406``); PascalCase bodies,
``/Date(ms+0000)/`` dates (read also as ``/Date(ms)/`` and ISO), ``If-Modified-Since``, ``IDs``,
``where`` and ``order`` (``where.py``), ``Statuses``, ``InvoiceNumbers``, ``ContactIDs``,
``searchTerm``, ``includeArchived`` (archived contacts are left out without it),
``page``/``pageSize`` (1-1000, default 100) with a ``pagination`` object, line items only on single
or paged reads; contacts created by ``PUT /Contacts``, updated or created by ``POST /Contacts`` and
``POST /Contacts/{id}`` (``contacts.py``); drafts created with ``PUT /Invoices`` (``POST
/Invoices`` also updates those given with an ``InvoiceID``) (``Type``, ``Contact``, ``LineItems``
required; a number from ``INV-0001`` on when none is given, unique per organisation); ``DELETED``
only from ``DRAFT``/``SUBMITTED``, ``VOIDED`` only from ``AUTHORISED`` without payments, by posting
the status to ``/Invoices/{id}``; payments (``payments.py``); overpayments received as
``RECEIVE-OVERPAYMENT`` bank transactions, listed, allocated to invoices (``AmountCredited``,
``Overpayments``) and de-allocated (``overpayments.py``); the chart of accounts (``GET
/Accounts``, a bank and a sales account); a contact read by its ``ContactNumber`` too;
``IsCustomer`` set by the first sales invoice (without moving ``UpdatedDateUTC``);
``summarizeErrors=false`` (every element answered with its ``StatusAttributeString``);
``Idempotency-Key`` (128 characters at most) replaying the first answer for 6 minutes and refusing
the key with another request (``400``); 60 calls a minute, 5000 a day and 5 in progress per tenant
(``429`` with ``Retry-After`` and ``X-Rate-Limit-Problem``); validation errors in Xero's
``ValidationException`` shape (the refused element echoed with its ``ValidationErrors``), other
errors as Xero's problem documents (``Title``, ``Status``, ``Detail``, ``Instance``); webhooks
signed ``x-xero-signature`` = base64(HMAC-SHA256(key, body)), the intent-to-receive check (a
correctly and an incorrectly signed empty payload, expecting ``200`` without body and ``401``),
``CREATE``/``UPDATE`` events of ``CONTACT`` and ``INVOICE`` with increasing sequence numbers,
undelivered events kept and sent again with the next delivery.

Assumed where the documentation is silent: authorization codes live 5 minutes; a refresh token
repeated within the grace period gets the same answer as the first time; a bad client is ``401
invalid_client``; a missing scope is ``401``, a tenant not connected ``403``; concurrent ``429``
carry no ``Retry-After``; ``If-Modified-Since`` (ISO-8601, without a zone meaning UTC) keeps
records changed at or after it; ``GET /Invoices`` without ``Statuses`` leaves ``DELETED`` out;
lists are in creation order unless ``order`` says otherwise; no tax unless a line carries
``TaxAmount``; line amounts are rounded half-up to cents, and a given ``LineAmount`` must match
quantity times unit amount; approving needs an account or item code on every line with an amount;
an archived contact takes no new invoice; events are sent right after the change, one delivery per
change (Xero batches).

Not simulated: XML, PKCE, ``openid`` ID tokens, the client-credentials grant, purchase invoices,
credit notes, tracking, multi-currency rates, ``summaryOnly``.

Admin API under ``/_sandbox`` (what a user does in Xero's UI; changes send webhooks like API ones):
``POST /_sandbox/reset``, ``GET|POST|DELETE /_sandbox/faults``, ``POST /_sandbox/tenants``, ``POST
/_sandbox/tenants/{id}/contacts``, ``PATCH /_sandbox/contacts/{id}``, ``PATCH
/_sandbox/invoices/{id}``, ``POST /_sandbox/invoices/{id}/approve|void|delete|payments``, ``PUT
/_sandbox/webhook`` and ``GET /_sandbox/deliveries``.
"""

from timebridge_sandboxes.xero.app import create_xero_sandbox
from timebridge_sandboxes.xero.state import (
    CONCURRENT_LIMIT,
    DAILY_LIMIT,
    RATE_LIMIT,
    App,
    Delivery,
    Subscription,
    XeroState,
)

__all__ = [
    "CONCURRENT_LIMIT",
    "DAILY_LIMIT",
    "RATE_LIMIT",
    "App",
    "Delivery",
    "Subscription",
    "XeroState",
    "create_xero_sandbox",
]
