"""Keeping the trackers' own summaries (``TrackerSummaryReported``) for reconciliation."""

import asyncpg

from timebridge_common.events import Envelope
from timebridge_common.events.tracker_reports import TrackerSummaryReported
from timebridge_common.runtime import ServiceRuntime
from timebridge_reporting.adapters.facts import PostgresFacts
from timebridge_reporting.adapters.tracker_summaries import PostgresTrackerSummaries


def subscribe(runtime: ServiceRuntime, pool: asyncpg.Pool, facts: PostgresFacts) -> None:
    """Keep the latest summary per integration and period; the workspace's freshness moves on."""
    summaries = PostgresTrackerSummaries(pool)

    async def reported(envelope: Envelope, event: TrackerSummaryReported) -> None:
        await summaries.record(event)
        await facts.seen(envelope)

    runtime.subscribe(TrackerSummaryReported, reported)
