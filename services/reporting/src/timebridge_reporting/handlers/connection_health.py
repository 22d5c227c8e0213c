"""Projecting connections' health changes into the sync log, each change exactly once."""

from typing import Protocol

from timebridge_common.events import Envelope
from timebridge_common.events.health import ConnectionHealthChanged

HEALTH_CONSUMER = "reporting.connection-health-changed"


class HealthLog(Protocol):
    async def record(
        self, consumer: str, envelope: Envelope, event: ConnectionHealthChanged
    ) -> bool: ...


async def on_connection_health_changed(
    log: HealthLog, envelope: Envelope, event: ConnectionHealthChanged
) -> bool:
    return await log.record(HEALTH_CONSUMER, envelope, event)
