"""Harvest (API v2): one entry per time entry in decimal hours; polled (no webhooks); billable per
task assignment. Harvest publishes no official Python SDK, so our client is the only one."""

from timebridge_providers.harvest.client import (
    ACCOUNT_HEADER,
    HARVEST_API_URL,
    RATE_LIMIT,
    HarvestClient,
)
from timebridge_providers.harvest.directory import HarvestDirectory
from timebridge_providers.harvest.entries import HarvestEntries
from timebridge_providers.harvest.observe import HarvestObserver
from timebridge_providers.harvest.report import HarvestReport
from timebridge_providers.kit.plumbing import plumbing, required_extra
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session

_KEPT = frozenset(
    {"user", "project_external_id", "task_external_id", "date", "duration_seconds", "notes"}
)

PROFILE = Profile(
    name="harvest",
    title="Harvest",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        # ingest polls (two listings a poll), mapping reads the directory, the conflict-resolver
        # looks up, writes and reads back.
        shares={"ingest": 30, "mapping": 20, "conflict-resolver": 40, "reporting": 10},
    ),
    auth="token",
    granularity="entry",
    kept_fields=_KEPT | {"billable"},
    observed_fields=_KEPT | {"billable", "timezone"},
    writable_fields=_KEPT,
    requires_task=True,
    billable="task",
    webhooks=False,
    units="decimal hours",
    pagination="links.next (per_page up to 2000)",
    lists_records=True,
    cursor="updated_since (Harvest's clock minus a minute) + re-listed window for deletions",
    report="GET /v2/reports/time/team",
    locks="approved, invoiced or closed entries (is_locked)",
    deletes="hard (re-listing the polled window finds them)",
    default_base_url=HARVEST_API_URL,
    docs_url="https://help.getharvest.com/api-v2/",
    connection_fields={"account_id": "Account ID (id.getharvest.com/developers)"},
)


def client(session: Session) -> HarvestClient:
    """A Harvest client on the session's pool and budget; the account id is ``Access.extra``'s
    ``Harvest-Account-Id`` (or ``account_id``)."""
    account = required_extra(
        session, ACCOUNT_HEADER, "account_id", what="a Harvest connection needs its account id"
    )
    return HarvestClient(
        session.access.base_url,
        session.access.credential,
        account,
        **plumbing(session),
    )


async def _check(session: Session) -> Account:
    me = await client(session).me()
    return Account(str(me.id), name=me.name, email=me.email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda session: HarvestEntries(client(session)),
    observe=Observing(open=lambda session: HarvestObserver(client(session))),
    directory=lambda session: HarvestDirectory(client(session)),
    report=lambda session: HarvestReport(client(session)),
)
