"""Jira Tempo (Tempo Cloud REST API v4): one worklog per entry in seconds, on a Jira issue;
``updatedFrom`` polling (no worklog webhooks); billable per entry (``billableSeconds``).

Access: the credential is a Tempo bearer token (API integration token or OAuth access token);
``Access.extra["account_id"]`` is the token owner's Jira account id (Tempo's API has no "who am
I"; it is entered at connection and checked against the token's own worklogs) and
``Access.extra["timezone"]`` the IANA zone worklogs' local ``startDate``/``startTime`` are read
and written in (the Jira profile's zone of the team; default UTC).

Users, projects and issues live in Jira Cloud's API, another host with another credential: the
directory reads them from ``Access.extra["jira_site"]`` (``https://<site>.atlassian.net``) as
``Access.extra["jira_email"]`` with a Jira API token. That token is a secret, so it travels in
the credential, sealed like the Tempo token: the key is ``<Tempo token>|<Jira API token>`` (both
are visible ASCII without ``|``). The connection test asks Jira who the token is and refuses an
account id that is not its owner's.
"""

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.kit.plumbing import plumbing, required_extra
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import ALL_FIELDS, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.tempo.client import RATE_LIMIT, TEMPO_API_URL, TempoClient
from timebridge_providers.tempo.directory import TempoDirectory
from timebridge_providers.tempo.entries import TempoEntries
from timebridge_providers.tempo.jira import JiraClient
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
    # A record carries the connection's zone, not the one it was logged in elsewhere.
    kept_fields=_FIELDS - {"timezone"},
    observed_fields=_FIELDS,
    writable_fields=_FIELDS - {"timezone"},
    requires_task=True,
    billable="entry",
    webhooks=False,
    units="seconds (timeSpentSeconds, billableSeconds); local startDate + startTime",
    pagination="offset/limit, metadata.next",
    lists_records=True,
    cursor="GET /4/worklogs?updatedFrom + re-listed window for deletions",
    report="no report API in Tempo Cloud: GET /4/worklogs?from&to summed",
    differs_from_seeds=(
        "/rest/tempo-timesheets/4 and /rest/tempo-reports/4 are Server/Data Center paths:"
        " Tempo Cloud is api.tempo.io/4; users, projects and issues (the directory) are Jira"
        " Cloud's REST API v3 on <site>.atlassian.net (basic auth, email + Jira API token: the"
        " key is <Tempo token>|<Jira API token>)"
    ),
    locks="approved timesheets and closed periods (refused writes)",
    deletes="hard (seen by re-listing the lookback window; no tombstones)",
    default_base_url=TEMPO_API_URL,
    docs_url="https://apidocs.tempo.io/",
    connection_fields={
        "account_id": "Jira account ID",
        "timezone": "Time zone (IANA)",
        "jira_site": "Jira site (https://<site>.atlassian.net)",
        "jira_email": "Jira account email (the key: <Tempo token>|<Jira API token>)",
    },
)

JIRA_SEPARATOR = "|"


def tokens(credential: str) -> tuple[str, str | None]:
    """The Tempo token and the Jira API token (``None``: not given) of a connection's key."""
    tempo, _, jira = credential.partition(JIRA_SEPARATOR)
    return tempo, jira or None


def client(session: Session) -> TempoClient:
    token, _ = tokens(session.access.credential)
    return TempoClient(session.access.base_url, token, **plumbing(session))


def jira(session: Session) -> JiraClient:
    """The connection's Jira Cloud site, as its email with the Jira API token."""
    site = required_extra(session, "jira_site", what="the Jira site is missing")
    email = required_extra(session, "jira_email", what="the Jira account email is missing")
    _, token = tokens(session.access.credential)
    return JiraClient(site, email, token, **plumbing(session))


def _zone(session: Session) -> str:
    return zone_name(session.access.extra.get("timezone"))


async def _check(session: Session) -> Account:
    """The Tempo token works (one worklog page); Jira's token is the account id entered."""
    tempo = client(session)
    async for _ in tempo.worklogs(limit=1):
        break
    account = session.access.extra.get("account_id", "")
    if not account:
        raise AuthenticationError("tempo", "GET", "/worklogs", 401, "no Jira account id given")
    me = await jira(session).myself()
    if me.accountId != account:
        raise AuthenticationError(
            "tempo", "GET", "/rest/api/3/myself", 403,
            f"the Jira API token is account {me.accountId}, not the account id given ({account})",
        )  # fmt: skip
    return Account(account, me.displayName, me.emailAddress)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda session: TempoEntries(client(session), _zone(session)),
    observe=Observing(open=lambda session: TempoObserver(client(session), _zone(session))),
    report=lambda session: TempoReport(client(session)),
    directory=lambda session: TempoDirectory(jira(session)),
)
