"""Hubstaff's time per user and project for a period, from ``activities/daily`` (the organization's
dates, inclusive): Hubstaff's own daily totals, tracked and billable seconds."""

import datetime as dt
from collections import defaultdict

from timebridge_providers.hubstaff.client import HubstaffClient
from timebridge_providers.kit.ports.report import SummaryRow


class HubstaffReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one organization."""

    def __init__(self, client: HubstaffClient) -> None:
        self._client = client

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        async for activity in self._client.daily(start, end):
            total = totals[(str(activity.user_id), str(activity.project_id))]
            total[0] += max(0, activity.tracked)
            total[1] += max(0, activity.billable)
        return [
            SummaryRow(user, project, seconds, billable)
            for (user, project), (seconds, billable) in sorted(totals.items())
        ]
