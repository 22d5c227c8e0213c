"""Tempo's totals for a period, for reconciliation: the worklogs Tempo lists by date (``GET
/4/worklogs?from&to``), summed per author.

Tempo Cloud has no report API (the seeds' ``/rest/tempo-reports/4`` is the Server/Data Center
plugin's; Cloud's reports live in its UI), so its own listing of the period is the provider's
word here. Rows are per user only (a worklog names an issue, not a project); the billable part is
``billableSeconds``.
"""

import datetime as dt
from collections import defaultdict

from timebridge_providers.kit.ports.report import SummaryRow
from timebridge_providers.tempo.client import TempoClient


class TempoReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one connection."""

    def __init__(self, client: TempoClient) -> None:
        self._client = client

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        spent: dict[str, int] = defaultdict(int)
        billable: dict[str, int] = defaultdict(int)
        async for worklog in self._client.dated(start, end):
            spent[worklog.author.accountId] += worklog.timeSpentSeconds
            billable[worklog.author.accountId] += worklog.billableSeconds or 0
        return [SummaryRow(user, None, spent[user], billable[user]) for user in sorted(spent)]
