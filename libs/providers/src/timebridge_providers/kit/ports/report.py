"""The provider's own summary report, for reconciliation with the entries Timebridge holds.

(Owned by the Harvest work; this first cut names the shapes the registry refers to.)
"""

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SummaryRow:
    user_external_id: str
    project_external_id: str | None
    seconds: int


class ProviderReport(Protocol):
    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]: ...
