"""Polling an HR connection's time off: published with ids from content, a request the contract
cannot carry skipped (never blocking the others), the cursor saved only after publishing."""

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from timebridge_providers.kit.session import Access, Session

from timebridge_common.events import Envelope, Event, IntegrationSettings
from timebridge_common.events.time_off import TimeOffRecorded
from timebridge_common.kafka.publisher import EventPublisher, UnavailableError
from timebridge_common.outbound.http import RequestBudget
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.handlers.ports import PollingStore
from timebridge_ingest.handlers.time_off import TimeOffPolls, is_time_off_source
from timebridge_sandboxes.bamboohr import create_bamboohr_sandbox, demo_bamboohr

NOW = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 23)
HR = Integration(
    "int_hr", "acme", "bamboohr", "http://bamboo.test", "ann-key", "connected",
    IntegrationSettings(frequency="hourly"), extra={"company_domain": "acme"},
)  # fmt: skip


@dataclass
class Published:
    events: list[tuple[Event, uuid.UUID]] = field(default_factory=list)
    down: bool = False

    def envelope(self, event: Event, *, event_id: uuid.UUID | None = None) -> Envelope:
        return Envelope.for_event(event, producer="ingest", event_id=event_id)

    async def publish(self, event: Event, envelope: Envelope) -> None:
        if self.down:
            raise ConnectionError("broker down")
        self.events.append((event, envelope.event_id))


@dataclass
class Cursors:
    saved: dict[str, str] = field(default_factory=dict)

    async def cursor(self, connection_id: str) -> str | None:
        return self.saved.get(connection_id)

    async def set_cursor(self, connection_id: str, cursor: str, **_: Any) -> None:
        self.saved[connection_id] = cursor


class Sessions:
    def __init__(self, app: Any) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        self.opened = 0

    def session(self, provider: str, access: Access) -> Session:
        self.opened += 1
        return Session(provider, access, self.http, RequestBudget(10**6, 1))


class Owner:
    async def of(self, integration: Integration) -> Access:
        return Access(integration.base_url, "ann-key", dict(integration.extra))


def _world() -> tuple[TimeOffPolls, Published, Cursors, Sessions, Any]:
    state = demo_bamboohr("ann-key", "max-key", today=NOW.date)
    sessions, published, cursors = Sessions(create_bamboohr_sandbox(state)), Published(), Cursors()
    polls = TimeOffPolls(
        sessions, cast(PollingStore, cursors), Owner(), cast(EventPublisher, published), 1.0
    )
    return polls, published, cursors, sessions, state


def test_an_hr_source_is_one_with_time_off_and_nothing_to_observe() -> None:
    assert is_time_off_source("bamboohr")
    assert not is_time_off_source("harvest")
    assert not is_time_off_source("no-such-provider")


async def test_published_once_per_content_and_the_bad_one_skipped() -> None:
    polls, published, cursors, _, state = _world()
    good = state.add_request(5, DAY, DAY, 78, status="approved", dates={DAY: Decimal(8)}, by=5)
    state.add_request(6, DAY, DAY, 78, status="approved", dates={DAY: Decimal(99999)}, by=5)
    assert await polls.poll(HR, NOW) == 1  # 99,999 hours is no TimeOffRecorded: skipped
    assert await polls.poll(HR, NOW + dt.timedelta(hours=1)) == 1  # listed again
    (first, first_id), (again, again_id) = published.events
    assert isinstance(first, TimeOffRecorded)
    assert isinstance(again, TimeOffRecorded)
    assert (first.request_id, first.employee_email, first.status) == (
        str(good.id),
        "ann@example.com",
        "approved",
    )
    assert first_id == again_id  # the same request read twice is one event
    assert cursors.saved["int_hr"] == "2026-11-19"
    state.set_status(good.id, "canceled", 5)
    await polls.poll(HR, NOW + dt.timedelta(hours=2))
    cancelled, cancelled_id = published.events[-1]
    assert isinstance(cancelled, TimeOffRecorded)
    assert cancelled.status == "canceled"
    assert cancelled_id != first_id


async def test_the_cursor_waits_for_kafka_and_a_disconnected_source_is_not_called() -> None:
    polls, published, cursors, sessions, state = _world()
    state.add_request(5, DAY, DAY, 78, status="approved", dates={DAY: Decimal(8)}, by=5)
    published.down = True
    with pytest.raises(UnavailableError):
        await polls.poll(HR, NOW)
    assert cursors.saved == {}  # the next poll publishes them again
    opened = sessions.opened
    assert await polls.poll(replace(HR, status="disconnected", api_key=None), NOW) == 0
    assert sessions.opened == opened
