"""Everhour: one time record per task, user and day; unsigned webhooks; billable per task."""

from timebridge_providers.everhour.client import RATE_LIMIT, EverhourClient
from timebridge_providers.everhour.directory import EverhourDirectory
from timebridge_providers.everhour.entries import EverhourRecords
from timebridge_providers.everhour.observe import EverhourObserver, EverhourWebhooks
from timebridge_providers.kit.plumbing import plumbing
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session

_RECORD = frozenset({"user", "task_external_id", "date", "duration_seconds", "notes"})

PROFILE = Profile(
    name="everhour",
    title="Everhour",
    kind="tracker",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        # The conflict-resolver writes and reads every record back; ingest tests keys, re-reads
        # webhook deliveries and polls; mapping reads users and tasks and creates tasks.
        shares={"ingest": 6, "mapping": 4, "conflict-resolver": 10},
    ),
    auth="api_key",
    granularity="task_user_day",
    kept_fields=_RECORD,
    observed_fields=_RECORD | {"project_external_id", "billable"},
    writable_fields=_RECORD,
    requires_task=True,
    billable="task",
    webhooks=True,
    units="seconds",
    pagination="page/limit, last page shorter than limit",
    lists_records=True,
    cursor="team time by date window, re-listed (no change cursor); webhooks as hints",
    differs_from_seeds=(
        "the seeds' per-record /time/{id} routes exist only in third-party material:"
        " records are addressed by task, user and date"
    ),
    locks="locked or invoiced records (isLocked)",
    deletes="zero (a record with no time is gone)",
    default_base_url="https://api.everhour.com",
    docs_url="https://everhour.docs.apiary.io/",
)


def client(session: Session) -> EverhourClient:
    """An Everhour client on the session's pool and budget (not closed by its user: shared)."""
    return EverhourClient(session.access.base_url, session.access.credential, **plumbing(session))


async def _check(session: Session) -> Account:
    me = await client(session).current_user()
    return Account(str(me.id), name=me.name, email=me.email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda s: EverhourRecords(client(s)),
    directory=lambda s: EverhourDirectory(client(s)),
    observe=Observing(lambda s: EverhourObserver(client(s)), EverhourWebhooks()),
)
