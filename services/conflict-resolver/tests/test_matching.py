"""Match-by-timestamp rules."""

import datetime as dt
from dataclasses import replace

from timebridge_conflict_resolver.domain.matching import Observation, matches, same_work

T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
CORE = Observation(
    workspace_id="acme",
    source="core",
    external_id="te_1",
    person="ann@acme.test",
    date=dt.date(2026, 11, 21),
    started_at=T0,
    duration_seconds=3600,
    updated_at=T0,
    deleted=False,
)
EVERHOUR = replace(CORE, source="everhour", external_id="eh_9")


def test_same_person_day_start_and_duration_is_the_same_work() -> None:
    assert same_work(CORE, EVERHOUR)
    assert same_work(CORE, replace(EVERHOUR, started_at=T0 + dt.timedelta(seconds=59)))
    assert same_work(CORE, replace(EVERHOUR, duration_seconds=3660))


def test_different_start_duration_person_or_day_is_different_work() -> None:
    assert not same_work(CORE, replace(EVERHOUR, started_at=T0 + dt.timedelta(minutes=2)))
    assert not same_work(CORE, replace(EVERHOUR, duration_seconds=3661))
    assert not same_work(CORE, replace(EVERHOUR, person="bob@acme.test"))
    assert not same_work(CORE, replace(EVERHOUR, date=dt.date(2026, 11, 22)))
    assert not same_work(CORE, replace(EVERHOUR, workspace_id="other"))


def test_without_start_time_durations_must_be_equal() -> None:
    no_start = replace(EVERHOUR, started_at=None)
    assert same_work(CORE, no_start)
    assert not same_work(CORE, replace(no_start, duration_seconds=3599))


def test_entries_of_the_same_system_or_deleted_ones_never_match() -> None:
    assert not same_work(CORE, replace(CORE, external_id="te_2"))
    assert not same_work(CORE, replace(EVERHOUR, deleted=True))
    assert matches(CORE, [CORE, EVERHOUR, replace(EVERHOUR, external_id="x", deleted=True)]) == [
        EVERHOUR
    ]
