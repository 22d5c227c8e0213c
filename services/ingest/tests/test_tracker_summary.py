"""Ingest's tracker summaries on fakes: the kit's ``FakeReport`` as the tracker, dictionaries as
the connection store, a publisher that keeps what it was given (no provider named).

Checked: a request answered for every connected tracker of the workspace (not another
workspace's, not a disconnected one), the tracker's figures carried as it reports them, a
redelivered request yielding the same event ids, a provider without a report or refusing the
credential yielding a summary that says why, a tracker that is down raising (retried), and a
period the wrong way round dead-lettered.
"""

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from timebridge_providers.core.client import CoreClient
from timebridge_providers.kit.fakes.report import FakeReport, LoggedTime
from timebridge_providers.kit.ports.report import ProviderReport, SummaryRow
from timebridge_providers.kit.session import Access

from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import Envelope, Event, IntegrationSettings
from timebridge_common.events.tracker_reports import (
    TrackerSummaryReported,
    TrackerSummaryRequested,
)
from timebridge_common.http_errors import install_error_handling
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound.http import AuthenticationError
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.entrypoints.tracker_summary_http import tracker_summary_router
from timebridge_ingest.handlers.tracker_summary import TrackerSummaries
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit

NOW = dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC)
NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
TRACKER = "tracker-x"


def integration(integration_id: str, workspace: str = "ws", **changes: Any) -> Integration:
    found = Integration(
        integration_id=integration_id, workspace_id=workspace, provider=TRACKER,
        base_url="http://tracker.test", api_key=f"key-{integration_id}", status="connected",
        settings=IntegrationSettings(frequency="hourly"), extra={"account_id": "7"},
    )  # fmt: skip
    return dataclasses.replace(found, **changes)


@dataclass
class MemoryTx:
    found: dict[str, Integration]

    async def integrations(self, workspace_id: str) -> list[Integration]:
        return [i for i in self.found.values() if i.workspace_id == workspace_id]


@dataclass
class MemoryConnections:
    found: dict[str, Integration] = field(default_factory=dict)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        yield MemoryTx(self.found)


class Kept(EventPublisher):
    """Keeps what it publishes (Kafka's acknowledgement is the test broker's business)."""

    def __init__(self) -> None:
        super().__init__(KafkaBroker(), trace.get_tracer("test"), "ingest")
        self.published: list[tuple[TrackerSummaryReported, Envelope]] = []

    async def publish(self, event: Event, envelope: Envelope) -> None:
        assert isinstance(event, TrackerSummaryReported)
        self.published.append((event, envelope))


@dataclass
class Opened:
    reports: dict[str, ProviderReport | None]
    accesses: list[Access] = field(default_factory=list)

    def __call__(self, provider: str, access: Access) -> ProviderReport | None:
        self.accesses.append(access)
        return self.reports[access.credential]


def summaries(
    found: list[Integration], reports: dict[str, ProviderReport | None]
) -> tuple[TrackerSummaries, Kept, Opened]:
    kept, opened = Kept(), Opened(reports)
    store = MemoryConnections({i.integration_id: i for i in found})
    handler = TrackerSummaries(store, opened, kept, lambda: NOW, 5.0, trackers=frozenset({TRACKER}))
    return handler, kept, opened


def request(integration_id: str | None = None) -> tuple[Envelope, TrackerSummaryRequested]:
    event = TrackerSummaryRequested(
        workspace_id="ws", integration_id=integration_id, period_start=NOVEMBER[0],
        period_end=NOVEMBER[1], cause="report-run:run_1", requested_at=NOW,
    )  # fmt: skip
    return Envelope.for_event(event, producer="reporting", event_id=uuid.uuid4()), event


def logged(user: str, project: str, day: int, seconds: int, billable: bool = True) -> LoggedTime:
    return LoggedTime(user, project, dt.date(2026, 11, day), seconds, billable)


async def test_a_request_is_answered_for_every_connected_tracker_of_the_workspace() -> None:
    report = FakeReport([logged("u1", "p1", 3, 3600), logged("u1", "p1", 4, 1800, False),
                         logged("u2", "p2", 30, 600), logged("u2", "p2", 31 - 30, 60)],
                        by_project=True)  # fmt: skip
    found = [
        integration("int_a"),
        integration("int_b", status="disconnected", api_key=None),
        integration("int_c", workspace="other"),
    ]
    handler, kept, opened = summaries(found, {"key-int_a": report})
    envelope, event = request()
    await handler.on_requested(envelope, event)
    [(summary, sent)] = kept.published
    assert (summary.integration_id, summary.provider, summary.unavailable) == (
        "int_a",
        TRACKER,
        None,
    )
    assert (summary.period_start, summary.period_end) == NOVEMBER
    assert summary.cause == "report-run:run_1"
    assert summary.fetched_at == NOW
    lines = [(x.user_external_id, x.project_external_id, x.seconds, x.billable_seconds)
             for x in summary.lines]  # fmt: skip
    assert lines == [("u1", "p1", 5400, 3600), ("u2", "p2", 660, 660)]
    assert report.calls == [NOVEMBER]
    assert opened.accesses == [Access("http://tracker.test", "key-int_a", {"account_id": "7"})]
    assert sent.causation_id == str(envelope.event_id)

    await handler.on_requested(envelope, event)  # redelivered: the same id, kept once downstream
    assert kept.published[1][1].event_id == sent.event_id
    _, other = request()
    await handler.on_requested(Envelope.for_event(other, producer="reporting"), other)
    assert kept.published[2][1].event_id != sent.event_id


async def test_a_request_for_one_integration_asks_only_that_tracker() -> None:
    first, second = FakeReport([logged("u1", "p1", 3, 60)]), FakeReport()
    found = [integration("int_a"), integration("int_b")]
    handler, kept, _ = summaries(found, {"key-int_a": first, "key-int_b": second})
    await handler.on_requested(*request("int_b"))
    assert [s.integration_id for s, _ in kept.published] == ["int_b"]
    assert first.calls == []


class Refusing:
    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        raise AuthenticationError(TRACKER, "GET", "/reports", 401, '{"error":"bad token"}')


class Down:
    async def summary(self, start: dt.date, end: dt.date) -> list[SummaryRow]:
        raise TransientError("503 from the tracker")


async def test_no_report_or_a_refused_credential_is_a_summary_saying_why() -> None:
    found = [integration("int_a"), integration("int_b")]
    handler, kept, _ = summaries(found, {"key-int_a": None, "key-int_b": Refusing()})
    await handler.on_requested(*request())
    why = {s.integration_id: s.unavailable for s, _ in kept.published}
    assert why["int_a"] == f"{TRACKER} offers no summary report"
    assert why["int_b"] is not None
    assert why["int_b"].startswith(f"{TRACKER} refused the credential")
    assert all(s.lines == () for s, _ in kept.published)


async def test_a_tracker_that_is_down_raises_so_the_request_is_retried() -> None:
    handler, kept, _ = summaries([integration("int_a")], {"key-int_a": Down()})
    with pytest.raises(TransientError):
        await handler.on_requested(*request())
    assert kept.published == []


async def test_a_period_the_wrong_way_round_is_invalid() -> None:
    handler, _, _ = summaries([integration("int_a")], {"key-int_a": FakeReport()})
    envelope, event = request()
    backwards = event.model_copy(update={"period_start": NOVEMBER[1], "period_end": NOVEMBER[0]})
    with pytest.raises(InvalidMessageError):
        await handler.on_requested(envelope, backwards)


async def test_on_demand_publishes_one_summary_or_none_for_an_unknown_integration() -> None:
    report = FakeReport([logged("u1", "p1", 3, 60)])
    handler, kept, _ = summaries([integration("int_a")], {"key-int_a": report})
    assert await handler.on_demand("ws", "int_zzz", *NOVEMBER) is None
    assert await handler.on_demand("other", "int_a", *NOVEMBER) is None
    summary = await handler.on_demand("ws", "int_a", *NOVEMBER)
    assert summary is not None
    assert summary.cause == "manual"
    assert [s for s, _ in kept.published] == [summary]


def http_app(handler: TrackerSummaries) -> FastAPI:
    core = CoreState()
    core.add_user("ws", "Ann", role="admin", token="ann-admin")
    core.add_user("ws", "Max", role="member", token="max-member")
    sandbox = create_core_sandbox(core, rate_limit=RateLimit(10_000, 1))

    def client(base_url: str, token: str) -> CoreClient:
        transport = httpx.ASGITransport(app=sandbox)
        return CoreClient(base_url, token, http=httpx.AsyncClient(transport=transport))

    async def base_url(workspace_id: str) -> str | None:
        return "http://core.sandbox" if workspace_id == "ws" else None

    app = FastAPI()
    install_error_handling(app)
    app.include_router(tracker_summary_router(handler, WorkspaceAdmins(client, base_url)))
    return app


async def test_the_http_route_fetches_now_for_admins_only() -> None:
    report = FakeReport([logged("u1", "p1", 3, 60)], by_project=True)
    handler, kept, _ = summaries([integration("int_a")], {"key-int_a": report})
    transport = httpx.ASGITransport(app=http_app(handler))
    url = "/v1/workspaces/ws/integrations/{}/tracker-summary"
    november = {"start": "2026-11-01", "end": "2026-11-30"}
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        member = await http.post(
            url.format("int_a"), json=november, headers={"authorization": "Bearer max-member"}
        )
        assert member.status_code == 403
        admin = {"authorization": "Bearer ann-admin"}
        backwards = {"start": "2026-11-30", "end": "2026-11-01"}
        refused = await http.post(url.format("int_a"), json=backwards, headers=admin)
        assert refused.status_code == 422
        assert refused.json()["detail"] == "the period ends before it starts"
        unknown = await http.post(url.format("int_zzz"), json=november, headers=admin)
        assert unknown.status_code == 404
        assert kept.published == []
        fetched = await http.post(url.format("int_a"), json=november, headers=admin)
        assert fetched.status_code == 200, fetched.text
    body = fetched.json()
    assert (body["integration_id"], body["cause"], body["unavailable"]) == ("int_a", "manual", None)
    assert body["lines"] == [
        {"user_external_id": "u1", "project_external_id": "p1", "seconds": 60,
         "billable_seconds": 60}
    ]  # fmt: skip
    assert len(kept.published) == 1
