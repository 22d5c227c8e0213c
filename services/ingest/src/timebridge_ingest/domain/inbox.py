"""Webhook hints waiting to be re-read: one per record, with a count of deliveries about it."""

from dataclasses import dataclass

from timebridge_providers.kit.ports.observe import Hint


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A hint waiting in the inbox; ``seq`` tells whether another delivery came meanwhile."""

    integration_id: str
    hint: Hint
    seq: int
