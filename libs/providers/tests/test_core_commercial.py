"""Core's contract and milestone deliveries become the events ingest publishes (the mapping)."""

import datetime as dt
import json

import pytest
from timebridge_providers.core.observe import CoreWebhooks
from timebridge_providers.core.webhooks import sign
from timebridge_providers.kit.ports.observe import RefusedError

from timebridge_common.events.contracts import ContractObserved, MilestoneObserved

NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
CONTRACT = {
    "id": "ct_1", "title": "Support", "client": {"id": "cu_1", "name": "Globex"},
    "status": "active", "signed_at": "2026-11-20T09:00:00Z", "starts_on": "2027-01-01",
    "ends_on": "2027-12-31", "currency": "EUR", "project_ids": ["p_1", "p_2"],
    "updated_at": "2026-11-21T11:00:00Z", "version": 3,
}  # fmt: skip
MILESTONE = {
    "id": "ms_1", "project_id": "p_1", "name": "Beta", "due_on": None,
    "reached_at": "2026-11-21T10:00:00Z", "updated_at": "2026-11-21T10:00:00Z", "version": 2,
}  # fmt: skip


def _verify(kind: str, data: dict[str, object], workspace: str = "ws") -> object:
    body = json.dumps(
        {"id": "dlv_1", "type": kind, "workspace_id": workspace,
         "occurred_at": "2026-11-21T11:00:00Z", "data": data}
    ).encode()  # fmt: skip
    signature = sign("k" * 32, int(NOW.timestamp()), body)
    delivery = CoreWebhooks().verify(
        "k" * 32, signature, body, account="ws", now=NOW, tolerance_s=300
    )
    assert (delivery.delivery_id, delivery.change) == ("dlv_1", None)
    return delivery.fact


def test_a_contract_delivery_is_contract_observed_with_core_s_fields() -> None:
    fact = _verify("contract.changed", {"contract": CONTRACT})
    assert isinstance(fact, ContractObserved)
    assert (fact.source, fact.external_id, fact.title, fact.status) == (
        "core", "ct_1", "Support", "active"
    )  # fmt: skip
    assert (fact.client_external_id, fact.client_name) == ("cu_1", "Globex")
    assert (fact.start_date, fact.end_date) == (dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    assert (fact.project_ids, fact.source_version, fact.observed_via) == (
        ("p_1", "p_2"), 3, "webhook"
    )  # fmt: skip


def test_a_milestone_delivery_is_milestone_observed_titled_by_its_name() -> None:
    fact = _verify("project.milestone_reached", {"milestone": MILESTONE})
    assert isinstance(fact, MilestoneObserved)
    assert (fact.external_id, fact.project_id, fact.title, fact.due_date) == (
        "ms_1", "p_1", "Beta", None
    )  # fmt: skip
    assert fact.reached_at == dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kind", "data", "status"),
    [
        ("contract.signed", {"milestone": MILESTONE}, 422),  # the wrong record for the type
        ("contract.signed", {"contract": CONTRACT | {"currency": "eur"}}, 422),
        ("project.milestone_reached", {"milestone": MILESTONE | {"version": 0}}, 422),
    ],
)
def test_records_that_do_not_fit_are_refused(
    kind: str, data: dict[str, object], status: int
) -> None:
    with pytest.raises(RefusedError) as refused:
        _verify(kind, data)
    assert refused.value.status == status
    assert refused.value.reason


def test_another_workspace_s_record_is_refused() -> None:
    with pytest.raises(RefusedError) as refused:
        _verify("contract.signed", {"contract": CONTRACT}, workspace="other")
    assert refused.value.status == 422
