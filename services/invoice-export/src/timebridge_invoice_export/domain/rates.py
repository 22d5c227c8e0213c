"""Hourly rates, and which one applies to an hour of work.

Rates are set per project, per user, or per user on one project (as the trackers' guides put
it: "hourly rates are set by project or user"). For an entry of user U on project P the rate
that applies is the first that exists of:

1. U's rate on P (a person billed differently on one project),
2. P's rate (the project bills every hour the same),
3. U's own rate (the person's standard rate, on every project without a project rate).

A project rate beats a user rate: a fixed-rate contract is priced by the project, whoever works
on it. An entry with none of the three has no price: it is listed as a problem and the invoice
cannot be exported until a rate is set (nothing is billed at zero by accident).

Where the rates come from is the admin's choice, per workspace or per client (the client's
beats the workspace's): Timebridge's own rates (the default), or the rates a tracker holds
("hourly rates set in the tracker by project or user"), read through the integration and kept
here in Core's project and user ids. Every invoice line records the source of its rate.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

TIMEBRIDGE = "timebridge"
"""The rate source of Timebridge's own rates."""


def tracker_source(integration_id: str) -> str:
    """The rate source of a tracker integration's rates, as invoice lines record it."""
    return f"tracker:{integration_id}"


@dataclass(frozen=True, slots=True)
class Rate:
    rate_id: str
    project_id: str | None
    user_id: str | None
    hourly_rate: Decimal
    currency: str
    source: str = TIMEBRIDGE
    """:data:`TIMEBRIDGE` or :func:`tracker_source`."""

    @property
    def scope(self) -> str:
        if self.project_id and self.user_id:
            return "project_user"
        return "project" if self.project_id else "user"


def applicable_rate(rates: Iterable[Rate], project_id: str | None, user_id: str) -> Rate | None:
    by_scope: dict[tuple[str | None, str | None], Rate] = {
        (r.project_id, r.user_id): r for r in rates
    }
    if project_id is not None:
        for key in ((project_id, user_id), (project_id, None)):
            if key in by_scope:
                return by_scope[key]
    return by_scope.get((None, user_id))
