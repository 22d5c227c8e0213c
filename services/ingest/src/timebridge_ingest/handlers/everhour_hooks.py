"""Everhour webhook deliveries: the handshake, and each delivery as a hint to re-read.

Everhour does not sign deliveries, so their content is never trusted: the unguessable URL
identifies the integration, and the record is read back through the API with the integration's
key before anything is published. A forged delivery can at most make us re-read a record.
"""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import TimeEntryLogged
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.providers.everhour import handshake_reply, parse_delivery
from timebridge_common.providers.http import NotFoundError, ProviderError
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.everhour_entries import deleted_record_event, record_to_event
from timebridge_ingest.handlers.ports import ConnectionsStore, EverhourFactory
from timebridge_ingest.handlers.webhooks import publish_or_unavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class HookAnswer:
    headers: dict[str, str]
    event: TimeEntryLogged | None = None


@dataclass
class EverhourHooks:
    store: ConnectionsStore
    everhour: EverhourFactory
    publisher: EventPublisher
    clock: Callable[[], dt.datetime]
    publish_timeout_s: float

    async def receive(self, token: str, headers: Mapping[str, str], body: bytes) -> HookAnswer:
        reply = handshake_reply(headers)
        async with self.store.transaction() as tx:
            integration = await tx.integration_by_hook(token)
            pending = reply is not None and await tx.pending_hook_exists(token)
        if reply is not None:
            if integration is None and not pending:
                raise RejectedError(404, "unknown webhook")
            return HookAnswer(headers=reply)
        if integration is None or integration.status != "connected" or not integration.api_key:
            raise RejectedError(404, "unknown webhook")
        try:
            hint = parse_delivery(body).time_record()
        except InvalidMessageError as exc:
            raise RejectedError(422, exc.reason) from exc
        now = self.clock()
        try:
            async with self.everhour(integration.base_url, integration.api_key) as everhour:
                task_id = hint.task.id if hint.task else None
                current = (
                    await everhour.find_time(task_id, hint.date, hint.user) if task_id else None
                )
                if current is None or current.id != hint.id:
                    event = deleted_record_event(
                        workspace_id=integration.workspace_id,
                        integration_id=integration.integration_id,
                        record_id=str(hint.id),
                        user_id=hint.user,
                        task_id=task_id,
                        date=hint.date,
                        observed_at=now,
                        observed_via="webhook",
                    )
                else:
                    task = current.task or await everhour.task(task_id or "")
                    users = {u.id: u for u in await everhour.team_users()}
                    event = record_to_event(
                        workspace_id=integration.workspace_id,
                        integration_id=integration.integration_id,
                        record=current,
                        task=task,
                        user=users.get(current.user),
                        observed_at=now,
                        observed_via="webhook",
                    )
        except NotFoundError as exc:
            raise RejectedError(422, f"Everhour no longer knows the task: {exc}") from exc
        except (ProviderError, TransientError) as exc:
            raise UnavailableError(f"could not re-read the record from Everhour: {exc}") from exc
        await publish_or_unavailable(self.publisher, event, self.publish_timeout_s)
        log.info("everhour delivery accepted", record=hint.id, deleted=event.deleted)
        return HookAnswer(headers={}, event=event)
