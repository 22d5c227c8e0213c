"""Clockify's webhooks, taken as hints: a delivery names an entry that is then re-read.

Clockify posts the entry (``TimeEntryDtoImplV1``) for ``NEW_TIME_ENTRY``, ``TIME_ENTRY_UPDATED``,
``TIMER_STOPPED`` and ``TIME_ENTRY_DELETED``, one webhook per event, with the webhook's
``authToken`` in the ``Clockify-Signature`` header and the event in
``Clockify-Webhook-Event-Type``. That header is a shared token, not a signature over the body or
a time, so a delivery's content is never trusted: it is read as a hint (the kit's ``hint``
scheme), the entry re-read through the API, and the webhook's URL is the unguessable secret
(the token can be checked as well with :func:`token_matches`). Clockify has no registration
handshake.
"""

import contextlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Literal

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.wire import TimeEntry
from timebridge_providers.kit.ports.observe import Hint, HookState, RefusedError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Clockify-Signature"
EVENTS = ("NEW_TIME_ENTRY", "TIME_ENTRY_UPDATED", "TIMER_STOPPED", "TIME_ENTRY_DELETED")
NAME = "Timebridge"


def token_matches(headers: Mapping[str, str], token: str) -> bool:
    """The delivery carries the webhook's ``authToken`` (constant-time)."""
    given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
    return bool(token) and given.isascii() and hmac.compare_digest(given, token)


class ClockifyHooks:
    """The workspace's webhooks for time entries: one per event, the ids joined by commas."""

    def __init__(self, client: ClockifyClient) -> None:
        self._client = client

    async def register(self, target_url: str) -> HookState:
        made = [await self._client.create_webhook(target_url, e, NAME) for e in EVENTS]
        return HookState(",".join(h.id for h in made), all(h.enabled for h in made))

    async def delete(self, hook_id: str) -> None:
        for one in hook_id.split(","):
            await self._client.delete_webhook(one)

    async def ensure_active(self, hook_id: str) -> HookState | None:
        """The hooks, registered again (new ids) if Clockify disabled or lost any of them."""
        hooks = [await self._client.webhook(one) for one in hook_id.split(",") if one]
        present = [h for h in hooks if h is not None]
        if not present:
            return None
        if len(present) == len(hooks) and all(h.enabled for h in present):
            return HookState(hook_id, True)
        log.warning("clockify disabled or dropped a webhook: registering them again")
        for hook in present:
            with contextlib.suppress(NotFoundError):
                await self._client.delete_webhook(hook.id)
        return await self.register(present[0].url)


class ClockifyWebhooks:
    """Clockify's deliveries as hints to re-read an entry."""

    scheme: Literal["hint"] = "hint"

    def handshake(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        """Clockify has no registration handshake."""
        del headers
        return None

    def hint(self, body: bytes) -> Hint:
        try:
            data = json.loads(body)
            entry = TimeEntry.model_validate(data)
        except (ValueError, RecursionError, TypeError):
            raise RefusedError(422, "the delivery names no Clockify time entry") from None
        return Hint(
            external_id=entry.id,
            date=entry.time_interval.start.date(),
            user_id=entry.user_id,
            task_id=entry.task_id,
        )
