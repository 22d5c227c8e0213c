"""Zoho Projects (REST API ``/restapi/portal/{portal_id}/...``): one task log per entry in
``HH:MM`` on a date (``MM-DD-YYYY``, no start time); polled (no change cursor: month views
re-listed, deletions found by their absence); billable per log (``bill_status``); approved logs
locked; OAuth 2.0 (``Zoho-oauthtoken``; access tokens last an hour, refresh tokens do not rotate:
the credential owner refreshes them through :mod:`.oauth`).

Access: the credential is the current access token; ``Access.extra["portal_id"]`` names the
portal and ``Access.extra["timezone"]`` its time zone (IANA; default UTC). The seeds name
``https://projectsapi.zoho.com/restapi/portal/{portal_id}/``, still Zoho's documented REST API;
Zoho also serves API v3 (``/api/v3/portal/{portal_id}/``), not used here (see :mod:`.client`).
An account in another data centre uses its host (``projectsapi.zoho.eu``, ...) as base URL.
"""

from timebridge_providers.kit.oauth import OAuthDescription
from timebridge_providers.kit.plumbing import plumbing, required_extra
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.zoho.client import ZohoClient
from timebridge_providers.zoho.consent import data_centre, token_url_of
from timebridge_providers.zoho.directory import ZohoDirectory
from timebridge_providers.zoho.entries import ZohoEntries
from timebridge_providers.zoho.oauth import zoho_tokens
from timebridge_providers.zoho.observe import ZohoObserver
from timebridge_providers.zoho.report import ZohoReport
from timebridge_providers.zoho.wire import AUTHORIZE_URL, RATE_LIMIT, TOKEN_URL, ZOHO_API_URL

_KEPT = frozenset(
    {"user", "project_external_id", "task_external_id", "date", "duration_seconds", "notes"}
    | {"billable"}
)

PROFILE = Profile(
    name="zoho",
    title="Zoho Projects",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        shares={"ingest": 40, "mapping": 15, "conflict-resolver": 35, "reporting": 10},
    ),
    auth="oauth2",
    granularity="entry",
    kept_fields=_KEPT,
    observed_fields=_KEPT | {"timezone"},
    writable_fields=_KEPT,
    requires_task=True,
    billable="entry",
    webhooks=False,
    units="HH:MM (whole minutes) on a date, no start time",
    pagination="index/range (projects, tasks); logs by day/week/month view",
    lists_records=True,
    locks="approved time logs (approval_status Approved)",
    deletes="hard (no change cursor: re-listing the polled months finds them)",
    default_base_url=ZOHO_API_URL,
    docs_url="https://www.zoho.com/projects/help/rest-api/log-time.html",
    cursor="none at Zoho: every project's month views of the window (view_type=month&date) "
    "re-listed and compared with the last listing (changes by version, deletions by absence)",
    report="GET /projects/{id}/logs/ (month views, grandtotal) for the period, summed",
    differs_from_seeds="the seeds' /restapi/portal/{portal_id}/ is still served and documented; "
    "Zoho's newer API v3 (/api/v3/portal/{portal_id}/) is not used (its time-log shapes are "
    "unverified here)",
    connection_fields={
        "portal_id": "Portal ID",
        "timezone": "The portal's time zone (IANA, e.g. Asia/Kolkata)",
    },
)


def client(session: Session) -> ZohoClient:
    portal = required_extra(
        session, "portal_id", what="a Zoho Projects connection needs its portal id"
    )
    return ZohoClient(
        session.access.base_url,
        session.access.credential,
        portal,
        **plumbing(session),
    )


def _zone(session: Session) -> str:
    return zone_name(session.access.extra.get("timezone"))


async def _check(session: Session) -> Account:
    me = await client(session).me()
    return Account(me or session.access.extra.get("portal_id", ""))


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda session: ZohoEntries(client(session), _zone(session)),
    observe=Observing(open=lambda session: ZohoObserver(client(session), _zone(session))),
    directory=lambda session: ZohoDirectory(client(session)),
    report=lambda session: ZohoReport(client(session)),
    # Zoho's OAuth (server-based app): a refresh token only with access_type=offline, and only
    # on a fresh consent (prompt=consent); scopes per module, comma-separated.
    oauth=OAuthDescription(
        token_url=TOKEN_URL,
        endpoint=zoho_tokens,
        authorize_url=AUTHORIZE_URL,
        scopes=(
            "ZohoProjects.portals.READ",
            "ZohoProjects.projects.READ",
            "ZohoProjects.tasks.READ",
            "ZohoProjects.timesheets.ALL",
            "ZohoProjects.users.READ",
        ),
        scope_separator=",",
        authorize_params=(("access_type", "offline"), ("prompt", "consent")),
        token_url_of=token_url_of,  # multi-DC: the account's data centre (.consent)
        complete=data_centre,
    ),
)
