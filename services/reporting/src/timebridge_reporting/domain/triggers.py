"""Which events trigger reports, and the fact each stands for (fired once per fact)."""

from dataclasses import dataclass

from timebridge_common.events import InvoiceExported, InvoiceStatusChanged
from timebridge_common.events.base import Event
from timebridge_common.events.contracts import (
    BudgetThresholdCrossed,
    ContractSigned,
    MilestoneReached,
)
from timebridge_reporting.domain.definitions import Trigger
from timebridge_reporting.domain.report_model import Period


@dataclass(frozen=True, slots=True)
class Fired:
    """A trigger fact: which trigger, its once-only key, and the period it concerns (if any)."""

    trigger: Trigger
    fact_key: str
    period: Period | None = None
    invoice_id: str | None = None


_STATUS_TRIGGERS: dict[str, Trigger] = {"sent": "invoice_sent", "paid": "invoice_paid"}


def fired_by(event: Event) -> Fired | None:
    """The trigger fact of ``event``, or ``None`` if it triggers nothing.

    An invoice reaching "sent" or "paid" fires once per invoice and status, however many
    status events repeat it (a number or date change re-announces the same status).
    """
    if isinstance(event, InvoiceExported):
        period = Period(start=event.period_start, end=event.period_end)
        return Fired("invoice_exported", f"invoice:{event.invoice_id}:exported", period)
    if isinstance(event, InvoiceStatusChanged):
        trigger = _STATUS_TRIGGERS.get(event.status)
        return (
            None
            if trigger is None
            else Fired(
                trigger, f"invoice:{event.invoice_id}:{event.status}", invoice_id=event.invoice_id
            )
        )
    if isinstance(event, MilestoneReached):
        return Fired("milestone_reached", f"milestone:{event.project_id}:{event.milestone_id}")
    if isinstance(event, BudgetThresholdCrossed):
        # One run per crossing: of this budget (a project may have several), in this revision,
        # in this period (a monthly budget crosses again next month), the n-th time (a threshold
        # re-armed by a lowering edit crosses again). Older events lack the last three fields.
        key = f"budget:{event.budget_id or event.project_id}:r{event.budget_revision}"
        if event.period not in (None, "total"):
            key += f":{event.period}"
        key += f":{event.threshold_percent}"
        if event.crossing > 1:
            key += f":c{event.crossing}"
        return Fired("budget_threshold_crossed", key)
    if isinstance(event, ContractSigned):
        return Fired("contract_signed", f"contract:{event.contract_id}")
    return None
