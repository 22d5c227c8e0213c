"""QuickBooks Time's totals for a period, for reconciliation: ``POST /reports/project`` with the
period's dates, its ``totals.users`` (seconds per user). Rows are per user only; the report does
not split billable time (billable belongs to jobcodes)."""

import datetime as dt

from timebridge_providers.kit.ports.report import SummaryRow
from timebridge_providers.quickbooks_time.client import QuickBooksTimeClient


class QuickBooksTimeReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one connection."""

    def __init__(self, client: QuickBooksTimeClient) -> None:
        self._client = client

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        totals = await self._client.project_report(start.isoformat(), end.isoformat())
        return [SummaryRow(user, None, round(totals[user])) for user in sorted(totals)]
