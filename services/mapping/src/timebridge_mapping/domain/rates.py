"""A tracker's hourly rates in Core's terms, for billing that takes its rates from the tracker.

The tracker sets rates on its own projects and members; invoices price Core entries, so each
rate is translated through the integration's project mappings and user mappings. A rate on a
project or member that is not mapped prices nothing in Core: it is listed as left out, with why,
rather than dropped silently. Cost rates are not billing rates and are left out too.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from timebridge_providers.kit.ports.directory import Rate

from timebridge_mapping.domain.mappings import ProjectMapping
from timebridge_mapping.domain.users import UserPair


@dataclass(frozen=True, slots=True)
class CoreRate:
    """A tracker's billing rate on a Core project, a Core user, or a user on a project."""

    project_id: str | None
    user_id: str | None
    hourly_rate: Decimal
    scope: str


@dataclass(frozen=True, slots=True)
class CoreRates:
    rates: tuple[CoreRate, ...]
    left_out: tuple[str, ...]
    """Why each tracker rate that prices nothing in Core was left out."""


def in_core_terms(
    rates: Iterable[Rate], projects: Iterable[ProjectMapping], users: Iterable[UserPair]
) -> CoreRates:
    core_project = {m.tracker_project_id: m.core_project_id for m in projects}
    core_user = {p.tracker.id: p.core.id for p in users}
    kept: list[CoreRate] = []
    left_out: list[str] = []
    for rate in rates:
        what = f"{rate.scope} rate {rate.amount}/h"
        if rate.kind != "billing":
            left_out.append(f"{what}: a cost rate, not a billing rate")
            continue
        project = None if rate.project_id is None else core_project.get(rate.project_id)
        user = None if rate.user_id is None else core_user.get(rate.user_id)
        if rate.project_id is not None and project is None:
            left_out.append(f"{what}: tracker project {rate.project_id} maps to no Core project")
            continue
        if rate.user_id is not None and user is None:
            left_out.append(f"{what}: tracker user {rate.user_id} maps to no Core user")
            continue
        kept.append(CoreRate(project, user, rate.amount, rate.scope))
    return CoreRates(tuple(kept), tuple(left_out))
