"""QuickBooks Online: customers and draft invoices of one company (realm), OAuth 2.0.

An accounting tool: invoice-export mirrors its customers, exports draft invoices once each
(``requestid``), and reads their status back (change data capture, webhooks per app).
"""

from timebridge_providers.kit.accounting import accounting_profile, bearer, tool_plumbing
from timebridge_providers.kit.credentials import OAuthDescription, basic_auth_endpoint
from timebridge_providers.kit.ports.accounting import (
    EXPENSE_ITEM,
    TENANT,
    TIME_ITEM,
    Accounting,
    AccountingTool,
    ToolOptions,
)
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.quickbooks import tool as _tool
from timebridge_providers.quickbooks.client import QuickBooksClient
from timebridge_providers.quickbooks.oauth import QuickBooksConsent, QuickBooksTokens
from timebridge_providers.quickbooks.webhooks import WEBHOOKS
from timebridge_providers.quickbooks.wire import QBO_API_URL, RATE_LIMIT, TOKEN_URL

PROFILE = accounting_profile(
    name="quickbooks",
    title="QuickBooks Online",
    rate_limit=RATE_LIMIT,
    pagination="query STARTPOSITION/MAXRESULTS (1000); change data capture",
    deletes="hard (Fault 610, change data capture tombstones)",
    default_base_url=QBO_API_URL,
    docs_url="https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/invoice",
)


def client(session: Session, options: ToolOptions | None = None) -> QuickBooksClient:
    """A client of the session's company on the session's pool and budget."""
    return QuickBooksClient(
        session.access.base_url,
        session.access.extra[TENANT],
        bearer(session),
        **tool_plumbing(session, options),
    )


def tool(session: Session, options: ToolOptions) -> AccountingTool:
    extra = session.access.extra
    return _tool.QuickBooksTool(
        client(session, options),
        hours_item=extra.get(TIME_ITEM) or _tool.TIME_ITEM,
        expenses_item=extra.get(EXPENSE_ITEM) or _tool.EXPENSE_ITEM,
        clock=options.clock,
    )


async def _check(session: Session) -> Account:
    """The token works in the company: its income accounts can be read."""
    await client(session).income_accounts()
    return Account(session.access.extra[TENANT])


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    accounting=Accounting(open=tool, consent=QuickBooksConsent, webhooks=WEBHOOKS),
    oauth=OAuthDescription(token_url=TOKEN_URL, endpoint=basic_auth_endpoint(QuickBooksTokens)),
)
