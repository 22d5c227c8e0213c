"""The provider's own summary report, for reconciliation with the entries Timebridge holds.

Reporting compares what a tracker says was logged in a period with what Timebridge synced; a
difference points at an entry lost or doubled on the way. Rows are per user, and per project
where the provider's report splits by both (Harvest's team report does not: ``None`` there).
"""

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SummaryRow:
    user_external_id: str
    project_external_id: str | None
    seconds: int
    billable_seconds: int | None = None
    """The billable part, where the provider reports it."""


class ProviderReport(Protocol):
    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        """Time logged per user (and project, if split) on ``start`` to ``end`` inclusive."""
        ...
