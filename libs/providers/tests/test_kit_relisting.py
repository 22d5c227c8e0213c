"""The kit's re-listing polls: what six observers shared, tested once without a provider."""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from timebridge_providers.kit.ports.observe import Change
from timebridge_providers.kit.relisting import OVERLAP, SincePoll, WindowPoll, deletion

from timebridge_common.errors import InvalidMessageError

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
LOOKBACK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Rec:
    id: str
    body: str
    updated: dt.datetime | None
    date: str = "2026-03-09"


def _poll(cursor: str | None) -> SincePoll[Rec]:
    return SincePoll(
        cursor,
        provider="Test",
        now=NOW,
        lookback=LOOKBACK,
        key=lambda r: r.id,
        version=lambda r: f"{r.updated}#{r.body}",
        updated_at=lambda r: r.updated,
    )


def _change(r: Rec) -> Change:
    return deletion(r.id, NOW, user="u", date=r.date)  # any Change will do: its id is the point


def _gone(record: str, brief: list[object]) -> Change:
    return deletion(record, NOW, user=brief[0], task=brief[1], date=str(brief[-1]))


def test_since_poll_reports_once_follows_the_overlap_and_finds_deletions() -> None:
    first = _poll(None)
    assert first.since == NOW - LOOKBACK
    assert (first.start, first.end) == (dt.date(2026, 3, 3), dt.date(2026, 3, 11))
    a = Rec("a", "x", NOW - dt.timedelta(minutes=5))
    b = Rec("b", "y", NOW - dt.timedelta(hours=2))
    listed = {"a": ["u", "t", "2026-03-09"], "b": ["u", "t", "2026-03-09"]}
    page = first.page([a, b], listed, change=_change, deletion=_gone)
    assert [c.external_id for c in page.changes] == ["a", "b"]
    state = json.loads(page.cursor)
    assert dt.datetime.fromisoformat(state["since"]) == a.updated - OVERLAP  # type: ignore[operator]
    assert set(state["reported"]) == {"a"}  # only what the overlap lists again

    # The overlap lists "a" again unchanged: not reported twice; "b" is gone from the window.
    second = _poll(page.cursor)
    page2 = second.page([a], {"a": listed["a"]}, change=_change, deletion=_gone)
    assert [(c.external_id, c.deleted) for c in page2.changes] == [("b", True)]
    gone = page2.changes[0].fields
    assert (gone.user.external_id, gone.task_external_id, gone.duration_seconds) == ("u", "t", 0)

    # An edit within the same second is a new version.
    edited = Rec("a", "z", a.updated)
    page3 = _poll(page2.cursor).page([edited], {"a": listed["a"]}, change=_change, deletion=_gone)
    assert [c.external_id for c in page3.changes] == ["a"]


def test_a_record_that_left_the_window_by_age_is_not_deleted() -> None:
    cursor = json.dumps({"since": NOW.isoformat(), "ids": {"old": ["u", "", "2026-03-01"]}})
    page = _poll(cursor).page([], {}, change=_change, deletion=_gone)
    assert page.changes == []
    assert json.loads(page.cursor)["since"] == NOW.isoformat()  # nothing new: the same since


def test_window_poll_compares_versions_and_ids() -> None:
    seen: dict[str, list[Any]] = {
        "a": ["v1", "u", None, "t", "2026-03-09"],
        "b": ["v1", "u", "p", "", "2026-03-08"],
    }
    first = WindowPoll(None, provider="Test")
    assert first.is_change("a", "v1")
    assert first.gone(seen, dt.date(2026, 3, 3)) == []
    poll = WindowPoll(WindowPoll.cursor(seen), provider="Test")
    assert not poll.is_change("a", "v1")
    assert poll.is_change("a", "v2")
    assert poll.gone({"a": seen["a"]}, dt.date(2026, 3, 3)) == [("b", seen["b"])]
    assert poll.gone({"a": seen["a"]}, dt.date(2026, 3, 9)) == []  # "b" left by age


@pytest.mark.parametrize("cursor", ["nope", '{"ids": {}}', '{"since": "x", "ids": {}}', "[]"])
def test_a_foreign_cursor_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidMessageError, match="not a Test poll cursor"):
        _poll(cursor)
    with pytest.raises(InvalidMessageError, match="not a Test poll cursor"):
        WindowPoll(cursor, provider="Test")


def test_a_deletion_carries_no_empty_ids() -> None:
    change = deletion("9", NOW, user=7, project="", task=12, date=dt.date(2026, 3, 9))
    fields = change.fields
    assert change.deleted
    assert change.updated_at == NOW
    assert (fields.project_external_id, fields.task_external_id, fields.billable) == (
        None,
        "12",
        False,
    )


def test_without_a_window_only_the_changes_since_count() -> None:
    """Hubstaff's shape: a cursor with no ids, a poll that compares no window."""
    cursor = json.dumps({"since": NOW.isoformat(), "reported": {}})
    a = Rec("a", "x", NOW + dt.timedelta(minutes=1))
    page = _poll(cursor).page([a], {}, change=_change)
    assert [c.external_id for c in page.changes] == ["a"]
    assert json.loads(page.cursor)["reported"] == {"a": f"{a.updated}#x"}
