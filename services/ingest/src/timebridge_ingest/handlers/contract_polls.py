"""Polling the home system's contracts: the fallback to its signed contract webhooks.

Run with each poll of the home system (``handlers/polling.py``), with the same access. It asks
for the contracts changed since that poll last succeeded, less an overlap for the two clocks, so
a contract whose webhook never arrived is published at the next poll. Each contract is published
with an id derived from its content (``fact_id``): one listed again (the overlap) is the same
event downstream, and the contracts service applies a contract by its ``updated_at`` anyway, so
the webhook and the poll of one version change it once.

A refusal (the home system's token may not read contracts: 403) is logged and skipped: the time
entries were polled, and must not be reported failing for it. Transient failures propagate: the
whole poll is retried.
"""

import datetime as dt
from dataclasses import dataclass

import structlog
from timebridge_providers.installed import registry
from timebridge_providers.kit.session import Access

from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_ingest.handlers.ports import PollingStore, Sessions
from timebridge_ingest.handlers.webhooks import fact_id, publish_as

log = structlog.get_logger(__name__)

OVERLAP = dt.timedelta(hours=1)
"""How far before the last successful poll a poll asks from (the home system's clock may differ
from ours); contracts listed again are the same events."""


@dataclass
class ContractPolls:
    sessions: Sessions
    polling: PollingStore
    publisher: EventPublisher
    publish_timeout_s: float
    overlap: dt.timedelta = OVERLAP

    async def poll(self, workspace_id: str, access: Access) -> int:
        """Publish the contracts changed since the last good poll; how many were published."""
        home = registry().home()
        if home.commercial is None:
            return 0
        health = await self.polling.health(f"core_{workspace_id}")
        last_ok = None if health is None else health.last_ok_at
        since = None if last_ok is None else last_ok - self.overlap
        source = home.commercial(self.sessions.session(home.name, access))
        try:
            contracts = await source.contracts_changed(workspace_id, since)
        except ProviderError as exc:
            if isinstance(exc, AuthenticationError) and exc.status == 401:
                raise  # the credential itself is refused: the connection's health says so
            log.warning("contracts not polled", workspace=workspace_id, error=str(exc)[:500])
            return 0
        for contract in contracts:
            await publish_as(self.publisher, contract, fact_id(contract), self.publish_timeout_s)
        return len(contracts)
