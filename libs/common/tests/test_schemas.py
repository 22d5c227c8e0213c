"""The published JSON Schemas agree with the models and evolve compatibly."""

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from timebridge_common.events import ALL_EVENTS, Envelope
from timebridge_common.events.codec import encode
from timebridge_common.events.schemas import generate, incompatibilities, revisions
from timebridge_common.testing import (
    sample_accounting_change_notified,
    sample_client_changed,
    sample_connection_changed,
    sample_entry_mapped,
    sample_entry_synced,
    sample_invoice_deleted,
    sample_invoice_export_requested,
    sample_invoice_exported,
    sample_invoice_status_changed,
    sample_time_entry_logged,
)

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.type_name())
def test_latest_published_revision_equals_the_model(model: Any) -> None:
    published = revisions(SCHEMAS, model)
    assert published, f"no schema published for {model.type_name()}: run make schemas"
    assert json.loads(published[-1].read_text()) == generate(model), "run make schemas"


@pytest.mark.parametrize("model", ALL_EVENTS, ids=lambda m: m.type_name())
def test_each_revision_is_compatible_with_the_previous(model: Any) -> None:
    published = [json.loads(p.read_text()) for p in revisions(SCHEMAS, model)]
    for old, new in itertools.pairwise(published):
        assert incompatibilities(old, new) == []


@pytest.mark.parametrize(
    "event",
    [
        sample_time_entry_logged(),
        sample_entry_mapped(),
        sample_entry_synced(),
        sample_invoice_exported(),
        sample_connection_changed(),
        sample_invoice_status_changed(),
        sample_invoice_deleted(),
        sample_invoice_export_requested(),
        sample_accounting_change_notified(),
        sample_client_changed(),
    ],
    ids=lambda e: e.type_name(),
)
def test_encoded_events_validate_against_their_published_schema(event: Any) -> None:
    schema = json.loads(revisions(SCHEMAS, type(event))[-1].read_text())
    value = json.loads(encode(event, Envelope.for_event(event, producer="t")).value)
    jsonschema.validate(value, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**value, "workspace_id": "not a workspace!"}, schema)


BASE = generate(ALL_EVENTS[0])


def _changed(fn: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    fn(schema)
    return schema


def test_adding_an_optional_property_is_compatible() -> None:
    new = _changed(lambda s: s["properties"].update(comment={"type": "string"}))
    assert incompatibilities(BASE, new) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: s["properties"].pop("deleted"), "$.deleted: removed"),
        (
            lambda s: (s["properties"].update(x={"type": "string"}), s["required"].append("x")),
            "$.x: became required",
        ),
        (lambda s: s["required"].remove("external_id"), "$.external_id: no longer required"),
        (lambda s: s["properties"]["deleted"].update(type="string"), "$.deleted.type"),
        (lambda s: s["$defs"]["UserRef"]["properties"].pop("email"), "$.entry.user.email"),
        (
            lambda s: s["properties"]["observed_via"]["enum"].append("email"),
            "$.observed_via.enum",
        ),
    ],
)
def test_breaking_changes_are_detected(change: Any, problem: str) -> None:
    problems = incompatibilities(BASE, _changed(change))
    assert any(p.startswith(problem) for p in problems), problems
