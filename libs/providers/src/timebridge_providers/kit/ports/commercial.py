"""The home system's commercial records read by polling: contracts, as the events ingest
publishes (``ContractObserved``).

The home system also announces them by signed webhook; polling is the fallback that catches a
delivery that never arrived. A contract is returned in full each time it changed: the contracts
service applies it by source, id and ``updated_at``, so one seen again changes nothing.
"""

import datetime as dt
from typing import Protocol

from timebridge_common.events.contracts import ContractObserved


class CommercialSource(Protocol):
    """One workspace's contracts in the home system, through a session with its service token."""

    async def contracts_changed(
        self, workspace_id: str, since: dt.datetime | None
    ) -> list[ContractObserved]:
        """Contracts changed at or after ``since`` (``None``: all), oldest change first, as
        ``ContractObserved`` with ``observed_via="poll"``; one the event cannot carry is left
        out (and logged)."""
        ...
