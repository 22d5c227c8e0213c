"""The published events.

Field names are the product's vocabulary, not any provider's: adapters translate units and names
at the edge (Everhour seconds, Harvest decimal hours, Clockify ISO-8601 durations all become
``duration_seconds``).
"""

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from timebridge_common.events.base import (
    Event,
    ExternalId,
    IanaTimezone,
    SystemName,
    UtcDatetime,
)
from timebridge_common.events.budgets import BudgetChanged
from timebridge_common.events.connections import (
    ConnectionChanged,
    ConnectionChangedV1,
)
from timebridge_common.events.contracts import (
    BudgetThresholdCrossed,
    ContractObserved,
    ContractSigned,
    MilestoneObserved,
    MilestoneReached,
)
from timebridge_common.events.health import ConnectionHealthChanged
from timebridge_common.events.payments import AccountingPaymentNotified, PaymentRecorded
from timebridge_common.events.reports import ReportDelivered
from timebridge_common.events.time_off import TimeOffRecorded
from timebridge_common.events.tracker_reports import (
    TrackerSummaryReported,
    TrackerSummaryRequested,
)

_OBSERVATION_NAMESPACE = uuid.UUID("6f1c8a52-3b0e-4d4e-9a51-1f7d3e0c2b9a")

Money = Annotated[Decimal, Field(decimal_places=4, description="Exact decimal amount")]


class UserRef(BaseModel):
    """A user as the source system knows them; ``email`` drives automatic user mapping."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    external_id: ExternalId
    email: str | None = None
    name: str | None = None


class TimeEntryFields(BaseModel):
    """The synchronised fields of a time entry (the Everhour guide's 'What Syncs' table)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user: UserRef
    project_external_id: ExternalId | None = None
    task_external_id: ExternalId | None = Field(
        default=None, description="Core ticket id or the tracker's task id"
    )
    date: dt.date = Field(description="The day the work counts for, in the source time zone")
    started_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    timezone: IanaTimezone = Field(default="UTC", description="IANA time zone of the source entry")
    duration_seconds: int = Field(ge=0, le=7 * 24 * 3600)
    notes: str = Field(default="", max_length=10_000)
    billable: bool

    def content_digest(self) -> str:
        """A digest of what the entry says (SHA-256, hex), the same whichever path read it.

        Trackers stamp a version to the second, so two edits in one second share ``updated_at``:
        the content tells them apart. The user's email and name are left out: they are the
        directory's, not the entry's, and a webhook body may omit what the API returns. Times are
        compared in UTC, so the same instant written with another offset is the same content.
        """

        def utc(moment: dt.datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(dt.UTC).isoformat()

        content = [
            self.user.external_id,
            self.project_external_id,
            self.task_external_id,
            self.date.isoformat(),
            utc(self.started_at),
            utc(self.ended_at),
            self.timezone,
            self.duration_seconds,
            self.notes,
            self.billable,
        ]
        canonical = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class TimeEntryLogged(Event):
    """A time entry was created, changed or deleted in a source system.

    Published by ingest for every webhook or poll observation. The same change seen twice (webhook
    and poll, or a redelivered webhook) carries the same ``updated_at``; consumers use
    ``(source, external_id, updated_at)`` to recognise it.
    """

    name: ClassVar[str] = "TimeEntryLogged"
    version: ClassVar[int] = 1

    integration_id: ExternalId | None = Field(
        default=None, description="The tracker connection that observed it; null for Core"
    )
    source: SystemName
    external_id: ExternalId
    entry: TimeEntryFields
    updated_at: UtcDatetime
    deleted: bool = False
    observed_via: Literal["webhook", "poll"]

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.source}:{self.external_id}"

    def observation_id(self) -> uuid.UUID:
        """The event id of this observation: the same for every sighting of the same version.

        A webhook, its redeliveries and a poll that sees the same change all yield the same id,
        so downstream inboxes process the change once, whichever path reported it first. A
        version is the stamp *and* the content (:meth:`TimeEntryFields.content_digest`): two
        edits within the second a tracker stamps are two versions, not one seen twice. A deletion
        is identified by its stamp alone (what a deletion carries is only what was last known).
        """
        if self.deleted:
            version = f"{self.updated_at.isoformat()}:deleted"
        else:
            version = f"{self.updated_at.isoformat()}:live:{self.entry.content_digest()}"
        name = f"{self.workspace_id}:{self.source}:{self.external_id}:{version}"
        return uuid.uuid5(_OBSERVATION_NAMESPACE, name)

    def same_version(self, updated_at: dt.datetime, entry: TimeEntryFields, deleted: bool) -> bool:
        """Whether this is the version held as (``updated_at``, ``entry``, ``deleted``): the same
        stamp and, unless deleted, the same content. A consumer keeping the newest version takes
        an event with the held stamp but other content as the later of the two (Kafka keeps each
        entry's order; a re-sighting of the older one has its own id, already in the inbox)."""
        if self.updated_at != updated_at or self.deleted != deleted:
            return False
        return deleted or self.entry.content_digest() == entry.content_digest()


SyncStatus = Literal["synced", "skipped", "queued", "conflict", "error"]


class EntrySynced(Event):
    """The outcome of syncing one change of one entry to one target.

    ``status == "synced"`` only after the target confirmed the write and a read-back matched;
    every other status carries a ``reason``. The last ``EntrySynced`` for an entry is its status.
    """

    name: ClassVar[str] = "EntrySynced"
    version: ClassVar[int] = 1

    integration_id: ExternalId
    source: SystemName
    source_external_id: ExternalId
    target: SystemName
    target_external_id: ExternalId | None = None
    status: SyncStatus
    operation: Literal["create", "update", "delete", "none"]
    reason: str | None = Field(default=None, max_length=2_000)
    provider_response: str | None = Field(default=None, max_length=4_000)
    entry: TimeEntryFields | None = Field(
        default=None, description="The entry as written to the target, in the target's ids"
    )
    source_updated_at: UtcDatetime
    synced_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.source}:{self.source_external_id}"


class RoundingVersion(BaseModel):
    """The version of the rounding policy that made a time line's quantity (invoice-export's)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    policy_id: str = Field(max_length=220, description="'workspace' or 'client:<client id>'")
    version: int = Field(ge=1)
    increment_minutes: int = Field(ge=0, le=60, description="Rounded up to this; 0: exact")
    applies_to: Literal["per_entry", "per_line"]


class InvoiceLine(BaseModel):
    """One line of an invoice: hours of one project and person at one rate, or one expense."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    description: str
    quantity_hours: Money = Field(description="Hours, rounded to hundredths; 1 for an expense")
    unit_price: Money
    amount: Money = Field(description="quantity_hours x unit_price, rounded to the minor unit")
    project_id: ExternalId | None = None
    kind: Literal["time", "expense"] = "time"
    user_id: ExternalId | None = Field(default=None, description="Core user, for time lines")
    rate_source: str | None = Field(
        default=None,
        max_length=200,
        description="Where a time line's rate came from: 'timebridge' (Timebridge's own rates) or"
        " 'tracker:<integration id>' (the rates a tracker holds, as an admin chose)",
    )
    rounding: RoundingVersion | None = Field(
        default=None, description="The rounding policy version applied (None: exact time)"
    )
    entry_ids: tuple[ExternalId, ...] = Field(
        default=(), description="The Core time entries of a time line"
    )


class InvoiceExported(Event):
    """An invoice was copied to an accounting tool as a draft; its entries are now locked."""

    name: ClassVar[str] = "InvoiceExported"
    version: ClassVar[int] = 1

    invoice_id: ExternalId
    provider: SystemName
    provider_invoice_id: ExternalId
    number: str | None = None
    client_id: ExternalId
    provider_client_id: ExternalId
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    issue_date: dt.date | None = None
    period_start: dt.date
    period_end: dt.date
    status: Literal["draft"] = "draft"
    lines: tuple[InvoiceLine, ...]
    total: Money
    entry_ids: tuple[ExternalId, ...] = Field(description="Core time entries now invoiced")
    exported_at: UtcDatetime
    connection_id: ExternalId | None = Field(
        default=None, description="The accounting connection (company) it went to"
    )
    due_date: dt.date | None = None
    expense_ids: tuple[ExternalId, ...] = Field(default=(), description="Expenses now invoiced")

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.invoice_id}"


InvoiceStatus = Literal["draft", "submitted", "sent", "partially_paid", "paid", "voided", "deleted"]


class InvoiceStatusChanged(Event):
    """An exported invoice changed in the accounting tool: status, number, date or amount.

    Published whenever any of them differs from what Timebridge last saw (through the tool's
    webhooks or polling). ``amount_changed`` is the accounting article's warning: the tool's
    total differs from the total Timebridge exported.
    """

    name: ClassVar[str] = "InvoiceStatusChanged"
    version: ClassVar[int] = 1

    invoice_id: ExternalId
    connection_id: ExternalId
    provider: SystemName
    provider_invoice_id: ExternalId
    status: InvoiceStatus
    number: str | None = None
    issue_date: dt.date | None = None
    total: Money = Field(description="The invoice's total in the tool now")
    exported_total: Money
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount_changed: bool
    changed_at: UtcDatetime = Field(description="When Timebridge saw the change")

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.invoice_id}"


class InvoiceDeleted(Event):
    """An invoice was deleted in Timebridge: its time entries and expenses are uninvoiced.

    A draft can be deleted at any time; an exported invoice only once it was deleted in the
    accounting tool (the article's "delete it on the Invoice preview page").
    """

    name: ClassVar[str] = "InvoiceDeleted"
    version: ClassVar[int] = 1

    invoice_id: ExternalId
    was_exported: bool
    entry_ids: tuple[ExternalId, ...]
    expense_ids: tuple[ExternalId, ...] = ()
    deleted_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.invoice_id}"


class InvoiceExportRequested(Event):
    """An admin asked to copy a draft invoice to its accounting tool (invoice-export's own work
    queue: the export runs, and is retried, from this event; the invoice is frozen from here on).
    """

    name: ClassVar[str] = "InvoiceExportRequested"
    version: ClassVar[int] = 1

    invoice_id: ExternalId
    connection_id: ExternalId
    requested_at: UtcDatetime
    attempt: int = Field(default=1, ge=1, description="Re-requests of a stalled export count up")

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.invoice_id}"


class AccountingChangeNotified(Event):
    """An accounting tool said, through a verified webhook, that a client or invoice changed.

    Webhooks carry ids only; the consumer re-reads the record from the tool. The event id is
    derived from the notification, so a redelivered webhook is one event.
    """

    name: ClassVar[str] = "AccountingChangeNotified"
    version: ClassVar[int] = 1

    connection_id: ExternalId
    provider: SystemName
    entity: Literal["client", "invoice"]
    external_id: ExternalId
    operation: str = Field(max_length=40, description="The tool's word: Create, UPDATE, ...")
    occurred_at: UtcDatetime | None = None

    def partition_key(self) -> str:
        return f"{self.connection_id}:{self.entity}:{self.external_id}"

    def notification_id(self) -> uuid.UUID:
        when = self.occurred_at.isoformat() if self.occurred_at else "-"
        name = f"{self.connection_id}:{self.entity}:{self.external_id}:{self.operation}:{when}"
        return uuid.uuid5(_OBSERVATION_NAMESPACE, name)


class ClientAddress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class ClientChanged(Event):
    """The full current state of a client mirrored from an accounting tool (compacted topic).

    Clients come from the tools; Timebridge never deletes one, it archives it (archived in the
    tool, or archived by an admin in Timebridge).
    """

    name: ClassVar[str] = "ClientChanged"
    version: ClassVar[int] = 1

    client_id: ExternalId
    connection_id: ExternalId
    provider: SystemName
    external_id: ExternalId
    display_name: str
    email: str | None = None
    address: ClientAddress | None = None
    tax_number: str | None = None
    taxable: bool | None = None
    tax_code: str | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    status: Literal["active", "archived"]
    archived_by: Literal["tool", "timebridge"] | None = None
    revision: int = Field(ge=1)
    changed_at: UtcDatetime

    def partition_key(self) -> str:
        return self.client_id


class EntryMapped(Event):
    """A source entry change translated into the target's ids, ready to be written.

    Published by mapping for each integration whose direction takes the source; the
    conflict-resolver decides whether and how to write it. ``entry`` is in the target's ids (its
    user, project and task); ``source_entry`` is the entry as the source has it, for matching and
    echo detection. A delete carries the last known fields.
    """

    name: ClassVar[str] = "EntryMapped"
    version: ClassVar[int] = 1

    integration_id: ExternalId
    source: SystemName
    source_external_id: ExternalId
    target: SystemName
    operation: Literal["upsert", "delete"]
    entry: TimeEntryFields
    source_entry: TimeEntryFields
    source_updated_at: UtcDatetime
    user_mapped_by: Literal["email", "manual", "default_user"]
    task_mapped_by: Literal["link", "title", "rule", "created", "none"]

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.source}:{self.source_external_id}"


ALL_EVENTS: tuple[type[Event], ...] = (
    TimeEntryLogged,
    EntryMapped,
    EntrySynced,
    InvoiceExported,
    ConnectionChangedV1,
    ConnectionChanged,
    InvoiceExportRequested,
    InvoiceStatusChanged,
    InvoiceDeleted,
    AccountingChangeNotified,
    ClientChanged,
    ReportDelivered,
    ContractSigned,
    MilestoneReached,
    BudgetThresholdCrossed,
    ConnectionHealthChanged,
    TrackerSummaryRequested,
    TrackerSummaryReported,
    ContractObserved,
    MilestoneObserved,
    PaymentRecorded,
    BudgetChanged,
    TimeOffRecorded,
    AccountingPaymentNotified,
)
