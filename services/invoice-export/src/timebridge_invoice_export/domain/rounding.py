"""Rounding of billed time: a versioned policy per client (or for the workspace), applied only
when invoicing.

A policy rounds time *up* to a whole number of minutes (``increment_minutes``: 6 gives tenths
of an hour, 15 quarter hours; 0 bills the exact seconds), either each entry on its own
(``per_entry``: three 5-minute calls at 15 minutes bill 45 minutes) or the line's sum
(``per_line``: the same calls bill 15 minutes). The entries in the ledger, and everything synced,
keep their exact durations: rounding changes only the quantity of an invoice line.

Every change of a policy is a new **version** (1, 2, ...) of the client's (or the workspace's)
policy; old versions are kept. A line records the version that priced it, so an invoice exported
under version 1 still says version 1 after version 2 exists, and an auditor can see which rule
made the quantity. A client's own policy beats the workspace's; neither means exact time.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal

AppliesTo = Literal["per_entry", "per_line"]
WORKSPACE = ""
"""The ``client_id`` of the workspace's policy (the default of clients without their own)."""


@dataclass(frozen=True, slots=True)
class RoundingPolicy:
    workspace_id: str
    client_id: str
    """A client's id, or :data:`WORKSPACE`."""
    version: int
    increment_minutes: int
    applies_to: AppliesTo
    created_at: dt.datetime
    created_by: str

    @property
    def policy_id(self) -> str:
        """The stable name of the policy all versions share (``client:<id>`` or ``workspace``)."""
        return f"client:{self.client_id}" if self.client_id else "workspace"

    def same_rule(self, increment_minutes: int, applies_to: AppliesTo) -> bool:
        return (self.increment_minutes, self.applies_to) == (increment_minutes, applies_to)


@dataclass(frozen=True, slots=True)
class RoundingUsed:
    """What a line records of the policy that rounded it."""

    policy_id: str
    version: int
    increment_minutes: int
    applies_to: AppliesTo

    @classmethod
    def of(cls, policy: RoundingPolicy) -> "RoundingUsed":
        return cls(policy.policy_id, policy.version, policy.increment_minutes, policy.applies_to)


def next_version(
    current: RoundingPolicy | None,
    *,
    workspace_id: str,
    client_id: str,
    increment_minutes: int,
    applies_to: AppliesTo,
    now: dt.datetime,
    admin: str,
) -> RoundingPolicy | None:
    """The new version a change makes (None: the rule is already the current one)."""
    if current is not None and current.same_rule(increment_minutes, applies_to):
        return None
    return RoundingPolicy(
        workspace_id=workspace_id,
        client_id=client_id,
        version=1 if current is None else current.version + 1,
        increment_minutes=increment_minutes,
        applies_to=applies_to,
        created_at=now,
        created_by=admin,
    )


def round_up(seconds: int, increment_minutes: int) -> int:
    """``seconds`` rounded up to whole increments (0: unchanged; 0 s stays 0)."""
    if increment_minutes <= 0 or seconds <= 0:
        return max(seconds, 0)
    step = increment_minutes * 60
    return -(-seconds // step) * step


def billed_seconds(durations: list[int], policy: RoundingUsed | None) -> int:
    """The seconds a line of entries with ``durations`` bills under ``policy``."""
    if policy is None or policy.increment_minutes <= 0:
        return sum(durations)
    if policy.applies_to == "per_entry":
        return sum(round_up(d, policy.increment_minutes) for d in durations)
    return round_up(sum(durations), policy.increment_minutes)
