"""Rollup arithmetic: a new version replaces the old one, a delete subtracts, a stale or
repeated version changes nothing."""

import datetime as dt

from timebridge_common.testing import sample_time_entry_logged
from timebridge_reporting.domain.facts import RollupDelta, fact_of, rollup_deltas

T = dt.datetime(2026, 11, 21, 10, 1, tzinfo=dt.UTC)


def totals(deltas: list[RollupDelta]) -> list[tuple[str, dt.date, int, int, int]]:
    return sorted(
        (d.key.project_id, d.key.work_date, d.seconds, d.billable_seconds, d.entries)
        for d in deltas
    )


def test_a_new_entry_adds_itself() -> None:
    new = fact_of(sample_time_entry_logged())
    assert totals(rollup_deltas(None, new)) == [("p_1", dt.date(2026, 11, 21), 3600, 3600, 1)]


def test_an_edit_moves_the_time_between_rollup_rows() -> None:
    old = fact_of(sample_time_entry_logged())
    logged = sample_time_entry_logged(updated_at=T + dt.timedelta(minutes=5))
    moved = logged.entry.model_copy(
        update={"project_external_id": "p_2", "duration_seconds": 1800, "billable": False}
    )
    new = fact_of(logged.model_copy(update={"entry": moved}))
    assert totals(rollup_deltas(old, new)) == [
        ("p_1", dt.date(2026, 11, 21), -3600, -3600, -1),
        ("p_2", dt.date(2026, 11, 21), 1800, 0, 1),
    ]


def test_an_edit_on_the_same_row_is_one_net_delta() -> None:
    old = fact_of(sample_time_entry_logged())
    logged = sample_time_entry_logged(updated_at=T + dt.timedelta(minutes=5))
    new = fact_of(
        logged.model_copy(
            update={"entry": logged.entry.model_copy(update={"duration_seconds": 60})}
        )
    )
    assert totals(rollup_deltas(old, new)) == [("p_1", dt.date(2026, 11, 21), -3540, -3540, 0)]


def test_a_delete_subtracts_and_a_stale_or_repeated_version_changes_nothing() -> None:
    old = fact_of(sample_time_entry_logged())
    deleted = fact_of(sample_time_entry_logged(updated_at=T + dt.timedelta(1), deleted=True))
    assert totals(rollup_deltas(old, deleted)) == [("p_1", dt.date(2026, 11, 21), -3600, -3600, -1)]
    assert rollup_deltas(deleted, old) == []
    assert rollup_deltas(old, old) == []
    same_instant_delete = fact_of(sample_time_entry_logged(deleted=True))
    assert len(rollup_deltas(old, same_instant_delete)) == 1


def test_a_second_edit_in_the_same_second_replaces_the_first() -> None:
    """Trackers stamp to the second: other content at the same stamp is a later edit; the
    directory's email or name of the user is not."""
    logged = sample_time_entry_logged()
    old = fact_of(logged)
    edited = logged.entry.model_copy(update={"duration_seconds": 1800})
    new = fact_of(logged.model_copy(update={"entry": edited}))
    assert totals(rollup_deltas(old, new)) == [("p_1", dt.date(2026, 11, 21), -1800, -1800, 0)]
    renamed = logged.entry.model_copy(
        update={"user": logged.entry.user.model_copy(update={"name": "A"})}
    )
    assert rollup_deltas(old, fact_of(logged.model_copy(update={"entry": renamed}))) == []
    gone = fact_of(sample_time_entry_logged(deleted=True))
    assert rollup_deltas(gone, new) == []


def test_a_running_timer_is_not_counted_until_it_stops() -> None:
    logged = sample_time_entry_logged()
    running = fact_of(
        logged.model_copy(
            update={
                "entry": logged.entry.model_copy(update={"ended_at": None, "duration_seconds": 0})
            }
        )
    )
    assert running.running
    assert rollup_deltas(None, running) == []
    stopped = fact_of(sample_time_entry_logged(updated_at=T + dt.timedelta(hours=1)))
    assert totals(rollup_deltas(running, stopped)) == [
        ("p_1", dt.date(2026, 11, 21), 3600, 3600, 1)
    ]
