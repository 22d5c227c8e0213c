"""An in-memory FreshBooks: OAuth, identity, clients, invoices, payments, webhook callbacks.

Built from FreshBooks' documentation (freshbooks.com/api: authentication, parameters,
active_deleted, clients, invoices, webhooks) and what its SDKs show of real answers, not from
Timebridge's client: the webhook signature is computed here again, and
``tests/test_freshbooks_sdk.py`` drives it with FreshBooks' own Python SDK (freshbooks-sdk).
Documented behaviour:

- OAuth2 code grant: ``GET /oauth/authorize`` (served here although FreshBooks serves it from
  auth.freshbooks.com) redirects to ``redirect_uri`` with ``code`` and ``state``, as if the
  signed-in user (:attr:`FreshBooksState.signed_in`) clicked "Allow"; codes live 5 minutes, once.
  ``POST /auth/oauth/token`` (JSON or form) answers 12-hour access tokens and single-use refresh
  tokens: a refresh answers a new pair and the old refresh token is refused from then on.
- ``GET /auth/api/v1/users/me``: the identity and its business memberships, each business with
  its ``id`` (business_id) and ``account_id``.
- ``/accounting/account/{account_id}/...`` answers ``{"response": {"result": ...}}``, lists with
  ``page``, ``pages``, ``per_page`` (capped at 100), ``total``, page 0 read as 1, a page past the
  last empty; ``search[vis_state]``, ``search[updated_min|max]`` (``YYYY-MM-DD``, day granularity
  in US/Eastern), the other ``search[...]`` filters and ``sort`` (``search.py``),
  ``include[]=lines``; deleted records hidden from lists unless asked for; date-times
  ``YYYY-MM-DD HH:MM:SS`` in US/Eastern; money as decimal strings.
- Clients are created (``POST``), changed (``PUT``), archived and deleted (``PUT`` ``vis_state``).
- Invoices are created as drafts with FreshBooks' status codes and ``v3_status``; a PUT with
  ``vis_state`` changes only that (the rest of the body is dropped), ``action_mark_as_sent`` sends;
  ``DELETE`` (how the SDKs delete an invoice) is the same soft delete as ``vis_state`` 1.
- Payments (``payments.py``) make their invoice partial or paid.
- Accounting errors are ``{"response": {"errors": [{"errno", "field", "message", "object",
  "value"}]}}`` with FreshBooks' error numbers (api/errors: 1001 RequiredField, 1004
  InvalidValue, 1005 ParseError, 1011 DeletedResource, 1012 UnknownResource); ``users/me``
  without a valid token answers ``{"error": "unauthenticated", "error_description"}``.
- Webhook callbacks: registering one POSTs a form with the ``verifier`` and the callback id
  (``object_id``) to its URI; ``PUT {"callback": {"verifier"}}`` activates it, ``{"resend":
  true}`` posts the verifier again. Verified callbacks get form-encoded deliveries ``name``,
  ``object_id``, ``account_id``, ``business_id``, ``identity_id``, ``user_id``, signed
  ``X-FreshBooks-Hmac-SHA256`` = base64(HMAC-SHA256(verifier, Python ``json.dumps`` of the fields
  as strings)); a callback for ``invoice`` also gets ``invoice.*`` events.

Assumed where FreshBooks is silent: a limit of 60 requests per minute per user (``429`` with
``Retry-After``); a refresh also revokes the previous access token; ``invalid_grant`` answers
``400``; an account the user does not belong to is ``403``; an error with no FreshBooks number
(``401``, ``429``, ``5xx``) carries the status as ``errno``; webhook-API errors
``{"errno", "message", "details"}``; validation errors are ``400`` (``422`` on the webhook API);
a deleted invoice can still be read by id and is only changed back through ``vis_state``; the
verification form is unsigned and named ``callback.verify``; ``user_id`` is 1 (the owner);
deliveries are tried once, after the answer; the admin API's "paid" sets the invoice's paid amount
and status without a payment record.

Admin API (no auth, no rate limit, no faults), for tests and demos: ``POST /_sandbox/reset``,
``GET|POST|DELETE /_sandbox/faults``, ``POST /_sandbox/accounts/{account_id}/clients``,
``PATCH /_sandbox/clients/{id}`` (rename, archive: ``vis_state``), ``PATCH /_sandbox/invoices/{id}``
(``invoice_number``, ``create_date``, ``lines``, ...), ``POST /_sandbox/invoices/{id}/{sent|viewed|
paid}``, ``DELETE /_sandbox/invoices/{id}`` and ``GET /_sandbox/deliveries``.
"""

from timebridge_sandboxes.freshbooks.app import create_freshbooks_sandbox
from timebridge_sandboxes.freshbooks.state import RATE_LIMIT, Delivery, FreshBooksState

__all__ = ["RATE_LIMIT", "Delivery", "FreshBooksState", "create_freshbooks_sandbox"]
