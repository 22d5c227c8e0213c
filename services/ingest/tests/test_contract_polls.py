"""The home system's contracts by polling, the fallback to its webhooks: against the Core
sandbox through the kit's sessions, published with content-derived ids (listed again: the same
event), from the last good poll less the overlap; a token that may not read contracts leaves the
entries' poll alone; the Poller runs it with every home poll."""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from timebridge_providers.kit.clients import ProviderClients
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.fakes.observe import FakeObserver
from timebridge_providers.kit.session import Access

from timebridge_common.events import Envelope
from timebridge_common.events.base import Event
from timebridge_common.events.contracts import ContractObserved
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_ingest.domain.connections import Workspace
from timebridge_ingest.handlers.access import ConnectionAccesses
from timebridge_ingest.handlers.contract_polls import ContractPolls
from timebridge_ingest.handlers.polling import Poller
from timebridge_sandboxes.core import CoreState, create_core_sandbox

WS, SERVICE, MEMBER = "acme", "core-service", "core-member"
BASE = "http://core.test"


class Published(EventPublisher):
    """Records what would be in Kafka (publish returns as if acknowledged)."""

    def __init__(self) -> None:
        self.producer = "ingest"
        self.events: list[tuple[ContractObserved, uuid.UUID]] = []

    async def publish(self, event: Event, envelope: Envelope) -> None:
        assert isinstance(event, ContractObserved)
        self.events.append((event, envelope.event_id))


@dataclass
class LastOk:
    """The part of the polling store a contracts poll reads: the home poll's last success."""

    at: dt.datetime | None = None
    asked: list[str] = field(default_factory=list)

    async def health(self, connection_id: str) -> Any:
        self.asked.append(connection_id)
        return None if self.at is None else type("H", (), {"last_ok_at": self.at})()


def world() -> tuple[httpx.AsyncClient, ProviderClients, str]:
    state = CoreState()
    state.add_service_token(WS, SERVICE)
    state.add_user(WS, "Max", token=MEMBER)
    project = state.add_project(WS, "Website")
    app = create_core_sandbox(state)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE)
    return http, ProviderClients(transport=httpx.ASGITransport(app)), project


async def contract(http: httpx.AsyncClient, project: str) -> dict[str, Any]:
    draft = {"title": "Website 2027", "client": {"id": "cu_1", "name": "Globex"},
             "currency": "EUR", "starts_on": "2027-01-01", "project_ids": [project]}  # fmt: skip
    made: dict[str, Any] = (
        await http.post(f"/_sandbox/workspaces/{WS}/contracts", json=draft)
    ).json()
    return made


def polls(clients: ProviderClients, published: Published, last_ok: LastOk) -> ContractPolls:
    return ContractPolls(clients, cast(Any, last_ok), published, publish_timeout_s=5)


async def test_contracts_are_published_once_per_version_from_the_last_good_poll() -> None:
    http, clients, project = world()
    first, other = await contract(http, project), await contract(http, project)
    published, last_ok = Published(), LastOk()
    contracts = polls(clients, published, last_ok)
    assert await contracts.poll(WS, Access(BASE, SERVICE)) == 2
    assert last_ok.asked == [f"core_{WS}"]
    ids = [(e.external_id, e.status, e.observed_via) for e, _ in published.events]
    assert ids == [(first["id"], "draft", "poll"), (other["id"], "draft", "poll")]

    # the next poll asks from the last good poll less the overlap: both listed again (the same
    # event ids: consumers take them once), and the signed one as a new version
    last_ok.at = dt.datetime.now(dt.UTC)
    await http.post(f"/_sandbox/contracts/{first['id']}/sign")
    assert await contracts.poll(WS, Access(BASE, SERVICE)) == 2
    again = {(e.external_id, e.status): i for e, i in published.events[2:]}
    assert again[other["id"], "draft"] == published.events[1][1]
    assert again[first["id"], "signed"] not in {i for _, i in published.events[:2]}

    # long after: nothing changed since (the overlap is an hour)
    last_ok.at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert await contracts.poll(WS, Access(BASE, SERVICE)) == 0


async def test_a_token_that_may_not_read_contracts_is_skipped() -> None:
    http, clients, project = world()
    await contract(http, project)
    published = Published()
    assert await polls(clients, published, LastOk()).poll(WS, Access(BASE, MEMBER)) == 0
    assert published.events == []


class Cursors:
    async def cursor(self, connection_id: str) -> str | None:
        return None

    async def set_cursor(self, connection_id: str, cursor: str | None, **_: Any) -> None:
        return None

    async def health(self, connection_id: str) -> Any:
        return None


class Home:
    async def workspace(self, workspace_id: str) -> Workspace:
        return Workspace(WS, BASE, SERVICE, at_owner=False)

    def transaction(self) -> Any:
        home = self

        class Tx:
            async def __aenter__(self) -> "Home":
                return home

            async def __aexit__(self, *_: object) -> None:
                return None

        return Tx()


async def test_every_home_poll_polls_the_contracts_too() -> None:
    http, clients, project = world()
    made = await contract(http, project)
    published = Published()
    poller = Poller(
        connections=cast(Any, Home()), polling=cast(Any, Cursors()),
        observers=lambda *_: FakeObserver(hooks=None), publisher=published,
        clock=lambda: dt.datetime.now(dt.UTC), publish_timeout_s=5, health=cast(Any, object()),
        access=ConnectionAccesses(FakeCredentialSource()),
        contracts=ContractPolls(clients, cast(Any, Cursors()), published, publish_timeout_s=5),
    )  # fmt: skip
    await poller.poll_home(WS, dt.datetime.now(dt.UTC))
    assert [e.external_id for e, _ in published.events] == [made["id"]]
