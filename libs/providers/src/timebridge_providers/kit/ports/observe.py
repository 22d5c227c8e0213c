"""Observing changes: incremental polling with a cursor that also sees deletions, and webhooks.

(Owned by the ingest move; this first cut names the shapes the registry refers to.)
"""

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from timebridge_common.events import TimeEntryFields


@dataclass(frozen=True, slots=True)
class Change:
    """One entry as the provider has it now; ``deleted`` once it is gone."""

    external_id: str
    fields: TimeEntryFields
    updated_at: dt.datetime
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ChangePage:
    """Changes since a cursor, and the cursor to ask from next time."""

    changes: list[Change]
    cursor: str


class Observer(Protocol):
    """A provider's changes, read incrementally."""

    async def changes(self, cursor: str | None, *, now: dt.datetime) -> ChangePage: ...
