"""Toggl Track (API v9, Reports API v3, Webhooks API v1): one entry per time entry in seconds;
signed webhooks and ``since`` polling; billable per entry. API v8 was switched off in 2023.

Access: the API token is the credential; ``Access.extra["workspace_id"]`` names the workspace
(default: the token user's default workspace) and ``Access.extra["timezone"]`` the zone a member's
date is read in when Toggl does not give theirs (default: the token user's).
"""

from timebridge_providers.kit.plumbing import plumbing
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import ALL_FIELDS, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.toggl.client import PACE, RATE_LIMIT, TOGGL_API_URL, TogglClient
from timebridge_providers.toggl.directory import TogglDirectory
from timebridge_providers.toggl.entries import TogglEntries
from timebridge_providers.toggl.observe import TogglObserver
from timebridge_providers.toggl.people import People
from timebridge_providers.toggl.report import TogglReport
from timebridge_providers.toggl.webhooks import TogglWebhooks

PROFILE = Profile(
    name="toggl",
    title="Toggl Track",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        # Webhooks carry most changes, so polls are few; the conflict-resolver writes and reads
        # back; reporting asks for a summary per reconciliation.
        shares={"ingest": 60, "mapping": 40, "conflict-resolver": 120, "reporting": 20},
        more=(PACE,),
    ),
    auth="token",
    granularity="entry",
    # An entry carries its user's zone, not the zone it was logged in elsewhere: the zone is
    # observed (a Core copy takes it) but not kept or written, like Harvest's.
    kept_fields=ALL_FIELDS - {"timezone"},
    observed_fields=ALL_FIELDS,
    writable_fields=ALL_FIELDS - {"timezone"},
    billable="entry",
    webhooks=True,
    units="seconds (negative while a timer runs: synced once it stops)",
    pagination="page/per_page (projects, tasks); time entries unpaged (since)",
    lists_records=True,
    cursor="GET /me/time_entries?since=<unix> (server_deleted_at for deletions); webhooks",
    report="Reports API v3 summary (POST /reports/api/v3/workspace/{id}/summary/time_entries)",
    differs_from_seeds="API v8 was turned off in 2023: API v9 and Reports API v3 are used",
    locks="entries before the workspace's lock date (paid plans)",
    deletes="soft (server_deleted_at in since-listings)",
    default_base_url=TOGGL_API_URL,
    docs_url="https://engineering.toggl.com/docs/",
)


def client(session: Session) -> TogglClient:
    """A Toggl client on the session's pool and budget; the workspace is ``workspace_id``."""
    workspace = session.access.extra.get("workspace_id", "")
    return TogglClient(
        session.access.base_url,
        session.access.credential,
        int(workspace) if workspace.isdigit() else 0,
        **plumbing(session),
    )


def _people(session: Session, toggl: TogglClient) -> People:
    return People(toggl, session.access.extra.get("timezone"))


def _entries(session: Session) -> TogglEntries:
    toggl = client(session)
    return TogglEntries(toggl, _people(session, toggl))


def _observer(session: Session) -> TogglObserver:
    toggl = client(session)
    return TogglObserver(toggl, _people(session, toggl))


async def _check(session: Session) -> Account:
    me = await client(session).me()
    return Account(str(me.id), name=me.fullname, email=me.email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=_entries,
    observe=Observing(open=_observer, webhooks=TogglWebhooks()),
    directory=lambda session: TogglDirectory(client(session)),
    report=lambda session: TogglReport(client(session)),
)
