"""Wrike's totals for a period, for reconciliation: the timelogs Wrike lists by ``trackedDate``,
summed per user.

The seeds' ``GET /api/v4/reports`` is not used: Wrike's report resources describe reports built
in its UI, not time totals one can ask for a period (not verified further), so Wrike's own listing
of the period is the provider's word here. Rows are per user only (a timelog names a task, not a
project); the billable part is the ``Billable`` timelogs' time.
"""

import datetime as dt
from collections import defaultdict

from timebridge_providers.kit.ports.report import SummaryRow
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.translate import BILLABLE, seconds_of


class WrikeReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one account."""

    def __init__(self, client: WrikeClient) -> None:
        self._client = client

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        spent: dict[str, int] = defaultdict(int)
        billable: dict[str, int] = defaultdict(int)
        for timelog in await self._client.tracked(start, end):
            seconds = seconds_of(timelog.hours)
            spent[timelog.userId] += seconds
            billable[timelog.userId] += seconds if timelog.billingType == BILLABLE else 0
        return [SummaryRow(user, None, spent[user], billable[user]) for user in sorted(spent)]
