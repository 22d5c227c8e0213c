"""Core, the customer's own work system: tickets, projects, time entries, and who is an admin.

The home system: every tracker syncs with it, and its ``GET /me`` says who a caller is.
"""

from timebridge_providers.core.client import RATE_LIMIT, CoreClient
from timebridge_providers.core.contracts_poll import CoreContractsPoll
from timebridge_providers.core.directory import CoreDirectory
from timebridge_providers.core.entries import CoreEntries
from timebridge_providers.core.observe import CoreObserver, CoreWebhooks
from timebridge_providers.kit.plumbing import plumbing
from timebridge_providers.kit.ports.observe import Observing
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session

PROFILE = Profile(
    name="core",
    title="Core",
    kind="home",
    rate_limit=RateLimit(
        *RATE_LIMIT,
        # The service token (polls, users, tickets, writes) and a user's token (each service's
        # admin check, GET /me, cached for a minute).
        shares={"ingest": 2, "mapping": 3, "conflict-resolver": 3, "reporting": 2},
    ),
    auth="token",
    granularity="entry",
    billable="entry",
    webhooks=True,
    units="seconds",
    pagination="cursor (next_cursor)",
    cursor="updated_after + next_cursor; webhooks",
    locks="entries on invoices (423 Locked)",
    deletes="soft (deleted_at)",
)


def client(session: Session) -> CoreClient:
    """A Core client on the session's pool and budget (not closed by its user: shared)."""
    return CoreClient(session.access.base_url, session.access.credential, **plumbing(session))


async def _check(session: Session) -> Account:
    me = await client(session).me()
    return Account(me.user.id, name=me.user.name, email=me.user.email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    entries=lambda s: CoreEntries(client(s)),
    directory=lambda s: CoreDirectory(client(s)),
    observe=Observing(lambda s: CoreObserver(client(s)), CoreWebhooks()),
    commercial=lambda s: CoreContractsPoll(client(s)),
)
