"""Fetching a tracker's own summary report for a period and publishing it (reconciliation).

Ingest holds the tracker connections and reads trackers, so it is the one that asks a tracker
for its summary: on an admin's request (HTTP) and for every ``TrackerSummaryRequested`` (a
reconciliation run wants fresh figures). The request goes through the kit's session, so it
draws from this service's share of the credential's request budget like every poll does.
What comes back is published as ``TrackerSummaryReported``: the tracker's figures in its own
ids; reporting compares them with the entries it holds.

A provider without a report capability, or one that refuses the credential, yields a summary
that says why (``unavailable``) rather than nothing, so the report can explain the gap. A
tracker that is down or rate limiting raises: the request event is retried until it answers.
"""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.report import ProviderReport
from timebridge_providers.kit.session import Access

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import Envelope
from timebridge_common.events.tracker_reports import (
    TrackerSummaryLine,
    TrackerSummaryReported,
    TrackerSummaryRequested,
    reported_id,
)
from timebridge_common.kafka.publisher import EventPublisher, publish_acknowledged
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.handlers.ports import ConnectionsStore, Sessions

log = structlog.get_logger(__name__)

MAX_PERIOD_DAYS = 366
"""The longest period one summary covers (a year): trackers cap their report ranges too."""


def check_period(start: dt.date, end: dt.date) -> str | None:
    """Why a period cannot be asked for (``None``: it can)."""
    if end < start:
        return "the period ends before it starts"
    if (end - start).days >= MAX_PERIOD_DAYS:
        return f"a summary covers at most {MAX_PERIOD_DAYS} days"
    return None


CredentialOf = Callable[[Integration], Awaitable[str | None]]
"""The current credential of a connection (``None``: it has none: disconnected)."""


async def stored_key(integration: Integration) -> str | None:
    return integration.api_key


OpenReport = Callable[[str, Access], ProviderReport | None]
"""(provider, the connection's access) -> its report capability (``None``: it offers none)."""


def report_opener(sessions: Sessions) -> OpenReport:
    """The production :data:`OpenReport`: the registry's capability on a kit session (this
    service's share of the credential's budget)."""

    def open_report(provider: str, access: Access) -> ProviderReport | None:
        found = registry().get(provider)
        return None if found.report is None else found.report(sessions.session(provider, access))

    return open_report


def _title(provider: str) -> str:
    return registry().get(provider).profile.title if provider in registry() else provider


@dataclass
class TrackerSummaries:
    store: ConnectionsStore
    open_report: OpenReport
    publisher: EventPublisher
    clock: Callable[[], dt.datetime]
    publish_timeout_s: float
    credential_of: CredentialOf = stored_key
    trackers: frozenset[str] = frozenset()
    """The tracker providers (empty: the registry's; tests name their fakes)."""

    async def _trackers(self, workspace_id: str, integration_id: str | None) -> list[Integration]:
        trackers = self.trackers or registry().names("tracker")
        async with self.store.transaction() as tx:
            found = await tx.integrations(workspace_id)
        return [
            i
            for i in found
            if i.provider in trackers
            and i.status == "connected"
            and integration_id in {None, i.integration_id}
        ]

    async def fetch(
        self, integration: Integration, start: dt.date, end: dt.date, cause: str
    ) -> TrackerSummaryReported:
        """The tracker's summary, or one saying why there is none. Transient failures raise."""
        title = _title(integration.provider)
        fetched_at = self.clock()

        def summary(
            lines: tuple[TrackerSummaryLine, ...] = (), unavailable: str | None = None
        ) -> TrackerSummaryReported:
            return TrackerSummaryReported(
                workspace_id=integration.workspace_id,
                integration_id=integration.integration_id,
                provider=integration.provider,
                period_start=start,
                period_end=end,
                lines=lines,
                unavailable=unavailable,
                cause=cause,
                fetched_at=fetched_at,
            )

        credential = await self.credential_of(integration)
        if credential is None:
            return summary(unavailable="the connection has no credential (disconnected)")
        access = Access(integration.base_url, credential, dict(integration.extra))
        report = self.open_report(integration.provider, access)
        if report is None:
            return summary(unavailable=f"{title} offers no summary report")
        try:
            rows = await report.summary(start, end)
        except AuthenticationError as exc:
            return summary(unavailable=f"{title} refused the credential: {exc}")
        except ProviderError as exc:  # a 4xx: asking again will not help
            return summary(unavailable=f"{title} refused the report: {exc}")
        lines = tuple(
            TrackerSummaryLine(
                user_external_id=r.user_external_id,
                project_external_id=r.project_external_id,
                seconds=r.seconds,
                billable_seconds=r.billable_seconds,
            )
            for r in rows
        )
        return summary(lines)

    async def _publish(
        self, event: TrackerSummaryReported, event_id: uuid.UUID | None, cause: Envelope | None
    ) -> None:
        envelope = self.publisher.envelope(event, event_id=event_id, cause=cause)
        await publish_acknowledged(self.publisher, [(event, envelope)], self.publish_timeout_s)

    async def on_demand(
        self, workspace_id: str, integration_id: str, start: dt.date, end: dt.date
    ) -> TrackerSummaryReported | None:
        """Fetch and publish one integration's summary now (``None``: no such tracker here)."""
        found = await self._trackers(workspace_id, integration_id)
        if not found:
            return None
        event = await self.fetch(found[0], start, end, "manual")
        await self._publish(event, None, None)
        return event

    async def on_requested(self, envelope: Envelope, event: TrackerSummaryRequested) -> None:
        """Answer a request for every tracker it names; a redelivery republishes the same ids."""
        if why := check_period(event.period_start, event.period_end):
            raise InvalidMessageError(why)
        for integration in await self._trackers(event.workspace_id, event.integration_id):
            summary = await self.fetch(
                integration, event.period_start, event.period_end, event.cause
            )
            event_id = reported_id(envelope.event_id, integration.integration_id)
            await self._publish(summary, event_id, envelope)
            log.info(
                "tracker summary reported",
                integration_id=integration.integration_id,
                lines=len(summary.lines),
                unavailable=summary.unavailable,
            )
