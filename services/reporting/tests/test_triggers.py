"""Which report run a budget crossing fires: one per crossing, never one per project."""

import datetime as dt
from decimal import Decimal
from typing import Any

from timebridge_common.events.contracts import BudgetThresholdCrossed
from timebridge_reporting.domain.triggers import fired_by


def crossed(**changes: Any) -> BudgetThresholdCrossed:
    fields: dict[str, Any] = {
        "workspace_id": "ws",
        "project_id": "p_1",
        "threshold_percent": 80,
        "budget_revision": 1,
        "budget_hours": Decimal("10"),
        "spent_hours": Decimal("8"),
        "crossed_at": dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
    }
    return BudgetThresholdCrossed.model_validate(fields | changes)


def key(event: BudgetThresholdCrossed) -> str:
    fired = fired_by(event)
    assert fired is not None
    assert fired.trigger == "budget_threshold_crossed"
    return fired.fact_key


def test_an_event_without_the_contracts_fields_keeps_its_key() -> None:
    assert key(crossed()) == "budget:p_1:r1:80"


def test_each_budget_month_and_crossing_is_its_own_run() -> None:
    """Regression: the key was project, revision and threshold only, so a monthly budget's next
    month, a re-armed threshold crossed again, or a second budget of the project fired nothing."""
    keys = {
        key(crossed(budget_id="b_1", period="total")),
        key(crossed(budget_id="b_2", period="total")),
        key(crossed(budget_id="b_1", period="2026-11")),
        key(crossed(budget_id="b_1", period="2026-12")),
        key(crossed(budget_id="b_1", period="2026-12", crossing=2)),
    }
    assert len(keys) == 5
