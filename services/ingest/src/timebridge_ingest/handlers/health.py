"""Sync health of an integration: what its polls, its webhook and its inbox say.

A poll refused for the credential (a revoked key, an expired token) shows as
``needs_reauthorisation`` with the provider's answer; a webhook the provider disabled and ingest
re-activated shows in the webhook note; records waiting to be re-read, and why, show too.
"""

from dataclasses import dataclass

from timebridge_ingest.adapters.inbox import PostgresDeliveryInbox
from timebridge_ingest.adapters.postgres import PostgresPolling
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.domain.polling import PollHealth


@dataclass(frozen=True, slots=True)
class IntegrationHealth:
    integration: Integration
    poll: PollHealth | None
    waiting: int
    delivery_error: str | None


@dataclass
class Health:
    polling: PostgresPolling
    inbox: PostgresDeliveryInbox

    async def __call__(self, integration: Integration) -> IntegrationHealth:
        poll = await self.polling.health(integration.integration_id)
        waiting, error = await self.inbox.backlog(integration.integration_id)
        return IntegrationHealth(integration, poll, waiting, error)
