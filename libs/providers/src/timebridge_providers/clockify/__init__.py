"""Clockify (API v1): one entry per time entry, durations as ISO 8601 (``PT1H30M``); webhooks
(hints, re-read) and polling;
billable per entry; reports ``POST`` on their own host.

Access: the API key (``X-Api-Key``) is the credential; ``Access.extra["workspace_id"]`` names the
workspace, ``["reports_url"]`` the reports host if not derived from the API's, ``["timezone"]``
the zone a date is read in when a user has none.
"""

from timebridge_providers.clockify.client import CLOCKIFY_API_URL, RATE_LIMIT, ClockifyClient
from timebridge_providers.clockify.directory import ClockifyDirectory
from timebridge_providers.clockify.entries import ClockifyEntries
from timebridge_providers.clockify.observe import ClockifyObserver
from timebridge_providers.clockify.people import People
from timebridge_providers.clockify.report import ClockifyReport
from timebridge_providers.clockify.webhooks import ClockifyWebhooks
from timebridge_providers.kit.plumbing import plumbing
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import ALL_FIELDS, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session

PROFILE = Profile(
    name="clockify",
    title="Clockify",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT, shares={"ingest": 10, "mapping": 10, "conflict-resolver": 20, "reporting": 5}
    ),
    auth="api_key",
    granularity="entry",
    # An entry carries its user's zone, not the zone it was logged in elsewhere: the zone is
    # observed (a Core copy takes it) but not kept or written, like Harvest's.
    kept_fields=ALL_FIELDS - {"timezone"},
    observed_fields=ALL_FIELDS,
    writable_fields=ALL_FIELDS - {"timezone"},
    billable="entry",
    webhooks=True,
    units="ISO 8601 durations (PT1H30M); start/end in UTC",
    pagination="page/page-size (Last-Page header)",
    lists_records=True,
    cursor="re-listed window per user (start/end), compared with the last poll; webhooks as hints",
    report="POST reports.api.clockify.me/v1/workspaces/{ws}/reports/summary",
    differs_from_seeds="reports live on their own host (reports.api.clockify.me) and are POST",
    locks="locked periods and approved timesheets (isLocked)",
    deletes="hard (re-listing the polled window finds them)",
    default_base_url=CLOCKIFY_API_URL,
    docs_url="https://docs.clockify.me/",
    connection_fields={"workspace_id": "Workspace ID"},
)


def client(session: Session) -> ClockifyClient:
    extra = session.access.extra
    return ClockifyClient(
        session.access.base_url,
        session.access.credential,
        extra.get("workspace_id", ""),
        reports=extra.get("reports_url") or None,
        **plumbing(session),
    )


def _entries(session: Session) -> ClockifyEntries:
    clockify = client(session)
    return ClockifyEntries(clockify, People(clockify, session.access.extra.get("timezone")))


def _observer(session: Session) -> ClockifyObserver:
    clockify = client(session)
    return ClockifyObserver(clockify, People(clockify, session.access.extra.get("timezone")))


async def _check(session: Session) -> Account:
    me = await client(session).me()
    return Account(me.id, name=me.name, email=me.email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=_entries,
    observe=Observing(open=_observer, webhooks=ClockifyWebhooks()),
    directory=lambda session: ClockifyDirectory(client(session)),
    report=lambda session: ClockifyReport(client(session)),
)
