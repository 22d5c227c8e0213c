"""An in-memory Everhour: the API routes Timebridge uses, with Everhour's paths, fields and units.

Built from Everhour's documentation (developers.everhour.com, the Apiary reference), not from
Timebridge's client. Behaviour taken from the documentation: ``X-Api-Key`` auth (``401``
otherwise), about 20 requests per 10 s per key (``429`` + ``Retry-After`` seconds), bare JSON
arrays paged with ``page``/``limit`` (the last page is short), ``YYYY-MM-DD`` dates, times in
seconds, ``YYYY-MM-DD HH:MM:SS`` UTC datetimes, one time record per task, user and date, webhook
registration with the ``X-Hook-Secret`` handshake (``409`` for a URL already registered) and
unsigned deliveries ``{"event", "payload": {"id", "data"}, "createdAt"}`` sent asynchronously
after the change. Assumed where the documentation is silent: adding time to an existing record
increases it, updating a missing record is ``404``, a locked (or, for non-admins, invoiced)
record is refused with ``403`` "Time record is locked", refused handshakes and malformed
requests are ``400``, a deletion is announced as ``api:time:updated`` with ``time`` 0.

Faults (:class:`~timebridge_sandboxes.faults.Faults`) are switched from Python or from the admin
API under ``/_sandbox``:
``POST /_sandbox/reset``, ``POST /_sandbox/seed``, ``GET|POST|DELETE /_sandbox/faults``,
``POST /_sandbox/time/{id}/lock`` and ``GET /_sandbox/deliveries``.

A package: :mod:`.state` (the data), :mod:`.rules` (what a request does), :mod:`.routes`
(the API).
"""

from timebridge_sandboxes.everhour.routes import create_everhour_sandbox
from timebridge_sandboxes.everhour.state import (
    EVENTS,
    RATE_LIMIT,
    USER_AGENT,
    Delivery,
    EverhourState,
)

__all__ = [
    "EVENTS",
    "RATE_LIMIT",
    "USER_AGENT",
    "Delivery",
    "EverhourState",
    "create_everhour_sandbox",
]
