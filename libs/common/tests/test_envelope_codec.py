"""Envelope headers (CloudEvents Kafka binding) and the event codec."""

import datetime as dt
import json
import uuid

import pytest

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import Envelope, TimeEntryFields, TimeEntryLogged, UserRef
from timebridge_common.events.codec import decode, encode
from timebridge_common.events.upcasting import Upcasters

EVENT = TimeEntryLogged(
    workspace_id="acme",
    source="everhour",
    external_id="eh_42",
    entry=TimeEntryFields(
        user=UserRef(external_id="9", email="ann@acme.test"),
        task_external_id="ev:123",
        date=dt.date(2026, 11, 20),
        started_at=dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        duration_seconds=900,
        billable=False,
        timezone="America/New_York",
    ),
    updated_at=dt.datetime(2026, 11, 21, 4, 31, tzinfo=dt.UTC),
    observed_via="poll",
)


def test_headers_follow_the_cloudevents_kafka_binding() -> None:
    cause = Envelope.for_event(EVENT, producer="ingest")
    envelope = Envelope.for_event(EVENT, producer="mapping", cause=cause)
    headers = encode(EVENT, envelope).headers
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == str(envelope.event_id)
    assert headers["ce_type"] == "timebridge.TimeEntryLogged.v1"
    assert headers["ce_source"] == "/timebridge/mapping"
    assert headers["ce_time"].endswith("Z")
    assert headers["ce_subject"] == "acme:everhour:eh_42"
    assert headers["content-type"] == "application/json"
    assert headers["ce_workspaceid"] == "acme"
    assert headers["ce_causationid"] == str(cause.event_id)
    assert headers["ce_correlationid"] == cause.correlation_id == str(cause.event_id)


def test_encode_decode_round_trip_normalises_to_utc() -> None:
    envelope = Envelope.for_event(EVENT, producer="ingest")
    encoded = encode(EVENT, envelope)
    assert encoded.topic == "timebridge.time-entry-logged.v1"
    assert encoded.key == b"acme:everhour:eh_42"
    payload = json.loads(encoded.value)
    assert payload["entry"]["started_at"] == "2026-11-21T04:30:00Z"
    back_envelope, back = decode(encoded.headers, encoded.value, TimeEntryLogged)
    assert back == EVENT
    assert back_envelope.event_id == envelope.event_id
    assert back_envelope.occurred_at == envelope.occurred_at


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, v: ({k: x for k, x in h.items() if k != "ce_id"}, v), "missing CloudEvents"),
        (lambda h, v: ({**h, "ce_specversion": "0.3"}, v), "unsupported ce_specversion"),
        (lambda h, v: ({**h, "ce_id": "nope"}, v), "malformed CloudEvents header"),
        (lambda h, v: ({**h, "ce_time": "2026-11-21T10:00:00"}, v), "UTC offset"),
        (lambda h, v: ({**h, "ce_source": ""}, v), "missing CloudEvents headers: ce_source"),
        (lambda h, v: ({**h, "ce_type": "timebridge.Time-Entry.v1"}, v), "malformed"),
        (lambda h, v: ({**h, "ce_type": "timebridge.EntrySynced.v1"}, v), "expected"),
        (lambda h, v: ({**h, "ce_type": "timebridge.TimeEntryLogged.v2"}, v), "newer"),
        (lambda h, v: (h, b"[1]"), "not a JSON object"),
        (lambda h, v: (h, b"\xff"), "not JSON"),
        (lambda h, v: (h, None), "no value"),
        (lambda h, v: (h, v.replace(b'"poll"', b'"carrier pigeon"')), "observed_via"),
    ],
)
def test_undecodable_records_are_invalid_with_a_reason(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    encoded = encode(EVENT, Envelope.for_event(EVENT, producer="ingest"))
    headers, value = mutate(encoded.headers, encoded.value)
    with pytest.raises(InvalidMessageError, match=reason):
        decode(headers, value, TimeEntryLogged)


def test_envelope_type_must_match_the_event() -> None:
    envelope = Envelope.for_event(EVENT, producer="ingest")
    other = Envelope(
        event_id=uuid.uuid4(),
        type="timebridge.EntrySynced.v1",
        source="/x",
        workspace_id="acme",
        occurred_at=envelope.occurred_at,
    )
    with pytest.raises(ValueError, match="does not match"):
        encode(EVENT, other)


def test_naive_datetimes_and_unknown_zones_are_refused() -> None:
    data = EVENT.model_dump()
    with pytest.raises(ValueError, match="timezone"):
        TimeEntryLogged.model_validate({**data, "updated_at": dt.datetime(2026, 1, 1)})  # noqa: DTZ001
    bad_zone = {**data, "entry": {**data["entry"], "timezone": "Nowhere/Land"}}
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        TimeEntryLogged.model_validate(bad_zone)


def test_old_versions_are_upcast_before_validation() -> None:
    """A v1 record read by a consumer of a (hypothetical) v2 model goes through the upcaster."""
    upcasters = Upcasters()

    @upcasters.register("TimeEntryLogged", 1)
    def _v1_to_v2(payload: dict[str, object]) -> dict[str, object]:
        return {**payload, "upcast": True}

    assert upcasters.upcast("TimeEntryLogged", {"a": 1}, 1, 2) == {"a": 1, "upcast": True}
    assert upcasters.upcast("TimeEntryLogged", {"a": 1}, 2, 2) == {"a": 1}
    with pytest.raises(ValueError, match="no upcaster"):
        upcasters.upcast("TimeEntryLogged", {}, 1, 3)
    with pytest.raises(ValueError, match="already registered"):
        upcasters.register("TimeEntryLogged", 1)(_v1_to_v2)


def test_observation_id_identifies_a_version_not_a_delivery() -> None:
    later = EVENT.model_copy(update={"updated_at": EVENT.updated_at + dt.timedelta(seconds=1)})
    deleted = EVENT.model_copy(update={"deleted": True})
    via_poll = EVENT.model_copy(update={"observed_via": "webhook"})
    assert EVENT.observation_id() == via_poll.observation_id()
    assert len({EVENT.observation_id(), later.observation_id(), deleted.observation_id()}) == 3
    other_workspace = EVENT.model_copy(update={"workspace_id": "other"})
    assert other_workspace.observation_id() != EVENT.observation_id()
