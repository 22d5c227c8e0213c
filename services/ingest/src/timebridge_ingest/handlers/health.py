"""Sync health of an integration: what its polls, its webhook and its inbox say.

A poll refused for the credential (a revoked key, an expired token) shows as
``needs_reauthorisation`` with the provider's answer; a webhook the provider disabled and ingest
re-activated shows in the webhook note; records waiting to be re-read, and why, show too.
"""

from dataclasses import dataclass
from typing import Protocol

from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.domain.polling import PollHealth
from timebridge_ingest.handlers.ports import PollingStore


class Backlog(Protocol):
    async def backlog(self, integration_id: str) -> tuple[int, str | None]: ...


@dataclass(frozen=True, slots=True)
class IntegrationHealth:
    integration: Integration
    poll: PollHealth | None
    waiting: int
    delivery_error: str | None


@dataclass
class Health:
    polling: PollingStore
    inbox: Backlog

    async def __call__(self, integration: Integration) -> IntegrationHealth:
        poll = await self.polling.health(integration.integration_id)
        waiting, error = await self.inbox.backlog(integration.integration_id)
        return IntegrationHealth(integration, poll, waiting, error)
