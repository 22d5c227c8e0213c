"""Contracts and milestones from the home system: applied as the same records every time,
signing and reaching announced once, a draft's terms followed, late announcements ignored."""

import datetime as dt
import json
from typing import Any

from timebridge_common.events import Envelope
from timebridge_common.events.contracts import (
    BudgetThresholdCrossed,
    ContractObserved,
    ContractSigned,
    MilestoneObserved,
    MilestoneReached,
)
from timebridge_contracts.domain.audit import verify
from timebridge_contracts.handlers.commands import BudgetIn
from timebridge_contracts.handlers.contracts import Contracts
from timebridge_contracts.handlers.events import EventHandlers
from timebridge_contracts.handlers.observed import observed_contract_id
from timebridge_contracts.testing import MemoryStore

WS = "acme"
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
SIGNED = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return NOW


def contract(status: str = "draft", version: int = 1, **fields: Any) -> ContractObserved:
    values: dict[str, Any] = {
        "workspace_id": WS,
        "source": "core",
        "external_id": "ct_1",
        "title": "Website 2027",
        "client_name": "Globex",
        "status": status,
        "signed_at": SIGNED if status != "draft" else None,
        "start_date": dt.date(2027, 1, 1),
        "currency": "EUR",
        "project_ids": ("p_1", "p_2"),
        "updated_at": SIGNED + dt.timedelta(minutes=version),
        "source_version": version,
        "observed_via": "webhook",
    }
    return ContractObserved.model_validate(values | fields)


async def observe(handlers: EventHandlers, event: ContractObserved | MilestoneObserved) -> None:
    envelope = Envelope.for_event(event, producer="ingest")  # a new event id each time
    if isinstance(event, ContractObserved):
        await handlers.contract_observed(envelope, event)
    else:
        await handlers.milestone_observed(envelope, event)


async def test_a_signed_contract_is_announced_once_and_its_projects_are_its_scope() -> None:
    store = MemoryStore()
    handlers = EventHandlers(store, clock)
    await observe(handlers, contract())
    await observe(handlers, contract(version=2, title="Website 2027 (v2)"))
    assert store.published(ContractSigned) == []
    signed = contract("signed", version=3, title="Website 2027 (v2)")
    for _ in range(2):  # a redelivery, and the source announcing it again
        await observe(handlers, signed)
    await observe(handlers, contract(version=1))  # an old draft arriving late: ignored
    [event] = store.published(ContractSigned)
    cid = observed_contract_id("core", "ct_1")
    assert (event.contract_id, event.project_ids, event.signed_at) == (cid, ("p_1", "p_2"), SIGNED)
    stored = store.state.contracts[(WS, cid)]
    assert (stored.status, stored.title, stored.client_name) == (
        "signed",
        "Website 2027 (v2)",
        "Globex",
    )
    # the scope counts time: a budget on the contract is consumed like an admin's
    budget = BudgetIn(target_kind="contract", target_id=cid, unit="hours", amount=1)
    await Contracts(store, clock).put_budget(WS, "b_1", budget, "u_admin")
    kinds = [json.loads(r.body)["kind"] for r in store.state.audit]
    assert kinds[:5] == [
        "contract.created",
        "scope.added",
        "contract.changed",
        "contract.signed",
        "budget.revised",
    ]
    assert verify(store.state.audit)[1] is None
    assert store.published(BudgetThresholdCrossed) == []


async def test_a_contract_first_seen_active_is_signed_on_the_way_and_ends_once() -> None:
    store = MemoryStore()
    handlers = EventHandlers(store, clock)
    await observe(handlers, contract("active", version=4))
    await observe(handlers, contract("ended", version=5))
    await observe(handlers, contract("active", version=4))  # late: never back
    assert len(store.published(ContractSigned)) == 1
    kinds = [json.loads(r.body)["kind"] for r in store.state.audit]
    assert [k for k in kinds if k.startswith("contract.")] == [
        "contract.created",
        "contract.signed",
        "contract.active",
        "contract.ended",
    ]


async def test_an_id_the_api_cannot_address_is_hashed() -> None:
    assert observed_contract_id("core", "ct 1/x") != observed_contract_id("core", "ct 1/y")
    assert observed_contract_id("core", "ct 1/x").startswith("core:h")


async def test_a_milestone_from_the_source_is_reached_once() -> None:
    store = MemoryStore()
    handlers = EventHandlers(store, clock)
    defined = MilestoneObserved(
        workspace_id=WS,
        source="core",
        external_id="ms_1",
        project_id="p_1",
        title="Beta",
        updated_at=SIGNED,
        source_version=1,
        observed_via="webhook",
    )
    await observe(handlers, defined)
    assert store.published(MilestoneReached) == []
    reached = defined.model_copy(update={"reached_at": NOW, "source_version": 2})
    for _ in range(2):
        await observe(handlers, reached)
    [event] = store.published(MilestoneReached)
    assert (event.project_id, event.milestone_id, event.title, event.reached_at) == (
        "p_1",
        "ms_1",
        "Beta",
        NOW,
    )


async def test_an_older_draft_arriving_after_a_newer_one_changes_nothing() -> None:
    store = MemoryStore()
    handlers = EventHandlers(store, clock)
    await observe(handlers, contract(version=3, title="Newest terms"))
    await observe(handlers, contract(version=2, title="Older terms"))  # a retried delivery
    cid = observed_contract_id("core", "ct_1")
    stored = store.state.contracts[(WS, cid)]
    assert (stored.title, stored.revision) == ("Newest terms", 1)
    assert stored.source_updated_at == contract(version=3).updated_at
