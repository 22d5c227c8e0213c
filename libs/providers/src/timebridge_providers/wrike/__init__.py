"""Wrike (API v4): one timelog per entry in decimal hours on a task, dated, no time of day;
``updatedDate`` polling and signed webhooks (``TimelogChanged``, the timelog re-read); billable per
timelog (``billingType``); OAuth 2.0 with rotating refresh tokens (the credential owner
refreshes) or a permanent token.

Access: the credential is the current access token (or a permanent token); the base URL is the
account's host (``https://www.wrike.com/api/v4``, or the data center the token answer named).
"""

from timebridge_providers.kit.oauth import OAuthDescription, form_body_auth
from timebridge_providers.kit.plumbing import plumbing
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.wrike.client import (
    AUTHORIZE_URL,
    RATE_LIMIT,
    TOKEN_URL,
    WRIKE_API_URL,
    WrikeClient,
)
from timebridge_providers.wrike.consent import data_center
from timebridge_providers.wrike.directory import WrikeDirectory
from timebridge_providers.wrike.entries import WrikeEntries
from timebridge_providers.wrike.observe import WrikeObserver
from timebridge_providers.wrike.report import WrikeReport
from timebridge_providers.wrike.webhooks import WrikeWebhooks

_FIELDS = frozenset({"user", "task_external_id", "date", "duration_seconds", "notes", "billable"})

PROFILE = Profile(
    name="wrike",
    title="Wrike",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        shares={"ingest": 120, "mapping": 60, "conflict-resolver": 200, "reporting": 20},
    ),
    auth="oauth2",
    granularity="entry",
    kept_fields=_FIELDS,
    observed_fields=_FIELDS,
    writable_fields=_FIELDS,
    requires_task=True,
    billable="entry",
    webhooks=True,
    units="decimal hours (hours); a trackedDate, no time of day",
    pagination="unpaged timelog lists (updatedDate / trackedDate ranges)",
    lists_records=True,
    cursor="GET /timelogs?updatedDate + re-listed trackedDate window",
    report="GET /timelogs for the period, summed",
    differs_from_seeds="the seeds' /api/v4/reports is not used (no time totals confirmed there)",
    locks="approved or locked timelogs (refused writes)",
    deletes="hard (a webhook names the timelog; a re-listing of the lookback window finds it)",
    default_base_url=WRIKE_API_URL,
    docs_url="https://developers.wrike.com/",
)


def client(session: Session) -> WrikeClient:
    return WrikeClient(session.access.base_url, session.access.credential, **plumbing(session))


async def _check(session: Session) -> Account:
    me = await client(session).me()
    return Account(me.id, name=me.name, email=me.email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda session: WrikeEntries(client(session)),
    observe=Observing(
        open=lambda session: WrikeObserver(client(session)), webhooks=WrikeWebhooks()
    ),
    directory=lambda session: WrikeDirectory(client(session)),
    report=lambda session: WrikeReport(client(session)),
    # developers.wrike.com/oauth-20-authorization: the consent page (v4), the app's id and
    # secret in the token request's form body, the scopes comma-separated.
    oauth=OAuthDescription(
        token_url=TOKEN_URL,
        endpoint=form_body_auth,
        authorize_url=AUTHORIZE_URL,
        scopes=("wsReadWrite",),
        scope_separator=",",
        complete=data_center,  # the token answer's host: the account's data center
    ),
)
