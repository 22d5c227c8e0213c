"""The portal's rules: one-time sign-in tokens, and what a signed-in recipient may see.

A recipient is an address some live report definition of the workspace delivers to. What they
may see is what those definitions already mail them, nothing more:

* a definition is theirs while they are among its recipients;
* its client limit is its client filter when its kind honours that filter (time, utilization,
  performance, billing); reconciliation covers the whole workspace whatever the filter says, so
  it counts as unlimited;
* the session's client scope is fixed at sign-in: the union of the limits of their definitions,
  or unlimited (``None``) if any of them is; a definition (or a run) whose limit falls outside
  the session's scope is not shown, even if it is theirs later;
* a run is visible when it is of one of their definitions, was addressed to them, and its own
  parameters (an admin may have changed the definition since) are within the scope.

Tokens are random (256 bits), given out once, and kept only as their SHA-256.
"""

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from timebridge_reporting.domain.report_model import ReportParams

LINK_PREFIX = "tbl_"
SESSION_PREFIX = "tbp_"
CLIENT_FILTERED_KINDS = frozenset({"time", "utilization", "performance", "billing"})
"""Report kinds whose rows are restricted by a definition's client filter."""


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """What is stored and looked up: a leaked table does not hold a usable token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def well_formed(token: str, prefix: str) -> bool:
    """Shape check before any lookup (a token is ASCII, bounded, with the expected prefix)."""
    body = token.removeprefix(prefix)
    return (
        token.startswith(prefix)
        and 20 <= len(body) <= 100
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in body)
    )


def client_limit(params: ReportParams) -> frozenset[str] | None:
    """The clients a report with these parameters is limited to (``None``: all of them)."""
    if params.kind in CLIENT_FILTERED_KINDS and params.clients:
        return frozenset(params.clients)
    return None


def scope_of(limits: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """The session's client scope from its definitions' limits (``None``: unlimited)."""
    clients: set[str] = set()
    for limit in limits:
        if limit is None:
            return None
        clients |= limit
    return frozenset(clients)


def within(limit: frozenset[str] | None, scope: frozenset[str] | None) -> bool:
    """Whether data limited to ``limit`` may be shown to a session of ``scope``."""
    if scope is None:
        return True
    return limit is not None and limit <= scope


def receives(recipients: Iterable[str], email: str) -> bool:
    return email.lower() in {r.lower() for r in recipients}


@dataclass(frozen=True, slots=True)
class LinkLimits:
    """How often one address may ask for a link (counted over requests recorded)."""

    min_interval: dt.timedelta = dt.timedelta(seconds=30)
    per_hour: int = 5


def may_request(previous: list[dt.datetime], now: dt.datetime, limits: LinkLimits) -> bool:
    """Whether a new link request of an address is recorded, given its earlier ones."""
    recent = [t for t in previous if now - t < dt.timedelta(hours=1)]
    if len(recent) >= limits.per_hour:
        return False
    return all(now - t >= limits.min_interval for t in recent)


def link_text(url: str, workspace_id: str, ttl: dt.timedelta) -> str:
    minutes = int(ttl.total_seconds() // 60)
    return (
        "Hello,\n\n"
        f"Someone (we hope you) asked to sign in to the Timebridge reports portal of"
        f" workspace {workspace_id}. Open this link to sign in:\n\n"
        f"{url}\n\n"
        f"The link works once and for {minutes} minutes. If you did not ask for it, ignore this"
        " message: nothing happens without the link.\n\n"
        "Timebridge reports\n"
    )
