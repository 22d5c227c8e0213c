"""ClickUp (API v2): one entry per time entry in milliseconds; webhooks (``taskTimeTrackedUpdated``,
re-read through the API) plus polling; billable per entry. The team (workspace) id is
``Access.extra['team_id']``. ClickUp publishes no official Python SDK."""

from timebridge_providers.clickup.client import CLICKUP_API_URL, RATE_LIMIT, ClickUpClient
from timebridge_providers.clickup.directory import ClickUpDirectory
from timebridge_providers.clickup.entries import ClickUpEntries
from timebridge_providers.clickup.observe import ClickUpObserver
from timebridge_providers.clickup.report import ClickUpReport
from timebridge_providers.clickup.webhooks import ClickUpWebhooks
from timebridge_providers.kit.plumbing import plumbing, required_extra
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import ALL_FIELDS, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session

TEAM = "team_id"

PROFILE = Profile(
    name="clickup",
    title="ClickUp",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        shares={"ingest": 30, "mapping": 20, "conflict-resolver": 40, "reporting": 10},
    ),
    auth="token",
    granularity="entry",
    # An entry carries the connection's zone, not the one it was logged in elsewhere.
    kept_fields=ALL_FIELDS - {"timezone"},
    observed_fields=ALL_FIELDS,
    writable_fields=ALL_FIELDS - {"timezone"},
    requires_task=False,
    billable="entry",
    webhooks=True,
    units="milliseconds (negative while a timer runs: not synced until stopped)",
    pagination="none for time entries (start_date/end_date window); tasks by page (100)",
    lists_records=True,
    locks="approved timesheets (time entry approvals)",
    deletes="hard (re-listing the polled window finds them; a webhook names the interval)",
    default_base_url=CLICKUP_API_URL,
    docs_url="https://clickup.com/api/",
    connection_fields={TEAM: "Workspace (team) ID"},
)


def client(session: Session) -> ClickUpClient:
    """A ClickUp client on the session's pool and budget, for ``Access.extra['team_id']``."""
    team = required_extra(session, TEAM, what="a ClickUp connection needs its workspace id")
    return ClickUpClient(
        session.access.base_url,
        session.access.credential,
        team,
        **plumbing(session),
    )


async def _check(session: Session) -> Account:
    me = (await client(session).me()).user
    return Account(str(me.id), name=me.username, email=me.email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda session: ClickUpEntries(client(session)),
    observe=Observing(
        open=lambda session: ClickUpObserver(client(session)), webhooks=ClickUpWebhooks()
    ),
    directory=lambda session: ClickUpDirectory(client(session)),
    report=lambda session: ClickUpReport(client(session)),
)
