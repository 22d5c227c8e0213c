"""Per-entry facts and the rollup arithmetic that keeps reports fast.

Reports over a month for a big workspace cannot scan every entry, so each entry version adds
itself to a rollup row per (source, user, project, day); a newer version first takes the old one
out, a delete only takes it out. Which version wins is the source's ``updated_at`` (at an equal
stamp, other content: a second edit in the second a tracker stamps): a late poll or a replay of
an older version changes nothing.
"""

import datetime as dt
from dataclasses import dataclass, replace

from timebridge_common.events import TimeEntryLogged


@dataclass(frozen=True, slots=True)
class EntryFact:
    """One entry as reports count it (its latest version)."""

    workspace_id: str
    source: str
    external_id: str
    integration_id: str | None
    user_id: str
    user_email: str | None
    user_name: str | None
    project_id: str
    task_id: str | None
    work_date: dt.date
    seconds: int
    billable: bool
    running: bool
    deleted: bool
    updated_at: dt.datetime

    @property
    def counted(self) -> bool:
        """Deleted entries and running timers are not (yet) time worked."""
        return not self.deleted and not self.running


@dataclass(frozen=True, slots=True)
class RollupKey:
    workspace_id: str
    source: str
    user_id: str
    project_id: str
    work_date: dt.date


@dataclass(frozen=True, slots=True)
class RollupDelta:
    key: RollupKey
    seconds: int
    billable_seconds: int
    entries: int


def fact_of(event: TimeEntryLogged) -> EntryFact:
    entry = event.entry
    running = (
        entry.started_at is not None and entry.ended_at is None and entry.duration_seconds == 0
    )
    return EntryFact(
        workspace_id=event.workspace_id,
        source=event.source,
        external_id=event.external_id,
        integration_id=event.integration_id,
        user_id=entry.user.external_id,
        user_email=entry.user.email,
        user_name=entry.user.name,
        project_id=entry.project_external_id or "",
        task_id=entry.task_external_id,
        work_date=entry.date,
        seconds=entry.duration_seconds,
        billable=entry.billable,
        running=running,
        deleted=event.deleted,
        updated_at=event.updated_at,
    )


def supersedes(new: EntryFact, old: EntryFact | None) -> bool:
    """Whether ``new`` replaces what is held; the same version again (a redelivery) does not."""
    if old is None:
        return True
    if new.updated_at != old.updated_at:
        return new.updated_at > old.updated_at
    if old.deleted:
        return False  # a delete observed at the same instant wins
    # Trackers stamp to the second: other content at the same stamp is a later edit of that
    # second (its own event id; the entry's order is Kafka's). The user's email and name are the
    # directory's, not a new version.
    bare = replace(new, user_email=old.user_email, user_name=old.user_name)
    return new.deleted or bare != old


def _contribution(fact: EntryFact, sign: int) -> RollupDelta:
    key = RollupKey(fact.workspace_id, fact.source, fact.user_id, fact.project_id, fact.work_date)
    billable = fact.seconds if fact.billable else 0
    return RollupDelta(key, sign * fact.seconds, sign * billable, sign)


def rollup_deltas(old: EntryFact | None, new: EntryFact) -> list[RollupDelta]:
    """What replacing ``old`` by ``new`` changes in the rollups (empty if ``new`` is stale)."""
    if not supersedes(new, old):
        return []
    deltas: list[RollupDelta] = []
    if old is not None and old.counted:
        deltas.append(_contribution(old, -1))
    if new.counted:
        deltas.append(_contribution(new, +1))
    merged: dict[RollupKey, RollupDelta] = {}
    for delta in deltas:
        held = merged.get(delta.key)
        merged[delta.key] = (
            delta
            if held is None
            else RollupDelta(
                delta.key,
                held.seconds + delta.seconds,
                held.billable_seconds + delta.billable_seconds,
                held.entries + delta.entries,
            )
        )
    return [d for d in merged.values() if (d.seconds, d.billable_seconds, d.entries) != (0, 0, 0)]
