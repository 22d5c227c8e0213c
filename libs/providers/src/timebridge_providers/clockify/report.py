"""Clockify's summary report (``POST`` on the reports host): per user, seconds per project.

The report's groups (CLIENT, PROJECT, TASK, DATE, ...) have no user level, so it is asked once per
workspace member (``users`` filter), or for the key's own user when it may not list members.
"""

import datetime as dt

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.kit.ports.report import SummaryRow


class ClockifyReport:
    """The :class:`~timebridge_providers.kit.ports.report.ProviderReport` of one workspace."""

    def __init__(self, client: ClockifyClient) -> None:
        self._client = client

    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        try:
            users = [u.id async for u in self._client.users()]
        except AuthenticationError:
            users = [(await self._client.me()).id]
        rows: list[SummaryRow] = []
        for user in users:
            for project in (await self._client.summary(start, end, user)).group_one or ():
                rows.append(SummaryRow(user, project.id or None, round(project.duration)))
        return rows
