"""FreshBooks: clients and draft invoices of one accounting account, OAuth 2.0.

An accounting tool: invoice-export mirrors its clients, exports draft invoices once each
(``po_number`` looked up before and after a create), and reads their status back (updated-since
listings, callbacks registered per account and signed with each callback's verifier).
"""

import httpx

from timebridge_common.outbound.oauth import TokenEndpoint
from timebridge_providers.freshbooks.client import FreshBooksClient
from timebridge_providers.freshbooks.oauth import FreshBooksConsent, FreshBooksTokens, api_base
from timebridge_providers.freshbooks.tool import FreshBooksTool
from timebridge_providers.freshbooks.webhooks import WEBHOOKS
from timebridge_providers.freshbooks.wire import FRESHBOOKS_API_URL, RATE_LIMIT, TOKEN_PATH
from timebridge_providers.kit.accounting import accounting_profile, bearer, tool_plumbing
from timebridge_providers.kit.credentials import OAuthApp, OAuthDescription
from timebridge_providers.kit.ports.accounting import (
    TENANT,
    Accounting,
    AccountingTool,
    ToolOptions,
)
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session

PROFILE = accounting_profile(
    name="freshbooks",
    title="FreshBooks",
    rate_limit=RATE_LIMIT,
    pagination="page/per_page (100), updated_min",
    deletes="soft (vis_state 1)",
    default_base_url=FRESHBOOKS_API_URL,
    docs_url="https://www.freshbooks.com/api/invoices",
)


def client(session: Session, options: ToolOptions | None = None) -> FreshBooksClient:
    """A client of the session's account on the session's pool and budget."""
    return FreshBooksClient(
        session.access.base_url,
        session.access.extra.get(TENANT),
        bearer(session),
        **tool_plumbing(session, options),
    )


def tool(session: Session, options: ToolOptions) -> AccountingTool:
    return FreshBooksTool(client(session, options), clock=options.clock)


async def _check(session: Session) -> Account:
    """Who the token acts as (FreshBooks' identity)."""
    identity = await client(session).me()
    return Account(str(identity.identity_id), email=identity.email)


def _tokens(
    provider: str,  # noqa: ARG001 - the factory's signature
    app: OAuthApp,
    token_url: str,
    http: httpx.AsyncClient,
) -> TokenEndpoint:
    """FreshBooks' token endpoint for the credential owner (JSON body, the redirect URI with
    refreshes too)."""
    return FreshBooksTokens(
        app.client_id,
        app.client_secret.get_secret_value(),
        redirect_uri=app.redirect_uri,
        base_url=api_base(token_url),
        http=http,
    )


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    accounting=Accounting(open=tool, consent=FreshBooksConsent, webhooks=WEBHOOKS),
    oauth=OAuthDescription(token_url=FRESHBOOKS_API_URL + TOKEN_PATH, endpoint=_tokens),
)
