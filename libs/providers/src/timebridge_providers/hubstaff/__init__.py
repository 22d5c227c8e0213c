"""Hubstaff (API v2): daily activities (one record per user, project, task and organization date,
seconds), polled through ``activities/daily/updates`` and re-read on its signed webhooks
(``timer.stop``); OAuth 2 with rotating refresh tokens (the credential owner refreshes them); to
Core only. The organization id is ``Access.extra['organization_id']``."""

from timebridge_providers.hubstaff.client import (
    AUTHORIZE_URL,
    HUBSTAFF_API_URL,
    RATE_LIMIT,
    TOKEN_URL,
    HubstaffClient,
)
from timebridge_providers.hubstaff.directory import HubstaffDirectory
from timebridge_providers.hubstaff.observe import HubstaffObserver
from timebridge_providers.hubstaff.report import HubstaffReport
from timebridge_providers.hubstaff.webhooks import HubstaffWebhooks
from timebridge_providers.kit.oauth import OAuthDescription
from timebridge_providers.kit.plumbing import plumbing, required_extra
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session

ORGANIZATION = "organization_id"
_KEPT = frozenset(
    {"user", "project_external_id", "task_external_id", "date", "duration_seconds", "billable"}
)

PROFILE = Profile(
    name="hubstaff",
    title="Hubstaff",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        shares={"ingest": 400, "mapping": 200, "conflict-resolver": 200, "reporting": 200},
    ),
    auth="oauth2",
    granularity="task_user_day",
    kept_fields=_KEPT,
    observed_fields=_KEPT,
    writable_fields=frozenset(),
    requires_task=False,
    billable="entry",
    writable=False,
    not_writable_reason=(
        "Hubstaff's API v2 can add manual time (POST /v2/users/{id}/time_entries) but cannot "
        "change or delete it, and tracked activity is read-only: Core's edits and deletes could "
        "not follow, so Hubstaff syncs to Core only"
    ),
    webhooks=True,
    webhooks_miss="manual and deleted time, which raise no documented event",
    units="seconds (tracked, billable) per user/project/task/organization date",
    pagination="page_start_id / pagination.next_page_start_id",
    locks="approved timesheets (read-only here)",
    deletes="zero (a daily activity whose time was deleted answers tracked 0)",
    default_base_url=HUBSTAFF_API_URL,
    docs_url="https://developer.hubstaff.com/docs/hubstaff_v2",
    connection_fields={ORGANIZATION: "Organization ID"},
)


def client(session: Session) -> HubstaffClient:
    organization = required_extra(
        session, ORGANIZATION, what="a Hubstaff connection needs its organization id"
    )
    return HubstaffClient(
        session.access.base_url,
        session.access.credential,
        organization,
        **plumbing(session),
    )


async def _check(session: Session) -> Account:
    me = await client(session).me()
    return Account(str(me.id), name=me.name, email=me.email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    observe=Observing(
        open=lambda session: HubstaffObserver(client(session)), webhooks=HubstaffWebhooks()
    ),
    directory=lambda session: HubstaffDirectory(client(session)),
    report=lambda session: HubstaffReport(client(session)),
    # developer.hubstaff.com/authentication: OpenID Connect at account.hubstaff.com (its
    # discovery document names these endpoints), a nonce on every consent, the app as HTTP Basic.
    oauth=OAuthDescription(
        token_url=TOKEN_URL,
        authorize_url=AUTHORIZE_URL,
        scopes=("openid", "hubstaff:read", "hubstaff:write"),
        nonce=True,
    ),
)
