"""A provider described as data: what domain code branches on instead of a provider's name.

Airbyte's declarative manifests and dlt's ``rest_api`` describe a source once (auth, paging,
cursors) and let code read the description; a profile is that description for Timebridge's
decisions: how a provider keeps time, which fields it holds and can write, what it locks, how
fast it may be called.
"""

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["home", "tracker", "accounting", "hr"]
"""``home``: the customer's own work system (Core), the identity authority and the hub every
tracker syncs with; ``tracker``: a time tracker; ``accounting``: an invoicing tool; ``hr``: an HR
system (time off; no time entries)."""

Granularity = Literal["entry", "task_user_day"]
"""``entry``: one record per time entry (Core, Harvest, Toggl, ...); ``task_user_day``: one record
per task, user and date that sums every entry landing in it (Everhour)."""

Billable = Literal["entry", "task", "project", "none"]
"""Where the provider keeps "billable": per entry, per task, per project, or not at all."""

Auth = Literal["api_key", "token", "oauth2"]

ALL_FIELDS = frozenset(
    {
        "user",
        "project_external_id",
        "task_external_id",
        "date",
        "started_at",
        "duration_seconds",
        "notes",
        "billable",
        "timezone",
    }
)
"""Every field of ``TimeEntryFields`` a provider may keep."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The provider's documented limit per credential, and each service's share of it.

    ``shares`` maps a service name to the requests per window it may send; the shares sum to at
    most ``requests`` so every caller together stays under the provider's limit.
    """

    requests: int
    window_s: float
    shares: dict[str, int] = field(default_factory=dict)
    more: tuple[tuple[int, float], ...] = ()
    """Further limits per credential (requests, seconds) that hold as well, not split between
    services (Toggl's leaky bucket under its hourly quota); the client's ``Wire`` paces by them."""


@dataclass(frozen=True, slots=True)
class Profile:
    """How one provider keeps time and what its API allows."""

    name: str
    """The registry key, lower case (``everhour``); also the ``source`` of its events."""
    title: str
    """For people (``Everhour``)."""
    kind: Kind
    rate_limit: RateLimit
    auth: Auth = "api_key"
    granularity: Granularity = "entry"
    kept_fields: frozenset[str] = ALL_FIELDS
    """The fields a record of this provider holds: two states are the same record when these
    are equal (Everhour keeps no start time, time zone or per-record billable flag)."""
    observed_fields: frozenset[str] = ALL_FIELDS
    """The fields an entry observed here really carries: an update from this provider sets only
    these on the other side (an Everhour record has no start time, so a Core entry updated from
    it keeps its own ``started_at``, ``ended_at`` and ``timezone``)."""
    writable_fields: frozenset[str] = ALL_FIELDS
    """The fields a write can set; a change of another field is reported, not written."""
    requires_task: bool = False
    """A record cannot exist without a task (Everhour's records hang off tasks)."""
    billable: Billable = "entry"
    writable: bool = True
    """Entries can be created, updated and deleted (two-way sync); otherwise only observed."""
    not_writable_reason: str = ""
    """Why entries cannot be written, for the integration API when ``writable`` is false."""
    webhooks: bool = False
    """Changes are pushed (webhooks); otherwise the provider is polled at the frequency set."""
    webhooks_miss: str | None = None
    """What the webhooks do not report (Hubstaff: manual time, deletions): a real-time connection
    is then polled as often as one without webhooks, not only as a safety net."""
    units: str = "seconds"
    """The unit of a duration on the wire (``seconds``, ``decimal hours``, ``HH:MM``, ...)."""
    pagination: str = ""
    """How lists are paged (``page/limit``, ``links.next``, ``cursor``), for the matrix."""
    lists_records: bool = False
    """The records of many slots are read by one listing (its entry store is a
    ``kit.writes.Lists``): a batch's writers share their look-ups and read-backs."""
    locks: str = ""
    """What the provider locks (invoiced or approved time, closed periods), for the matrix."""
    deletes: str = "hard"
    """How a deletion is seen: ``hard`` (gone), ``soft`` (a deleted flag), ``zero`` (no time)."""
    default_base_url: str = ""
    docs_url: str = ""
    cursor: str = ""
    """How changes are asked for incrementally (``updated_since``, ``since``, a re-listed window)
    and how deletions are seen."""
    report: str = ""
    """The provider's own summary endpoint used for reconciliation, if any."""
    differs_from_seeds: str = ""
    """What the seed documents name that the provider's API no longer is (retired or moved)."""
    connection_fields: dict[str, str] = field(default_factory=dict)
    """What else an admin enters to connect, besides the base URL and the credential: the key it
    travels under in ``Access.extra`` -> its label (Harvest's ``account_id``: "Account ID").
    Not secret; kept with the connection and handed to every session."""

    def keeps(self, name: str) -> bool:
        return name in self.kept_fields
