"""Sync health of an integration: what its polls, its webhook and its inbox say.

A poll refused for the credential (a revoked key, an expired token) shows as
``needs_reauthorisation`` with the provider's answer; a webhook the provider disabled and ingest
re-activated shows in the webhook note; records waiting to be re-read, and why, show too.
Each change of that state is also published (``ConnectionHealthChanged``) for the sync log.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol, cast

import structlog
from timebridge_providers.installed import registry

from timebridge_common.events.health import ConnectionHealthChanged
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound.http import ProviderError
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.domain.polling import (
    PollHealth,
    health_changed,
    health_event_id,
    state_after,
    state_before,
)
from timebridge_ingest.handlers.ports import ConnectionsStore, PollingStore

log = structlog.get_logger(__name__)


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


@dataclass
class HealthChanges:
    """Publishes :class:`ConnectionHealthChanged` through the outbox when a poll changes the
    connection's state (ok, failing, needs re-authorisation), so reporting's sync log shows
    "the tracker rejected the API key at 10:02" next to the entries' outcomes.

    Called before the poll's outcome is recorded: a crash in between finds the same previous
    state on the next poll, which yields the same event id (stored once downstream).
    """

    connections: ConnectionsStore
    publisher: EventPublisher

    async def after_poll(
        self,
        connection_id: str,
        before: PollHealth | None,
        now: dt.datetime,
        *,
        error_kind: str | None,
        error: str | None,
        cause: Exception | None = None,
    ) -> ConnectionHealthChanged | None:
        """The event published, if the state changed."""
        previous, state = state_before(before), state_after(error_kind)
        if not health_changed(previous, state):
            return None
        async with self.connections.transaction() as tx:
            integration = await tx.integration(connection_id)
            if integration is None and not connection_id.startswith("core_"):
                return None  # removed meanwhile: nothing left to be healthy
            event = ConnectionHealthChanged(
                workspace_id=(
                    integration.workspace_id if integration else connection_id.removeprefix("core_")
                ),
                connection_id=connection_id,
                integration_id=integration.integration_id if integration else None,
                provider=integration.provider if integration else registry().home().name,
                state=state,
                previous_state=previous,
                error_class=_error_class(error_kind),
                message=None if error is None else error[:2000],
                provider_response=_answer(cause),
                failures=0 if error is None else (before.failures if before else 0) + 1,
                changed_at=now,
            )
            event_id = health_event_id(connection_id, before, state)
            await tx.publish([(event, self.publisher.envelope(event, event_id=event_id))])
        log.info("connection health changed", connection=connection_id, state=state)
        return event


def _error_class(kind: str | None) -> Literal["authentication", "refused", "unavailable"] | None:
    if kind in ("authentication", "refused", "unavailable"):
        return cast(Literal["authentication", "refused", "unavailable"], kind)
    return None


def _answer(cause: Exception | None) -> str | None:
    """The provider's own answer (status and body), when it gave one."""
    if not isinstance(cause, ProviderError):
        return None
    return f"{cause.status} {cause.body}"[:4000]
