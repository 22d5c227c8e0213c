"""An in-memory Core: the REST API and the signed webhooks of docs/contracts/core.md.

Written from the contract, not from Timebridge's client (nor its webhook code: the signature is
computed here again), so a test of the client against this sandbox can catch the client's
mistakes. Where the contract left a choice open, the choice made here is written into the
contract. Two things the contract does not know:

- Seeding and "what a user does in Core's UI" (create, edit, delete and lock entries, create and
  edit tickets) go through the admin API under ``/_sandbox``, unauthenticated and not rate
  limited; UI changes send webhooks exactly as REST changes do.
- Webhook retries are bounded (:class:`Webhooks`, default 5 attempts), where Core retries for
  24 h, and a subject's deliveries go out one after the other, which the contract allows.

A package: :mod:`.state` (the data, webhooks), :mod:`.rules` (what a request does),
:mod:`.routes` (the API), :mod:`.commercial` (contracts and milestones), :mod:`.deps` (the
routes' dependencies).
"""

from timebridge_sandboxes.core.routes import create_core_sandbox
from timebridge_sandboxes.core.state import (
    RATE_LIMIT,
    SIGNATURE_HEADER,
    CoreState,
    Delivery,
    Subscription,
    Webhooks,
)

__all__ = [
    "RATE_LIMIT",
    "SIGNATURE_HEADER",
    "CoreState",
    "Delivery",
    "Subscription",
    "Webhooks",
    "create_core_sandbox",
]
