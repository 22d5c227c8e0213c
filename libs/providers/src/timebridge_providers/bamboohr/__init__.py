"""BambooHR (API v1): an HR source of time off, read-only; no time entries.

Access: the API key is the credential (Basic auth, the key as user name and ``x`` as password);
``Access.extra["company_domain"]`` is the company's subdomain (``acme`` for
``acme.bamboohr.com``). Time off is polled (``kit/ports/time_off.py``); BambooHR's webhooks
cover employee fields, not time off, so none are registered.
"""

import datetime as dt

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.bamboohr.client import BAMBOOHR_API_URL, RATE_LIMIT, BambooHrClient
from timebridge_providers.bamboohr.time_off import BambooHrTimeOff
from timebridge_providers.kit.plumbing import plumbing, required_extra
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider
from timebridge_providers.kit.session import Session

PROFILE = Profile(
    name="bamboohr",
    title="BambooHR",
    kind="hr",
    rate_limit=RateLimit(*RATE_LIMIT, shares={"ingest": 60}),
    auth="api_key",
    kept_fields=frozenset(),
    observed_fields=frozenset(),
    writable_fields=frozenset(),
    billable="none",
    writable=False,
    not_writable_reason="an HR system: time off is read, it holds no time entries",
    units="time off in hours or days, per day (dates map)",
    pagination="none (a window of days per request)",
    cursor="re-listed window of days (lookback to a year ahead), kept when status.lastChanged"
    " is on or after the cursor's day; cancelled and denied requests included",
    deletes="soft (status canceled or denied)",
    default_base_url=BAMBOOHR_API_URL,
    docs_url="https://documentation.bamboohr.com/reference",
    differs_from_seeds="today's base is https://{companyDomain}.bamboohr.com/api/v1 (the spec's"
    " server); the gateway.php form is the older address of the same API",
    connection_fields={"company_domain": "Company domain (acme in acme.bamboohr.com)"},
)


def client(session: Session) -> BambooHrClient:
    domain = required_extra(session, "company_domain", what="BambooHR's company domain")
    return BambooHrClient(
        session.access.base_url, session.access.credential, domain, **plumbing(session)
    )


async def _check(session: Session) -> Account:
    """Who the key belongs to, and that it may read time off (a key without that permission
    is refused here, at Test Connection, not at every poll). A key of a user who is no
    employee has no employee 0: it is named by its access alone."""
    bamboo = client(session)
    try:
        me = await bamboo.me()
    except NotFoundError:
        me = None
    today = dt.datetime.now(dt.UTC).date()
    await bamboo.time_off_requests(today, today)
    if me is None:
        return Account("0", name="API key without an employee record")
    name = " ".join(n for n in (me.first_name, me.last_name) if n) or None
    return Account(me.id, name=name, email=me.work_email)


PROVIDER = Provider(
    profile=PROFILE,
    check=_check,
    time_off=lambda session: BambooHrTimeOff(client(session)),
)
