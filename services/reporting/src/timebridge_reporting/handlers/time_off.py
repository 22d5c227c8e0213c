"""Keeping HR time off (``TimeOffRecorded``) for the utilization report's capacity."""

import asyncpg

from timebridge_common.events import Envelope
from timebridge_common.events.time_off import TimeOffRecorded
from timebridge_common.runtime import ServiceRuntime
from timebridge_reporting.adapters.facts import PostgresFacts
from timebridge_reporting.adapters.time_off import PostgresTimeOff


def subscribe(runtime: ServiceRuntime, pool: asyncpg.Pool, facts: PostgresFacts) -> None:
    """Keep each request's latest state (its days while approved); freshness moves on."""
    time_off = PostgresTimeOff(pool)

    async def recorded(envelope: Envelope, event: TimeOffRecorded) -> None:
        await time_off.record(event)
        await facts.seen(envelope)

    runtime.subscribe(TimeOffRecorded, recorded)
