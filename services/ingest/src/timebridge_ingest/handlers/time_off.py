"""Polling an HR connection's time off and publishing each changed request (``TimeOffRecorded``).

An HR connection is an integration whose provider offers time off and no time entries: it has
no sync direction, no webhook and no mapping; the poller's schedule, cursor, health and access
to the credential are the same as a tracker's (``handlers/polling.py`` hands such a connection
here). Each request is published with an id derived from its content, so a request listed again
by the next poll (the source re-lists a window of days) is the same event downstream, and the
cursor is saved only once every event is in Kafka. A request the event contract cannot carry
(an absurd amount, an over-long email) is logged and skipped: it must not stop the others.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import structlog
from pydantic import ValidationError
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.time_off import TimeOffRequest
from timebridge_providers.kit.session import Access

from timebridge_common.events.time_off import TimeOffRecorded
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.handlers.ports import PollingStore, Sessions
from timebridge_ingest.handlers.webhooks import publish_as

log = structlog.get_logger(__name__)

LOOKBACK = dt.timedelta(days=92)
"""How far back a poll re-lists days: a correction of last quarter's time off is still seen."""


class ConnectionAccess(Protocol):
    async def of(self, integration: Integration) -> Access:
        """The credential and base URL to call the integration's provider with."""
        ...


def is_time_off_source(provider: str) -> bool:
    """An HR source: the provider offers time off and nothing to observe time entries with."""
    if provider not in registry():
        return False
    found = registry().get(provider)
    return found.time_off is not None and found.observe is None


def recorded(
    request: TimeOffRequest, integration: Integration, now: dt.datetime
) -> TimeOffRecorded:
    email = request.email.strip().lower() if request.email else None
    return TimeOffRecorded(
        workspace_id=integration.workspace_id,
        integration_id=integration.integration_id,
        source=integration.provider,
        request_id=request.external_id,
        employee_id=request.employee_id,
        employee_email=email or None,
        employee_name=request.name,
        start=request.start,
        end=request.end,
        status=request.status,
        absence_type=request.type_name,
        unit=request.unit,
        amount=request.amount,
        days=dict(request.days),
        changed_on=request.changed_on,
        observed_at=now,
    )


@dataclass
class TimeOffPolls:
    sessions: Sessions
    polling: PollingStore
    access: ConnectionAccess
    publisher: EventPublisher
    publish_timeout_s: float
    lookback: dt.timedelta = LOOKBACK

    async def poll(self, integration: Integration, now: dt.datetime) -> int:
        """Publish the requests changed since the last poll; how many were published."""
        if integration.status != "connected":
            return 0
        found = registry().get(integration.provider)
        assert found.time_off is not None  # is_time_off_source() chose this connection
        access = await self.access.of(integration)
        source = found.time_off(self.sessions.session(integration.provider, access))
        connection_id = integration.integration_id
        page = await source.changes(
            await self.polling.cursor(connection_id), now=now, lookback=self.lookback
        )
        published = 0
        for request in page.requests:
            try:
                event = recorded(request, integration, now)
            except ValidationError as exc:
                log.warning(
                    "time-off request skipped: not a valid TimeOffRecorded",
                    integration=connection_id,
                    request=request.external_id,
                    error=str(exc)[:500],
                )
                continue
            await publish_as(self.publisher, event, event.recorded_id(), self.publish_timeout_s)
            published += 1
        await self.polling.set_cursor(
            connection_id, page.cursor, workspace_id=integration.workspace_id, now=now
        )
        return published
