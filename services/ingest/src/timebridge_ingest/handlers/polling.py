"""Polling Core and trackers on each integration's schedule (and as a safety net).

Every observation is published with its observation id, so a change seen by a webhook and again
by a poll, or twice by polls after a crash, is one event downstream. State is saved only after
the events are in Kafka: a crash in between makes the next poll publish them again, harmlessly.
"""

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from timebridge_providers.everhour.client import Task

from timebridge_common.errors import TransientError
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.outbound.http import ProviderError
from timebridge_ingest.adapters.postgres import PostgresPolling
from timebridge_ingest.domain.connections import Integration, listens_to_tracker
from timebridge_ingest.domain.core_webhook import entry_to_event
from timebridge_ingest.domain.everhour_entries import deleted_record_event, record_to_event
from timebridge_ingest.domain.polling import SAFETY_NET, diff_window, poll_interval
from timebridge_ingest.handlers.ports import ConnectionsStore, CoreFactory, EverhourFactory
from timebridge_ingest.handlers.webhooks import publish_or_unavailable

log = structlog.get_logger(__name__)

LEASE = dt.timedelta(minutes=10)
RETRY = dt.timedelta(minutes=1)


@dataclass
class Poller:
    connections: ConnectionsStore
    polling: PostgresPolling
    everhour: EverhourFactory
    core: CoreFactory
    publisher: EventPublisher
    clock: Callable[[], dt.datetime]
    publish_timeout_s: float
    lookback_days: int = 31
    tick_s: float = 15.0

    async def run(self) -> None:
        while True:
            try:
                await self.poll_due()
            except Exception:
                log.exception("poll round failed")
            await asyncio.sleep(self.tick_s)

    async def poll_due(self) -> list[str]:
        now = self.clock()
        await self.polling.sync_schedules(now)
        polled = await self.polling.claim_due(now, LEASE)
        for connection_id in polled:
            await self.poll_one(connection_id)
        return polled

    async def poll_one(self, connection_id: str) -> None:
        now = self.clock()
        try:
            interval = await self._poll(connection_id, now)
        except (ProviderError, TransientError, UnavailableError) as exc:
            wait = RETRY
            if isinstance(exc, TransientError) and exc.retry_after:
                wait = max(wait, dt.timedelta(seconds=exc.retry_after))
            log.warning("poll failed", connection=connection_id, error=str(exc))
            await self.polling.done(connection_id, next_at=now + wait, now=now, error=str(exc))
            return
        await self.polling.done(connection_id, next_at=now + interval, now=now, error=None)

    async def _poll(self, connection_id: str, now: dt.datetime) -> dt.timedelta:
        async with self.connections.transaction() as tx:
            integration = await tx.integration(connection_id)
            if integration is not None:
                await self.poll_everhour(integration, now)
                return poll_interval(integration.settings)
            workspace_id = connection_id.removeprefix("core_")
            integrations = await tx.integrations(workspace_id)
        await self.poll_core(workspace_id, now)
        live = [i for i in integrations if i.status == "connected"]
        return min((poll_interval(i.settings) for i in live), default=SAFETY_NET)

    async def poll_core(self, workspace_id: str, now: dt.datetime) -> int:
        async with self.connections.transaction() as tx:
            workspace = await tx.workspace(workspace_id)
        if workspace is None:
            return 0
        connection_id = f"core_{workspace_id}"
        cursor = await self.polling.cursor(connection_id)
        since = dt.datetime.fromisoformat(cursor) if cursor else now - dt.timedelta(days=1)
        newest = since
        count = 0
        async with self.core(workspace.core_base_url, workspace.core_token) as core:
            async for entry in core.time_entries(updated_since=since, include_deleted=True):
                event = entry_to_event(workspace_id, entry, deleted=False, observed_via="poll")
                await publish_or_unavailable(self.publisher, event, self.publish_timeout_s)
                newest = max(newest, entry.updated_at)
                count += 1
        await self.polling.set_cursor(connection_id, newest.isoformat())
        return count

    async def poll_everhour(self, integration: Integration, now: dt.datetime) -> int:
        if integration.status != "connected" or integration.api_key is None:
            return 0
        if not listens_to_tracker(integration.settings):
            return 0  # one-way Core -> tracker: the tracker's changes are never taken
        start = now.date() - dt.timedelta(days=self.lookback_days)
        end = now.date() + dt.timedelta(days=1)
        previous = await self.polling.seen(integration.integration_id)
        ids = {
            "workspace_id": integration.workspace_id,
            "integration_id": integration.integration_id,
        }
        async with self.everhour(integration.base_url, integration.api_key) as everhour:
            records = [r async for r in everhour.team_time(start, end)]
            diff = diff_window(previous, records, start, end)
            users = {u.id: u for u in await everhour.team_users()} if diff.changed else {}
            tasks: dict[str, Task] = {}
            for record in diff.changed:
                task = record.task
                if task is None or not task.projects:
                    task_id = task.id if task else None
                    if task_id is None:
                        continue
                    if task_id not in tasks:
                        tasks[task_id] = await everhour.task(task_id)
                    task = tasks[task_id]
                event = record_to_event(
                    record=record,
                    task=task,
                    user=users.get(record.user),
                    observed_at=now,
                    observed_via="poll",
                    **ids,
                )
                await publish_or_unavailable(self.publisher, event, self.publish_timeout_s)
        for record_id in diff.deleted:
            gone = previous[record_id]
            event = deleted_record_event(
                record_id=record_id,
                user_id=gone.user_id,
                task_id=gone.task_id,
                date=gone.date,
                observed_at=now,
                observed_via="poll",
                **ids,
            )
            await publish_or_unavailable(self.publisher, event, self.publish_timeout_s)
        await self.polling.replace_seen(integration.integration_id, diff.now_seen)
        return len(diff.changed) + len(diff.deleted)
