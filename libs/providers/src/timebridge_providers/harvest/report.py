"""Harvest's own time report (``GET /reports/time/team``): hours per user for a period."""

import datetime as dt

from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.translate import seconds_of
from timebridge_providers.kit.ports.report import SummaryRow


class HarvestReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one account."""

    def __init__(self, client: HarvestClient) -> None:
        self._client = client

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        return [
            SummaryRow(
                user_external_id=str(row.user_id),
                project_external_id=None,
                seconds=seconds_of(row.total_hours),
                billable_seconds=seconds_of(row.billable_hours),
            )
            async for row in self._client.time_report("team", start, end)
            if row.user_id is not None
        ]
