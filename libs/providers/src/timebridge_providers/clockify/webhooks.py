"""Clockify's webhooks, taken as hints: a delivery names an entry that is then re-read.

Clockify posts the entry (``TimeEntryDtoImplV1``) for ``NEW_TIME_ENTRY``, ``TIME_ENTRY_UPDATED``,
``TIMER_STOPPED`` and ``TIME_ENTRY_DELETED``, one webhook per event, with the webhook's
``authToken`` in the ``Clockify-Signature`` header and the event in
``Clockify-Webhook-Event-Type``. That header is a shared token, not a signature over the body or
a time, so a delivery's content is never trusted: it is read as a hint (the kit's ``hint``
scheme), the entry re-read through the API, and the webhook's URL is the unguessable secret
and ingest keeps the ``authToken`` Clockify answers at creation (sealed, per connection) and
refuses (401) a delivery not carrying it (:meth:`ClockifyWebhooks.authenticate`). The token says
nothing about a delivery's time or id, so there is no replay key: a replay only re-reads the
entry. Clockify has no registration handshake.
"""

import contextlib
import datetime as dt
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Literal

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.wire import TimeEntry, Webhook
from timebridge_providers.kit.ports.observe import Hint, HookState, RefusedError, Signed

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

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        """Clockify picks each webhook's ``authToken``; they are joined by commas, like the ids."""
        del secret
        return _state([await self._client.create_webhook(target_url, e, NAME) for e in EVENTS])

    async def delete(self, hook_id: str) -> None:
        for one in hook_id.split(","):
            await self._client.delete_webhook(one)

    async def ensure_active(self, hook_id: str) -> HookState | None:
        """The hooks if Clockify still calls all of them; else what is left is deleted and
        ``None`` answered, so the caller registers them again (new ids and ``authToken``s, which
        the caller keeps)."""
        hooks = [await self._client.webhook(one) for one in hook_id.split(",") if one]
        present = [h for h in hooks if h is not None]
        if present and len(present) == len(hooks) and all(h.enabled for h in present):
            return _state(present)
        if present:
            log.warning("clockify disabled or dropped a webhook: they are registered again")
        for hook in present:
            with contextlib.suppress(NotFoundError):
                await self._client.delete_webhook(hook.id)
        return None


def _state(hooks: list[Webhook]) -> HookState:
    tokens = ",".join(h.auth_token or "" for h in hooks).strip(",")
    return HookState(
        ",".join(h.id for h in hooks),
        all(h.enabled for h in hooks),
        tokens or None,
        hooks[0].url if hooks else None,
    )


class ClockifyWebhooks:
    """Clockify's deliveries as hints to re-read an entry."""

    scheme: Literal["hint"] = "hint"

    def handshake(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        """Clockify has no registration handshake."""
        del headers
        return None

    def authenticate(
        self,
        secret: str | None,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Signed | None:
        """The delivery carries one of the hook's ``authToken``s (one webhook per event)."""
        del body, now, tolerance_s
        if not secret:
            raise RefusedError(401, "no token is kept for this webhook")
        matches = [token_matches(headers, token) for token in secret.split(",") if token]
        if not any(matches):
            raise RefusedError(401, f"missing or wrong {SIGNATURE_HEADER} header")
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
