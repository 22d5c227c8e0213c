"""The two error classes every consumer distinguishes, and which other exceptions are transient.

A message is either *invalid* (it will never succeed: bad schema, unknown type, a business rule
it violates) and goes straight to the dead-letter topic, or the failure is *transient* (a
provider is down, a database connection dropped) and the same message is retried with backoff
until it succeeds. Only invalid input is dead-lettered: a valid event parked in a dead-letter
topic is an event lost until someone replays it.

Anything that is neither (an unexpected exception, most likely a bug) is retried too, never
dead-lettered: dead-lettering would lose a valid event because of our own code, while retrying
keeps it in place until the fix is deployed. The consumer logs it loudly, with the traceback,
and reports itself stalled at once (see ``kafka.consumer``), so it is seen rather than drained.
"""

import aiokafka.errors
import asyncpg
import httpx


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


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    OSError,  # ConnectionError, TimeoutError, socket errors: a dependency did not answer
    asyncpg.PostgresConnectionError,  # connection lost or refused
    asyncpg.InterfaceError,  # "connection is closed", a pool closing under us
    asyncpg.OperatorInterventionError,  # admin shutdown, "cannot connect now" (starting up)
    asyncpg.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.TransactionRollbackError,  # serialization failure, deadlock: retry the transaction
    # "cannot switch to state 15; another operation is in progress": the reset of a pooled
    # connection whose server just died (the pool drops that connection; the next one is new)
    asyncpg.InternalClientError,
    aiokafka.errors.KafkaError,  # broker unreachable, leader moved, request timed out
    httpx.TransportError,  # a provider unreachable (the provider clients wrap most of these)
)
"""Failures of a dependency that are expected to go away by themselves."""


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is a dependency's expected, temporary failure (not invalid, not a bug)."""
    return isinstance(error, TRANSIENT_ERRORS)


def retry_after(error: BaseException) -> float | None:
    """How long the failing dependency asked us to wait, when it said so."""
    return error.retry_after if isinstance(error, TransientError) else None


def reason_of(error: BaseException) -> str:
    """A short reason for logs and dead-letter headers."""
    if isinstance(error, InvalidMessageError | TransientError):
        return error.reason
    return repr(error)
