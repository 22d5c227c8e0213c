"""Core's contract and milestone webhooks (docs/contracts/core.md) as the events ingest publishes.

``contract.signed`` / ``contract.changed`` carry the contract as it is after the change and
become ``ContractObserved``; ``project.milestone_reached`` becomes ``MilestoneObserved``. The
contracts service applies them by source and id (``source_version`` and ``updated_at`` order
them), so a redelivery changes nothing there. A body that validates as Core's webhook but not as
the event (a title longer than the event allows) is refused like any invalid body (422).
"""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timebridge_common.events.base import UtcDatetime
from timebridge_common.events.codec import validation_summary
from timebridge_common.events.contracts import ContractObserved, MilestoneObserved
from timebridge_providers.core.translate import SOURCE
from timebridge_providers.kit.ports.observe import RefusedError

CONTRACT_TYPES = frozenset({"contract.signed", "contract.changed"})
MILESTONE_TYPES = frozenset({"project.milestone_reached"})
COMMERCIAL_TYPES = CONTRACT_TYPES | MILESTONE_TYPES

_DeliveryId = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", description="Delivery")
]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CoreCustomer(_Strict):
    id: str
    name: str


class CoreContract(_Strict):
    id: str
    title: str
    client: CoreCustomer
    status: Literal["draft", "signed", "active", "ended"]
    signed_at: UtcDatetime | None = None
    starts_on: dt.date
    ends_on: dt.date | None = None
    currency: str
    project_ids: tuple[str, ...] = ()
    updated_at: UtcDatetime
    version: int


class CoreMilestone(_Strict):
    id: str
    project_id: str
    name: str
    due_on: dt.date | None = None
    reached_at: UtcDatetime | None = None
    updated_at: UtcDatetime
    version: int


class _ContractData(_Strict):
    contract: CoreContract


class _MilestoneData(_Strict):
    milestone: CoreMilestone


class CoreContractWebhook(_Strict):
    id: _DeliveryId
    type: Literal["contract.signed", "contract.changed"]
    workspace_id: str
    occurred_at: UtcDatetime
    data: _ContractData


class CoreMilestoneWebhook(_Strict):
    id: _DeliveryId
    type: Literal["project.milestone_reached"]
    workspace_id: str
    occurred_at: UtcDatetime
    data: _MilestoneData


CommercialWebhook = CoreContractWebhook | CoreMilestoneWebhook


def parse_commercial(kind: str, body: bytes) -> CommercialWebhook:
    """The contract or milestone webhook of type ``kind`` in ``body`` (raises pydantic's
    ``ValidationError``: the caller answers it as for any webhook body)."""
    if kind in CONTRACT_TYPES:
        return CoreContractWebhook.model_validate_json(body)
    return CoreMilestoneWebhook.model_validate_json(body)


def contract_observed(workspace_id: str, contract: CoreContract) -> ContractObserved:
    return ContractObserved(
        workspace_id=workspace_id,
        source=SOURCE,
        external_id=contract.id,
        title=contract.title,
        client_external_id=contract.client.id,
        client_name=contract.client.name,
        status=contract.status,
        signed_at=contract.signed_at,
        start_date=contract.starts_on,
        end_date=contract.ends_on,
        currency=contract.currency,
        project_ids=contract.project_ids,
        updated_at=contract.updated_at,
        source_version=contract.version,
        observed_via="webhook",
    )


def milestone_observed(workspace_id: str, milestone: CoreMilestone) -> MilestoneObserved:
    return MilestoneObserved(
        workspace_id=workspace_id,
        source=SOURCE,
        external_id=milestone.id,
        project_id=milestone.project_id,
        title=milestone.name,
        due_date=milestone.due_on,
        reached_at=milestone.reached_at,
        updated_at=milestone.updated_at,
        source_version=milestone.version,
        observed_via="webhook",
    )


def commercial_event(webhook: CommercialWebhook) -> ContractObserved | MilestoneObserved:
    """The event to publish for a verified delivery (422 when Core's record does not fit it)."""
    try:
        if isinstance(webhook, CoreContractWebhook):
            return contract_observed(webhook.workspace_id, webhook.data.contract)
        return milestone_observed(webhook.workspace_id, webhook.data.milestone)
    except ValidationError as exc:
        raise RefusedError(422, validation_summary(exc)) from None
