"""The two error classes every consumer distinguishes.

A message is either *invalid* (it will never succeed: bad schema, unknown type, a business rule
it violates) and goes straight to the dead-letter topic, or the failure is *transient* (a
provider is down, a database connection dropped) and the same message is retried with backoff.
Anything that is neither is treated as transient: retrying a bug is safer than losing data, and
the attempt limit still moves the message aside eventually.
"""


class InvalidMessageError(Exception):
    """The message can never be processed; retrying is pointless."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(Exception):
    """The message may succeed later; retry it (honouring ``retry_after`` when known)."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
