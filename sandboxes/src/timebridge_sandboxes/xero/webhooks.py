"""Xero's webhooks: one signed payload of the queued events, and the intent-to-receive check."""

import asyncio
import json
import secrets
import string
from typing import Literal

import httpx

from timebridge_sandboxes.xero.state import (
    SIGNATURE_HEADER,
    Delivery,
    Json,
    Subscription,
    XeroState,
    _sign,
)


class Webhooks:
    """Signed deliveries of queued events and the intent-to-receive check."""

    state: XeroState
    webhook_transport: httpx.AsyncBaseTransport | None
    _delivering: asyncio.Lock

    async def deliver(self) -> None:
        """Send the queued events in one signed payload; on failure they wait for the next."""
        async with self._delivering:
            subscription, queued = self.state.webhook, list(self.state.pending_events)
            if subscription is None or not subscription.active or not queued:
                return
            payload = {
                "events": [event for _, event in queued],
                "firstEventSequence": queued[0][0],
                "lastEventSequence": queued[-1][0],
                "entropy": _entropy(),
            }
            delivery = await self.post("events", subscription, payload, signed_correctly=True)
            if delivery.status == 200:
                del self.state.pending_events[: len(queued)]

    async def intent_to_receive(self, subscription: Subscription) -> bool:
        """Xero's check: ``200`` and no body when signed right, ``401`` when signed wrong."""
        outcomes = []
        for signed_correctly in (True, False):
            payload = {
                "events": [],
                "firstEventSequence": 0,
                "lastEventSequence": 0,
                "entropy": _entropy(),
            }
            delivery = await self.post(
                "intent_to_receive", subscription, payload, signed_correctly=signed_correctly
            )
            expected = 200 if signed_correctly else 401
            outcomes.append(delivery.status == expected and not delivery.body)
        return all(outcomes)

    async def post(
        self,
        kind: Literal["intent_to_receive", "events"],
        subscription: Subscription,
        payload: Json,
        *,
        signed_correctly: bool,
    ) -> Delivery:
        body = json.dumps(payload).encode()
        key = subscription.key if signed_correctly else secrets.token_urlsafe(32)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: _sign(key, body)}
        try:
            async with httpx.AsyncClient(transport=self.webhook_transport, timeout=5) as client:
                answer = await client.post(subscription.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            delivery = Delivery(kind, payload, signed_correctly, None, error=type(exc).__name__)
        else:
            delivery = Delivery(kind, payload, signed_correctly, answer.status_code, answer.content)
        self.state.deliveries.append(delivery)
        return delivery


def _entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))
