"""Encoding events to Kafka records and back, with validation and upcasting."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events.base import Event, parse_type_name
from timebridge_common.events.envelope import Envelope
from timebridge_common.events.upcasting import UPCASTERS, Upcasters

E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]


def encode(event: Event, envelope: Envelope) -> EncodedEvent:
    if envelope.type != event.type_name():
        raise ValueError(f"envelope type {envelope.type} does not match {event.type_name()}")
    return EncodedEvent(
        topic=event.topic(),
        key=event.partition_key().encode(),
        value=event.model_dump_json().encode(),
        headers=envelope.to_headers(),
    )


def validation_summary(exc: ValidationError, limit: int = 5) -> str:
    """A short, log-safe summary of a pydantic error (field paths and messages, no values)."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def decode(
    headers: Mapping[str, str],
    value: bytes | None,
    model: type[E],
    upcasters: Upcasters = UPCASTERS,
) -> tuple[Envelope, E]:
    """Parse and validate a record as ``model``; raise ``InvalidMessageError`` with the reason."""
    envelope = Envelope.from_headers(headers)
    name, version = parse_type_name(envelope.type)
    if name != model.name:
        raise InvalidMessageError(f"expected {model.name}, got {envelope.type}")
    if value is None:
        raise InvalidMessageError("record has no value")
    try:
        payload = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidMessageError(f"value is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidMessageError("value is not a JSON object")
    try:
        payload = upcasters.upcast(name, payload, version, model.version)
    except ValueError as exc:
        raise InvalidMessageError(str(exc)) from exc
    try:
        return envelope, model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidMessageError(
            f"{envelope.type} failed validation: {validation_summary(exc)}"
        ) from None
