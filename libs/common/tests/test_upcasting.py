"""Every registered upcaster of the published events has a test here.

The guard below fails when an upcaster is registered in ``UPCASTERS`` without a matching entry in
``TESTED``; add the step's test and its key together.
"""

import json

import pytest

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import ConnectionChanged, ConnectionChangedV1, Envelope
from timebridge_common.events.codec import decode, encode
from timebridge_common.events.connections import upcast_v1
from timebridge_common.events.upcasting import UPCASTERS
from timebridge_common.testing import sample_connection_changed_v1

TESTED: set[tuple[str, int]] = {("ConnectionChanged", 1)}


def test_every_registered_upcaster_is_tested() -> None:
    untested = set(UPCASTERS.registered()) - TESTED
    assert not untested, f"upcasters without a test: {sorted(untested)}"


def test_connection_changed_v1_decodes_as_v2_without_the_sealed_credential() -> None:
    old = sample_connection_changed_v1(revision=7)
    record = encode(old, Envelope.for_event(old, producer="ingest"))
    assert record.topic == "timebridge.connection-changed.v1"
    assert json.loads(record.value)["credentials_encrypted"] == "v1:AAAA"
    envelope, event = decode(record.headers, record.value, ConnectionChanged)
    assert envelope.type == "timebridge.ConnectionChanged.v1"
    assert isinstance(event, ConnectionChanged)
    assert "credentials_encrypted" not in event.model_dump()
    expected = old.model_dump(exclude={"credentials_encrypted"})
    assert event.model_dump() == expected
    assert upcast_v1(old) == event


def test_connection_changed_v2_is_its_own_topic_and_carries_no_credential() -> None:
    assert ConnectionChanged.topic() == "timebridge.connection-changed.v2"
    assert ConnectionChanged.type_name() == "timebridge.ConnectionChanged.v2"
    assert "credentials_encrypted" not in ConnectionChanged.model_fields
    assert ConnectionChangedV1.topic() == "timebridge.connection-changed.v1"


def test_a_v2_record_is_not_read_as_v1() -> None:
    new = upcast_v1(sample_connection_changed_v1())
    record = encode(new, Envelope.for_event(new, producer="ingest"))
    with pytest.raises(InvalidMessageError, match="newer"):
        decode(record.headers, record.value, ConnectionChangedV1)
