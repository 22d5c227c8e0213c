"""QuickBooks Time (formerly TSheets, API v1 at ``rest.tsheets.com/api/v1``): one timesheet per
entry in seconds on a jobcode (the task); ``modified_since`` polling with ``/timesheets_deleted``
tombstones (no timesheet webhooks documented); billable is the jobcode's; locked, approved or
submitted time refused; OAuth 2.0 bearer tokens with rotating refresh tokens (``/grant``).

Access: the credential is the current access token; ``Access.extra["timezone"]`` is the IANA
zone start/end are written in (the company's zone; default UTC). The seeds' TSheets name and host
are still the API's: QuickBooks Time kept ``rest.tsheets.com/api/v1``.
"""

from timebridge_providers.kit.credentials import OAuthDescription
from timebridge_providers.kit.plumbing import plumbing
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import ALL_FIELDS, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.quickbooks_time.client import (
    AUTHORIZE_URL,
    QBT_API_URL,
    RATE_LIMIT,
    TOKEN_URL,
    QuickBooksTimeClient,
    grant_endpoint,
)
from timebridge_providers.quickbooks_time.directory import QuickBooksTimeDirectory
from timebridge_providers.quickbooks_time.entries import QuickBooksTimeEntries
from timebridge_providers.quickbooks_time.observe import QuickBooksTimeObserver
from timebridge_providers.quickbooks_time.report import QuickBooksTimeReport

_FIELDS = ALL_FIELDS - {"project_external_id"}

PROFILE = Profile(
    name="quickbooks_time",
    title="QuickBooks Time",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        shares={"ingest": 100, "mapping": 40, "conflict-resolver": 140, "reporting": 20},
    ),
    auth="oauth2",
    granularity="entry",
    # A record carries the connection's zone, not the one it was logged in elsewhere.
    kept_fields=_FIELDS - {"timezone"},
    observed_fields=_FIELDS,
    writable_fields=_FIELDS - {"timezone", "billable"},
    requires_task=True,
    billable="task",
    webhooks=False,
    units="seconds (duration); regular: start/end ISO 8601 with offset, manual: date + duration",
    pagination="page/limit (200), more: true",
    lists_records=True,
    cursor="GET /timesheets?modified_since + GET /timesheets_deleted?modified_since (tombstones)",
    report="POST /reports/project (totals.users, seconds)",
    differs_from_seeds="TSheets is now QuickBooks Time; the API kept rest.tsheets.com/api/v1",
    locks="locked timesheets; approved_to/submitted_to dates of the user (refused writes)",
    deletes="hard (listed in /timesheets_deleted)",
    default_base_url=QBT_API_URL,
    docs_url="https://tsheetsteam.github.io/api_docs/",
    connection_fields={"timezone": "Time zone (IANA)"},
)


def client(session: Session) -> QuickBooksTimeClient:
    return QuickBooksTimeClient(
        session.access.base_url, session.access.credential, **plumbing(session)
    )


def _zone(session: Session) -> str:
    return zone_name(session.access.extra.get("timezone"))


async def _check(session: Session) -> Account:
    """``GET /current_user``: who the token acts as."""
    user = await client(session).current_user()
    name = f"{user.first_name} {user.last_name}".strip() or None
    return Account(str(user.id), name, user.email or None)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda session: QuickBooksTimeEntries(client(session), _zone(session)),
    observe=Observing(open=lambda session: QuickBooksTimeObserver(client(session), _zone(session))),
    directory=lambda session: QuickBooksTimeDirectory(client(session)),
    report=lambda session: QuickBooksTimeReport(client(session)),
    oauth=OAuthDescription(
        token_url=TOKEN_URL, endpoint=grant_endpoint, authorize_url=AUTHORIZE_URL
    ),
)
