"""The event envelope, carried as CloudEvents attributes in Kafka headers.

We use the CloudEvents Kafka protocol binding in *binary* content mode: the record value is the
event payload alone (plain JSON, readable by any consumer), and the envelope lives in ``ce_*``
headers, so a BI consumer needs none of our code to know what a record is, who produced it,
for which workspace, and what caused it.
"""

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events.base import Event, parse_type_name

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

# CloudEvents extension attribute names: lower-case alphanumerics only (spec section 3.1.1).
_WORKSPACE = "ce_workspaceid"
_CORRELATION = "ce_correlationid"
_CAUSATION = "ce_causationid"
_REQUIRED = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", _WORKSPACE)
_KNOWN = frozenset({*_REQUIRED, "ce_subject", _CORRELATION, _CAUSATION})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who, what, when and why of one event (everything but the payload)."""

    event_id: uuid.UUID
    type: str
    source: str
    workspace_id: str
    occurred_at: dt.datetime
    subject: str | None = None
    correlation_id: str = ""
    causation_id: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return parse_type_name(self.type)[0]

    @property
    def version(self) -> int:
        return parse_type_name(self.type)[1]

    @classmethod
    def for_event(
        cls,
        event: Event,
        *,
        producer: str,
        event_id: uuid.UUID | None = None,
        occurred_at: dt.datetime | None = None,
        subject: str | None = None,
        cause: "Envelope | None" = None,
    ) -> "Envelope":
        """Build the envelope of a new event.

        Pass a deterministic ``event_id`` when the same input may be seen again (a redelivered
        webhook): downstream inboxes deduplicate on it. ``cause`` links the event to the one
        that caused it and keeps the correlation id of the whole chain.
        """
        new_id = event_id or uuid.uuid4()
        return cls(
            event_id=new_id,
            type=event.type_name(),
            source=f"/timebridge/{producer}",
            workspace_id=event.workspace_id,
            occurred_at=occurred_at or _now(),
            subject=subject or event.partition_key(),
            correlation_id=cause.correlation_id if cause else str(new_id),
            causation_id=str(cause.event_id) if cause else None,
        )

    def to_headers(self) -> dict[str, str]:
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": str(self.event_id),
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_time": self.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "content-type": CONTENT_TYPE,
            _WORKSPACE: self.workspace_id,
            _CORRELATION: self.correlation_id,
        }
        if self.subject:
            headers["ce_subject"] = self.subject
        if self.causation_id:
            headers[_CAUSATION] = self.causation_id
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> "Envelope":
        """Parse the envelope; a record without a valid one is invalid, never retried.

        Every consumed record goes through here (issue 12), so the common case is kept cheap:
        the required names are looked up once, the type name's parse is cached.
        """
        get = headers.get
        values = [get(h) or "" for h in _REQUIRED]
        if "" in values:
            missing = [h for h, v in zip(_REQUIRED, values, strict=True) if not v]
            raise InvalidMessageError(f"missing CloudEvents headers: {', '.join(missing)}")
        spec, ce_id, ce_type, source, ce_time, workspace = values
        if spec != SPEC_VERSION:
            raise InvalidMessageError(f"unsupported ce_specversion {spec!r}")
        try:
            event_id = uuid.UUID(ce_id)
            occurred_at = dt.datetime.fromisoformat(ce_time)
            parse_type_name(ce_type)
        except ValueError as exc:
            raise InvalidMessageError(f"malformed CloudEvents header: {exc}") from exc
        if occurred_at.tzinfo is None:
            raise InvalidMessageError("ce_time must carry a UTC offset")
        return cls(
            event_id=event_id,
            type=ce_type,
            source=source,
            workspace_id=workspace,
            occurred_at=occurred_at,
            subject=get("ce_subject"),
            correlation_id=get(_CORRELATION) or str(event_id),
            causation_id=get(_CAUSATION),
            extra={k: v for k, v in headers.items() if k[:3] == "ce_" and k not in _KNOWN},
        )
