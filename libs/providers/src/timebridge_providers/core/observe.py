"""Observing Core: ``updated_since`` polls (deletions included) and signed webhooks.

Core's list of entries takes ``updated_since`` and ``include_deleted``, so the cursor is the newest
``updated_at`` seen; a first poll looks back one day (older history is not re-published).
"""

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.core.client import CoreClient, TimeEntry
from timebridge_providers.core.commercial import commercial_event
from timebridge_providers.core.translate import entry_fields
from timebridge_providers.core.webhooks import (
    SIGNATURE_HEADER,
    CoreTimeEntryWebhook,
    parse_webhook,
    verify_signature,
)
from timebridge_providers.kit.ports.observe import Change, ChangePage, Delivery, Hint, HookAdmin

FIRST_POLL = dt.timedelta(days=1)


def entry_change(entry: TimeEntry, *, deleted: bool = False) -> Change:
    return Change(
        external_id=entry.id,
        fields=entry_fields(entry),
        updated_at=entry.updated_at,
        deleted=deleted or entry.deleted_at is not None,
    )


class CoreObserver:
    """One Core workspace's entries."""

    hooks: HookAdmin | None = None
    """Core's webhooks are configured in Core (a signing secret per workspace), not per call."""

    def __init__(self, client: CoreClient) -> None:
        self._client = client

    async def changes(
        self,
        cursor: str | None,
        *,
        now: dt.datetime,
        lookback: dt.timedelta,  # noqa: ARG002 - Core has a change feed
    ) -> ChangePage:
        since = dt.datetime.fromisoformat(cursor) if cursor else now - FIRST_POLL
        newest = since
        changes: list[Change] = []
        async for entry in self._client.time_entries(updated_since=since, include_deleted=True):
            changes.append(entry_change(entry))
            newest = max(newest, entry.updated_at)
        return ChangePage(changes, newest.isoformat())

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """Each entry as Core has it; one Core no longer shows (deleted) is reported deleted
        with what the hint knew of it."""
        changes: list[Change] = []
        for hint in hints:
            try:
                changes.append(entry_change(await self._client.time_entry(hint.external_id)))
            except NotFoundError:
                gone = TimeEntryFields(
                    user=UserRef(external_id=hint.user_id),
                    task_external_id=hint.task_id,
                    date=hint.date,
                    duration_seconds=0,
                    billable=False,
                )
                changes.append(Change(hint.external_id, gone, now, deleted=True))
        return changes


class CoreWebhooks:
    """Core's signed deliveries (``Core-Signature``, Stripe-like)."""

    scheme: Literal["signed"] = "signed"
    signature_header = SIGNATURE_HEADER

    def verify(
        self,
        secret: str,
        signature: str | None,
        body: bytes,
        *,
        account: str,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Delivery:
        signed_at = verify_signature(secret, signature, body, now=now, tolerance_s=tolerance_s)
        webhook = parse_webhook(body, account)
        if webhook is None:
            return Delivery(delivery_id="", signed_at=signed_at, change=None)
        if not isinstance(webhook, CoreTimeEntryWebhook):
            fact = commercial_event(webhook)
            return Delivery(delivery_id=webhook.id, signed_at=signed_at, change=None, fact=fact)
        change = entry_change(webhook.data.time_entry, deleted=webhook.type == "time_entry.deleted")
        return Delivery(delivery_id=webhook.id, signed_at=signed_at, change=change)
