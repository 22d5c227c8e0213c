"""What a caller holds to call a provider: the connection's access and the shared HTTP plumbing.

A capability is opened on a :class:`Session`: the provider package builds its client from the
session's base URL, credential and extras, and sends every request through the session's pool and
request budget. The credential is an API key or a current OAuth access token, handed out by the
credential owner; a refresh token never reaches a session.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from timebridge_common.outbound.http import DEFAULT_RETRY, RequestBudget, RetryPolicy


@dataclass(frozen=True, slots=True)
class Access:
    """How to reach one connection's account."""

    base_url: str
    credential: str
    """The API key, personal access token or current OAuth access token."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """What else a request names (Harvest's account id, Xero's tenant, QuickBooks' realm)."""


@dataclass(frozen=True, slots=True)
class Session:
    """One connection's access plus the pool and budget its requests go through."""

    provider: str
    access: Access
    http: httpx.AsyncClient
    """Shared by every client of the provider's base URL; never closed by a capability."""
    budget: RequestBudget
    """Shared by every client of the credential, within this service's share of the limit."""
    retry: RetryPolicy = DEFAULT_RETRY
    """How transient failures are retried (tests pass one on fake time)."""
