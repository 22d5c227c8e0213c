"""The report definition form and a run's progress (pure parts of the Reports pages)."""

import pytest

from timebridge_console.domain.choices import FormError
from timebridge_console.domain.reports import (
    NEW_DEFINITION,
    definition_from_form,
    form_of,
    run_progress,
    schedule_text,
)

FORM = NEW_DEFINITION | {
    "name": "Weekly time",
    "recipients": "pm@client.test, ops@client.test\nboss@client.test",
    "projects": "p1 p2",
    "schedule_kind": "weekly",
    "weekday": "friday",
    "at": "17:30",
    "timezone": "Europe/Berlin",
    "trigger_invoice_paid": "on",
}


def test_a_form_becomes_the_definition_body_and_back() -> None:
    body = definition_from_form(FORM)
    assert body["params"] == {
        "kind": "time",
        "group_by": "project",
        "interval": "total",
        "projects": ["p1", "p2"],
        "clients": [],
    }
    assert body["formats"] == ["pdf", "csv"]
    assert body["recipients"] == ["pm@client.test", "ops@client.test", "boss@client.test"]
    assert body["triggers"] == ["invoice_paid"]
    assert body["schedule"] == {
        "kind": "weekly",
        "timezone": "Europe/Berlin",
        "at": "17:30",
        "weekday": "friday",
    }
    api_answer = body | {"definition_id": "d1", "schedule": body["schedule"] | {"at": "17:30:00"}}
    assert definition_from_form(form_of(api_answer)) == body
    assert schedule_text(body["schedule"]) == "Weekly, Friday 17:30 Europe/Berlin"
    assert schedule_text(None) == "By hand"


def test_no_schedule_cron_and_monthly() -> None:
    assert definition_from_form(FORM | {"schedule_kind": ""})["schedule"] is None
    cron = definition_from_form(FORM | {"schedule_kind": "cron", "cron": " 0 7 * * 1 "})
    assert cron["schedule"] == {"kind": "cron", "timezone": "Europe/Berlin", "cron": "0 7 * * 1"}
    monthly = definition_from_form(FORM | {"schedule_kind": "monthly", "day_of_month": "28"})
    assert monthly["schedule"]["day_of_month"] == 28


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": " "}, "name"),
        ({"format_pdf": "", "format_csv": ""}, "format"),
        ({"kind": "invented"}, "report"),
        ({"schedule_kind": "hourly"}, "schedule"),
        ({"schedule_kind": "monthly", "day_of_month": "31"}, "1 to 28"),
        ({"schedule_kind": "weekly", "weekday": "someday"}, "weekday"),
    ],
)
def test_tampered_or_missing_choices_are_refused(change: dict[str, str], message: str) -> None:
    with pytest.raises(FormError, match=message):
        definition_from_form(FORM | change)


def test_progress_counts_rendering_then_each_delivery() -> None:
    pending = run_progress({"status": "pending", "deliveries": []}, recipients=2)
    assert (pending.done, pending.total, pending.finished) == (0, 3, False)
    sent, waiting = {"status": "sent"}, {"status": "pending"}
    half = run_progress({"status": "done", "deliveries": [sent, waiting]}, recipients=2)
    assert (half.done, half.total, half.finished) == (2, 3, False)
    assert half.label == "Generated; delivered to 1 of 2"
    bounced = run_progress({"status": "done", "deliveries": [sent, {"status": "failed"}]})
    assert (bounced.done, bounced.total, bounced.finished) == (3, 3, True)
    assert bounced.label.endswith("1 failed")
    alone = run_progress({"status": "done", "deliveries": []})
    assert (alone.done, alone.total, alone.finished) == (1, 1, True)
    failed = run_progress({"status": "failed", "error": "boom"})
    assert failed.finished
    assert "boom" in failed.label
