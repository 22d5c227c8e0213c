"""Zoho Projects' time per user and project for a period, for reconciliation: the time logs'
month views of every project over the period (Zoho's own ``timelogs`` listing, which also
answers its ``grandtotal``), summed per owner and project."""

import datetime as dt
from collections import defaultdict

from timebridge_providers.kit.ports.report import SummaryRow
from timebridge_providers.zoho.client import ZohoClient
from timebridge_providers.zoho.translate import BILLABLE, log_minutes, month_starts


class ZohoReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one portal."""

    def __init__(self, client: ZohoClient) -> None:
        self._client = client

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        seconds: dict[tuple[str, str], int] = defaultdict(int)
        billable: dict[tuple[str, str], int] = defaultdict(int)
        async for project in self._client.projects():
            for month in month_starts(start, end):
                for log in await self._client.logs(project.id, month):
                    if not start <= log.date <= end:
                        continue
                    key = (log.owner_id, project.id)
                    seconds[key] += log_minutes(log) * 60
                    if log.bill_status.strip().lower() == BILLABLE.lower():
                        billable[key] += log_minutes(log) * 60
        return [
            SummaryRow(user, project, total, billable.get((user, project), 0))
            for (user, project), total in sorted(seconds.items())
        ]
