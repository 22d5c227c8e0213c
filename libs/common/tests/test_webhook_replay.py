"""publish_once: a delivery is published once, recorded only after the publish returned, and a
failed publish leaves no trace (the in-memory window; the Postgres one in tests/integration)."""

import datetime as dt

import asyncpg
import pytest

from timebridge_common.kafka.publisher import UnavailableError
from timebridge_common.webhooks.replay import (
    DeliveryInProgressError,
    MemoryReplayWindow,
    publish_once,
)

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=10)


class Publisher:
    def __init__(self) -> None:
        self.calls = 0
        self.fail: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return f"outcome-{self.calls}"


async def _once(
    window: MemoryReplayWindow, publish: Publisher, now: dt.datetime = NOW
) -> tuple[bool, str]:
    return await publish_once(
        window, "core:acme", "dlv_1", now=now, expires_at=LATER, lease_s=15, publish=publish
    )


async def test_a_replay_gets_the_first_outcome_without_publishing() -> None:
    window, publish = MemoryReplayWindow(), Publisher()
    assert await _once(window, publish) == (True, "outcome-1")
    assert await _once(window, publish) == (False, "outcome-1")
    assert publish.calls == 1


async def test_a_failed_publish_is_released_and_published_on_retry() -> None:
    window, publish = MemoryReplayWindow(), Publisher()
    publish.fail = UnavailableError("broker down")
    with pytest.raises(UnavailableError):
        await _once(window, publish)
    publish.fail = None
    assert await _once(window, publish) == (True, "outcome-2")


async def test_a_claim_in_progress_is_refused_then_taken_over_after_its_lease() -> None:
    """A request meeting another's claim must not answer 2xx before Kafka acknowledged; a claim
    left by a crash is taken over once its lease ran out (a duplicate, never a loss)."""
    window, publish = MemoryReplayWindow(), Publisher()
    await window.claim("core:acme", "dlv_1", now=NOW, expires_at=LATER, lease_s=15)
    with pytest.raises(DeliveryInProgressError):
        await _once(window, publish, now=NOW + dt.timedelta(seconds=5))
    assert publish.calls == 0
    assert await _once(window, publish, now=NOW + dt.timedelta(seconds=20)) == (True, "outcome-1")


async def test_an_expired_delivery_is_new_again() -> None:
    window, publish = MemoryReplayWindow(), Publisher()
    await _once(window, publish)
    assert await _once(window, publish, now=LATER) == (True, "outcome-2")


async def test_a_failure_to_record_still_answers_the_published_outcome() -> None:
    """Published and acknowledged is what 2xx promises; the record is best effort."""

    class Flaky(MemoryReplayWindow):
        async def done(self, receiver: str, key: str, *, now: dt.datetime, outcome: str) -> None:
            raise ConnectionError("database gone")

    window, publish = Flaky(), Publisher()
    assert await _once(window, publish) == (True, "outcome-1")


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError("database down"),
        # seen in the fault suite: the pool's reset of a connection whose server just died
        asyncpg.InternalClientError("cannot switch to state 15; another operation is in progress"),
    ],
)
async def test_an_unreachable_window_is_unavailable_and_publishes_nothing(
    error: Exception,
) -> None:
    class Down(MemoryReplayWindow):
        async def claim(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise error

    publish = Publisher()
    with pytest.raises(UnavailableError):
        await _once(Down(), publish)
    assert publish.calls == 0
