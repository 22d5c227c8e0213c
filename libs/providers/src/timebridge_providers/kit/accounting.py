"""What every accounting provider package translates with, written once.

Tools differ in shapes but agree on these rules: empty text is "not set", an empty address is
none, a change cursor never runs ahead of when the read began (less clock skew), and an
idempotency key is the invoice id (a digest when the tool's key is shorter).
"""

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from typing import TypedDict

import httpx
from pydantic import ValidationError

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_providers.kit.ports.accounting import Address, ExportDraft, ToolOptions
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.session import Session

CLOCK_SKEW = dt.timedelta(minutes=1)
"""How far a tool's clock may be ahead of ours (cursors stay this far behind our start)."""


def bearer(session: Session) -> Callable[[], Awaitable[str]]:
    """The session's access token, as the clients ask for it (before every request)."""
    token = session.access.credential

    async def current() -> str:
        return token

    return current


class ToolPlumbing(TypedDict):
    """The keyword arguments every accounting client takes from a session and tool options."""

    http: httpx.AsyncClient
    budget: RequestBudget
    retry: RetryPolicy
    timeout_s: float


def tool_plumbing(session: Session, options: ToolOptions | None) -> ToolPlumbing:
    """The session's pool and budget, the options' retries and timeout (defaults without)."""
    options = options or ToolOptions()
    return ToolPlumbing(
        http=session.http, budget=session.budget, retry=options.retry, timeout_s=options.timeout_s
    )


def accounting_profile(
    *,
    name: str,
    title: str,
    rate_limit: tuple[int, float],
    pagination: str,
    deletes: str,
    default_base_url: str,
    docs_url: str,
) -> Profile:
    """An accounting tool's profile: OAuth 2.0, webhooks, no time entries of its own (so nothing
    written or billable per entry), and the whole request limit to invoice-export, its only
    caller."""
    return Profile(
        name=name,
        title=title,
        kind="accounting",
        rate_limit=RateLimit(*rate_limit, shares={"invoice-export": rate_limit[0]}),
        auth="oauth2",
        billable="none",
        writable=False,
        not_writable_reason="an accounting tool: invoices, not time entries",
        webhooks=True,
        units="money (decimal); hours as line quantities",
        pagination=pagination,
        locks="",
        deletes=deletes,
        default_base_url=default_base_url,
        docs_url=docs_url,
    )


class PerAppWebhooks:
    """For a tool whose webhooks are one subscription per app, made in the provider's developer
    portal (QuickBooks Online, Xero): nothing to register or confirm per connection."""

    async def ensure_webhooks(self, url: str) -> list[str]:  # noqa: ARG002 - per app
        return []

    async def verify_webhook_registration(self, registration_id: str, verifier: str) -> None:
        """Nothing to confirm: no webhook is registered per connection."""


def text(value: str | None) -> str | None:
    """A tool's text, with empty and blank meaning "not set"."""
    stripped = value.strip() if value else ""
    return stripped or None


def joined(*parts: str | None) -> str | None:
    return text(", ".join(p for p in (text(part) for part in parts) if p))


def address(
    *,
    line1: str | None,
    line2: str | None,
    city: str | None,
    region: str | None,
    postal_code: str | None,
    country: str | None,
) -> Address | None:
    found = Address(
        line1=text(line1),
        line2=text(line2),
        city=text(city),
        region=text(region),
        postal_code=text(postal_code),
        country=text(country),
    )
    return None if found == Address() else found


def latest(moments: Iterable[dt.datetime | None]) -> dt.datetime | None:
    found = [moment for moment in moments if moment is not None]
    return max(found) if found else None


def cursor(last: dt.datetime | None, started: dt.datetime) -> dt.datetime | None:
    """The next ``since`` after a read begun at ``started``: the latest change seen, but no later
    than the start less :data:`CLOCK_SKEW`, so that a change made while one kind was being listed
    and older than a change of a kind listed after it is read again, not skipped."""
    return None if last is None else min(last, started - CLOCK_SKEW)


def idempotency_key(invoice_id: str, limit: int) -> str:
    """``invoice_id`` as a key of at most ``limit`` characters (a digest if longer: still one
    per invoice)."""
    if 0 < len(invoice_id) <= limit:
        return invoice_id
    return hashlib.sha256(invoice_id.encode()).hexdigest()[:limit]


def refused(title: str, draft: ExportDraft, exc: ValidationError) -> InvalidMessageError:
    """A draft the tool cannot hold (a line or field beyond its limits): not worth retrying."""
    return InvalidMessageError(f"invoice {draft.invoice_id} cannot be made in {title}: {exc}"[:500])


def number_id(title: str, kind: str, external_id: str) -> int:
    """A numeric id of the tool; a malformed one is an invalid message, not a crash."""
    try:
        return int(external_id)
    except ValueError:
        raise InvalidMessageError(f"{external_id!r} is not a {title} {kind} id") from None
