"""Xero Projects' time per user and project for a period, for reconciliation.

Xero Projects has no summary report by user (a project's ``minutesLogged`` and a task's
``totalMinutes`` are all-time totals), so the summary is Xero's own time listing of the period
(``dateAfterUtc``/``dateBeforeUtc`` at the period's bounds in the organisation's zone), summed.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict

from timebridge_providers.kit.ports.report import SummaryRow
from timebridge_providers.xero_projects.people import Lookups
from timebridge_providers.xero_projects.translate import work_date


class XeroProjectsReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one organisation."""

    def __init__(self, lookups: Lookups) -> None:
        self._lookups = lookups

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        client, zone = self._lookups.client, self._lookups.zone
        local = zoneinfo.ZoneInfo(zone)
        after = dt.datetime.combine(start, dt.time(), tzinfo=local) - dt.timedelta(seconds=1)
        before = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=local)
        seconds: dict[tuple[str, str], int] = defaultdict(int)
        billable: dict[tuple[str, str], int] = defaultdict(int)
        async for project in client.projects():
            async for entry in client.time_entries(project.project_id, after=after, before=before):
                if not start <= work_date(entry.date_utc, zone) <= end:
                    continue
                key = (entry.user_id, entry.project_id)
                seconds[key] += entry.duration * 60
                if await self._lookups.billable(entry.project_id, entry.task_id):
                    billable[key] += entry.duration * 60
        return [
            SummaryRow(user, project, total, billable.get((user, project), 0))
            for (user, project), total in sorted(seconds.items())
        ]
