"""ClickUp's time per user and List for a period. API v2 has no summary-report endpoint (the
Timesheets and Time Reporting views are UI only), so the summary is summed from ClickUp's own
time-entry listing of every member, each entry on its work date in its user's zone."""

import datetime as dt
from collections import defaultdict

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.translate import entry_fields, ms_of
from timebridge_providers.clickup.zones import Zones
from timebridge_providers.kit.ports.report import SummaryRow


class ClickUpReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one workspace."""

    def __init__(self, client: ClickUpClient) -> None:
        self._client = client
        self._zones = Zones(client)

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        # a day either side: an entry's work date is in its user's zone, not UTC's
        low = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), dt.UTC)
        high = dt.datetime.combine(end + dt.timedelta(days=2), dt.time(), dt.UTC)
        members = await self._zones.member_ids()
        try:
            entries = await self._client.time_entries(ms_of(low), ms_of(high), members)
        except AuthenticationError:
            entries = await self._client.time_entries(ms_of(low), ms_of(high))
        totals: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
        for entry in entries:
            if entry.running:
                continue
            fields = entry_fields(entry, await self._zones.of(entry.user.id))
            if not start <= fields.date <= end:
                continue
            total = totals[(fields.user.external_id, fields.project_external_id)]
            total[0] += fields.duration_seconds
            total[1] += fields.duration_seconds if fields.billable else 0
        return [
            SummaryRow(user, project, seconds, billable)
            for (user, project), (seconds, billable) in sorted(
                totals.items(), key=lambda item: (item[0][0], item[0][1] or "")
            )
        ]
