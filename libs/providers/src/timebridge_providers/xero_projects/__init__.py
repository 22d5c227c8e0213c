"""Xero Projects (``projects.xro/2.0``): one entry per time entry in whole minutes; polled
(no change cursor, no webhooks: windows re-listed, deletions found by their absence); billable
per task (charge type); OAuth 2.0 with rotating refresh tokens, refreshed by the credential
owner through the ``xero`` package's token endpoint description.

Access: the credential is the current access token; ``Access.extra["tenant"]`` names the
organisation (``Xero-Tenant-Id``) and ``Access.extra["timezone"]`` its IANA time zone (Xero shows
entries in the organisation's zone; default UTC). The seeds' lower-case paths
(``/projects/{projectId}/time``) are the same routes: Xero's paths are case-insensitive; the
client uses the spec's spelling (``/Projects/{projectId}/Time``).
"""

from timebridge_providers.kit.oauth import OAuthDescription, basic_auth_endpoint
from timebridge_providers.kit.plumbing import plumbing, required_extra
from timebridge_providers.kit.ports.accounting import TENANT
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.xero.oauth import XeroTokens
from timebridge_providers.xero.wire import AUTHORIZE_URL, TOKEN_URL
from timebridge_providers.xero_projects.client import XeroProjectsClient, token_user
from timebridge_providers.xero_projects.consent import choose_organisation
from timebridge_providers.xero_projects.directory import XeroProjectsDirectory
from timebridge_providers.xero_projects.entries import XeroProjectsEntries
from timebridge_providers.xero_projects.observe import XeroProjectsObserver
from timebridge_providers.xero_projects.people import Lookups
from timebridge_providers.xero_projects.report import XeroProjectsReport
from timebridge_providers.xero_projects.wire import RATE_LIMIT, XERO_PROJECTS_URL

_KEPT = frozenset(
    {"user", "project_external_id", "task_external_id", "date", "started_at"}
    | {"duration_seconds", "notes"}
)

PROFILE = Profile(
    name="xero_projects",
    title="Xero Projects",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        # Polls list every project's window; the conflict-resolver looks up, writes and reads
        # back; mapping reads the directory; reporting sums a period.
        shares={"ingest": 25, "mapping": 10, "conflict-resolver": 20, "reporting": 5},
    ),
    auth="oauth2",
    granularity="entry",
    kept_fields=_KEPT | {"billable"},
    observed_fields=_KEPT | {"billable", "timezone"},
    writable_fields=_KEPT,
    requires_task=True,
    billable="task",
    webhooks=False,
    units="whole minutes (1 to 59940)",
    pagination="page/pageSize (up to 500), pagination.pageCount",
    lists_records=True,
    locks="invoiced or locked entries (status INVOICED/LOCKED)",
    deletes="hard (no change cursor: re-listing the polled window finds them)",
    default_base_url=XERO_PROJECTS_URL,
    docs_url="https://developer.xero.com/documentation/api/projects/overview",
    cursor="none at Xero: every project's window (dateAfterUtc/dateBeforeUtc) re-listed and "
    "compared with the last listing (changes by content, deletions by absence)",
    report="none by user at Xero: GET /Projects/{id}/Time for the period, summed",
    differs_from_seeds="none: the seeds' lower-case /projects/{projectId}/time is the spec's "
    "/Projects/{projectId}/Time (Xero's paths ignore case)",
    connection_fields={
        TENANT: "Organisation (Xero tenant id)",
        "timezone": "The organisation's time zone (IANA, e.g. Pacific/Auckland)",
    },
)


def client(session: Session) -> XeroProjectsClient:
    """A client of the session's organisation on the session's pool and budget."""
    tenant = required_extra(
        session, TENANT, what="a Xero Projects connection needs its organisation"
    )
    return XeroProjectsClient(
        session.access.base_url,
        session.access.credential,
        tenant,
        **plumbing(session),
    )


def _lookups(session: Session, *, per_credential: bool = False) -> Lookups:
    zone = zone_name(session.access.extra.get("timezone"))
    return Lookups(client(session), zone, per_credential=per_credential)


async def _check(session: Session) -> Account:
    """The token works in the organisation (its project users are listed); who it acts as is
    the token's ``xero_userid`` claim, found among them (else the organisation itself)."""
    users = await client(session).first_users()
    me = token_user(session.access.credential)
    for user in users.items:
        if me is not None and user.user_id.lower() == me.lower():
            return Account(user.user_id, name=user.name, email=user.email)
    return Account(session.access.extra[TENANT])


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda session: XeroProjectsEntries(_lookups(session, per_credential=True)),
    observe=Observing(open=lambda session: XeroProjectsObserver(_lookups(session))),
    directory=lambda session: XeroProjectsDirectory(client(session)),
    report=lambda session: XeroProjectsReport(_lookups(session)),
    # Xero's identity server (the xero package's token endpoint): offline_access for a refresh
    # token, projects for the Projects API; the organisation is chosen after consent among
    # GET api.xero.com/connections (its tenantId is the connection's tenant field: .consent).
    oauth=OAuthDescription(
        token_url=TOKEN_URL,
        endpoint=basic_auth_endpoint(XeroTokens),
        authorize_url=AUTHORIZE_URL,
        scopes=("openid", "profile", "email", "projects", "offline_access"),
        consent_fields=frozenset({TENANT}),
        complete=choose_organisation,
    ),
)
