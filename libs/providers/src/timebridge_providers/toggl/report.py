"""Toggl's summary report (Reports API v3, ``POST .../summary/time_entries``): seconds per user
and project for a period."""

import datetime as dt

from timebridge_providers.kit.ports.report import SummaryRow
from timebridge_providers.toggl.client import TogglClient


class TogglReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one workspace."""

    def __init__(self, client: TogglClient) -> None:
        self._client = client

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        rows: list[SummaryRow] = []
        for group in (await self._client.summary(start, end)).groups or ():
            if group.id is None:
                continue
            for sub in group.sub_groups or ():
                project = None if sub.id is None else str(sub.id)
                rows.append(SummaryRow(str(group.id), project, sub.seconds))
        return rows
