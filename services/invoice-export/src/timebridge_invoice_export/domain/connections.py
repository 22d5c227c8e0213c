"""Accounting connections: one company of one tool, connected by a workspace admin.

Status:

- ``choose_tenant``: the admin consented for several companies (Xero organisations, FreshBooks
  businesses); they pick one before anything is synced;
- ``connected``: clients are mirrored, invoices can be exported, changes are followed;
- ``needs_reauthorization``: the tool refused the consent (the credential owner could not
  refresh the token: revoked, expired, or a rotated one was lost; or the tool refused the access
  token itself): nothing works until an admin connects again, which revives this connection
  (same id, same clients and invoices);
- ``disconnected``: an admin disconnected; the credential owner forgot the tokens; mirrored
  clients and exported invoices stay (as history), nothing is synced.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from timebridge_invoice_export.domain.accounting import Tenant

ConnectionStatus = Literal["choose_tenant", "connected", "needs_reauthorization", "disconnected"]


def new_connection_id() -> str:
    return "acc_" + uuid.uuid4().hex[:20]


@dataclass(frozen=True, slots=True)
class AccountingConnection:
    connection_id: str
    workspace_id: str
    provider: str
    status: ConnectionStatus
    tenant_id: str | None
    tenant_name: str | None
    tenants: tuple[Tenant, ...]
    mirrored_at: dt.datetime | None
    changes_cursor: dt.datetime | None
    last_poll_at: dt.datetime | None
    last_error: str | None
    webhooks_registered_at: dt.datetime | None
    created_at: dt.datetime
    verified_webhooks: int = 0
    # Per-connection webhook registrations (FreshBooks callbacks) confirmed with their verifier.


@dataclass(frozen=True, slots=True)
class OAuthState:
    """An admin's consent under way: who started it, for which workspace and tool."""

    workspace_id: str
    provider: str
    redirect_uri: str
    requested_by: str


def choose(tenants: tuple[Tenant, ...], wanted: str | None) -> Tenant | None:
    """The company to connect: the one asked for, or the only one offered."""
    if wanted is not None:
        return next((t for t in tenants if t.id == wanted), None)
    return tenants[0] if len(tenants) == 1 else None
