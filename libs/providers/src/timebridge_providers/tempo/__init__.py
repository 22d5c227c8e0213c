"""Jira Tempo (Tempo Cloud REST API v4): one worklog per entry in seconds, on a Jira issue;
``updatedFrom`` polling (no worklog webhooks); billable per entry (``billableSeconds``).

Access: the credential is a Tempo bearer token (API integration token or OAuth access token);
``Access.extra["account_id"]`` is the token owner's Jira account id (Tempo's API has no "who am
I"; it is entered at connection and checked against the token's own worklogs) and
``Access.extra["timezone"]`` the IANA zone worklogs' local ``startDate``/``startTime`` are read
and written in (the Jira profile's zone of the team; default UTC). Users, projects and issues
live in Jira's API (another host and credential), so no directory is offered here yet.
"""

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.kit.plumbing import plumbing
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import ALL_FIELDS, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.tempo.client import RATE_LIMIT, TEMPO_API_URL, TempoClient
from timebridge_providers.tempo.entries import TempoEntries
from timebridge_providers.tempo.observe import TempoObserver
from timebridge_providers.tempo.report import TempoReport

_FIELDS = ALL_FIELDS - {"project_external_id"}

PROFILE = Profile(
    name="tempo",
    title="Jira Tempo",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        shares={"ingest": 100, "mapping": 40, "conflict-resolver": 140, "reporting": 20},
    ),
    auth="token",
    granularity="entry",
    kept_fields=_FIELDS,
    observed_fields=_FIELDS,
    writable_fields=_FIELDS - {"timezone"},
    requires_task=True,
    billable="entry",
    webhooks=False,
    units="seconds (timeSpentSeconds, billableSeconds); local startDate + startTime",
    pagination="offset/limit, metadata.next",
    cursor="GET /4/worklogs?updatedFrom + re-listed window for deletions",
    report="no report API in Tempo Cloud: GET /4/worklogs?from&to summed",
    differs_from_seeds=(
        "/rest/tempo-timesheets/4 and /rest/tempo-reports/4 are Server/Data Center paths:"
        " Tempo Cloud is api.tempo.io/4"
    ),
    locks="approved timesheets and closed periods (refused writes)",
    deletes="hard (seen by re-listing the lookback window; no tombstones)",
    default_base_url=TEMPO_API_URL,
    docs_url="https://apidocs.tempo.io/",
    connection_fields={"account_id": "Jira account ID", "timezone": "Time zone (IANA)"},
)


def client(session: Session) -> TempoClient:
    return TempoClient(session.access.base_url, session.access.credential, **plumbing(session))


def _zone(session: Session) -> str:
    return zone_name(session.access.extra.get("timezone"))


async def _check(session: Session) -> Account:
    """The token works (one worklog page), acting as the account id entered with it."""
    tempo = client(session)
    async for _ in tempo.worklogs(limit=1):
        break
    account = session.access.extra.get("account_id", "")
    if not account:
        raise AuthenticationError("tempo", "GET", "/worklogs", 401, "no Jira account id given")
    return Account(account)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda session: TempoEntries(client(session), _zone(session)),
    observe=Observing(open=lambda session: TempoObserver(client(session), _zone(session))),
    report=lambda session: TempoReport(client(session)),
)
