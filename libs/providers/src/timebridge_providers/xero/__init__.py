"""Xero: contacts and draft invoices of one organisation (tenant), OAuth 2.0.

An accounting tool: invoice-export mirrors its contacts, exports draft invoices once each
(``Reference`` looked up, then ``Idempotency-Key``), and reads their status back (modified-since
listings, webhooks per app).
"""

import asyncio
import weakref

from timebridge_common.outbound.http import RequestBudget
from timebridge_providers.kit.accounting import accounting_profile, bearer, tool_plumbing
from timebridge_providers.kit.credentials import OAuthDescription, basic_auth_endpoint
from timebridge_providers.kit.ports.accounting import (
    ACCOUNT_CODE,
    TENANT,
    Accounting,
    AccountingTool,
    ToolOptions,
)
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.xero.client import XeroClient
from timebridge_providers.xero.oauth import XeroConsent, XeroTokens
from timebridge_providers.xero.tool import XeroTool
from timebridge_providers.xero.webhooks import WEBHOOKS
from timebridge_providers.xero.wire import CONCURRENT_LIMIT, RATE_LIMIT, TOKEN_URL, XERO_API_URL

PROFILE = accounting_profile(
    name="xero",
    title="Xero",
    rate_limit=RATE_LIMIT,
    pagination="page (100), If-Modified-Since",
    deletes="status DELETED or VOIDED; contacts ARCHIVED",
    default_base_url=XERO_API_URL,
    docs_url="https://developer.xero.com/documentation/api/accounting/invoices",
)

_SLOTS: "weakref.WeakKeyDictionary[RequestBudget, asyncio.Semaphore]" = weakref.WeakKeyDictionary()
"""Xero's five calls in progress per tenant: one semaphore per tenant budget (the budget is
shared by every client of the tenant, and so is its semaphore)."""


def client(session: Session, options: ToolOptions | None = None) -> XeroClient:
    """A client of the session's organisation on the session's pool, budget and slots."""
    slots = _SLOTS.get(session.budget)
    if slots is None:
        slots = _SLOTS[session.budget] = asyncio.Semaphore(CONCURRENT_LIMIT)
    return XeroClient(
        session.access.base_url,
        session.access.extra[TENANT],
        bearer(session),
        slots=slots,
        **tool_plumbing(session, options),
    )


def tool(session: Session, options: ToolOptions) -> AccountingTool:
    return XeroTool(
        client(session, options),
        account_code=session.access.extra.get(ACCOUNT_CODE) or None,
        clock=options.clock,
    )


async def _check(session: Session) -> Account:
    """The token works in the organisation: its contacts can be listed."""
    async for _ in client(session).contacts(customers_only=False):
        break
    return Account(session.access.extra[TENANT])


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    accounting=Accounting(open=tool, consent=XeroConsent, webhooks=WEBHOOKS),
    oauth=OAuthDescription(token_url=TOKEN_URL, endpoint=basic_auth_endpoint(XeroTokens)),
)
