"""An in-memory :class:`~timebridge_providers.kit.ports.report.ProviderReport`: a provider's
summary from the entries a test gives it, summed per user (and project, when split)."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from timebridge_providers.kit.ports.report import SummaryRow


@dataclass(frozen=True, slots=True)
class LoggedTime:
    user_external_id: str
    project_external_id: str | None
    date: dt.date
    seconds: int
    billable: bool = True


@dataclass
class FakeReport:
    """Sums :attr:`logged` like a provider's time report; ``by_project`` splits rows by project
    (Harvest's team report does not)."""

    logged: list[LoggedTime] = field(default_factory=list)
    by_project: bool = False
    calls: list[tuple[dt.date, dt.date]] = field(default_factory=list)

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        self.calls.append((start, end))
        totals: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
        for item in self.logged:
            if start <= item.date <= end:
                key = (item.user_external_id, item.project_external_id if self.by_project else None)
                totals[key][0] += item.seconds
                totals[key][1] += item.seconds if item.billable else 0
        return [
            SummaryRow(user, project, seconds, billable)
            for (user, project), (seconds, billable) in sorted(
                totals.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
            )
        ]
