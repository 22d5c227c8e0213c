"""The observation id: one per version of an entry, a version being its stamp and its content."""

import datetime as dt

from timebridge_common.events import TimeEntryFields, TimeEntryLogged, UserRef

STAMP = dt.datetime(2026, 11, 21, 4, 31, 7, tzinfo=dt.UTC)
FIELDS = TimeEntryFields(
    user=UserRef(external_id="9", email="ann@acme.test", name="Ann"),
    task_external_id="ev:123",
    date=dt.date(2026, 11, 20),
    started_at=dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    duration_seconds=900,
    notes="Design",
    billable=True,
    timezone="America/New_York",
)
EVENT = TimeEntryLogged(
    workspace_id="acme",
    source="everhour",
    external_id="eh_42",
    entry=FIELDS,
    updated_at=STAMP,
    observed_via="poll",
)


def _with(**fields: object) -> TimeEntryLogged:
    return EVENT.model_copy(update={"entry": FIELDS.model_copy(update=fields)})


def test_two_edits_stamped_in_the_same_second_are_two_versions() -> None:
    """The regression: the id was the stamp alone, so the second edit was dropped downstream."""
    edited = _with(duration_seconds=1200)
    renoted = _with(notes="Design and review")
    ids = {EVENT.observation_id(), edited.observation_id(), renoted.observation_id()}
    assert len(ids) == 3
    assert not edited.same_version(EVENT.updated_at, EVENT.entry, EVENT.deleted)


def test_every_sighting_of_one_version_has_the_same_id() -> None:
    """Webhook vs poll: the path, the directory's email and name of the user, and the offset a
    time was written with are not the entry's content."""
    webhook = EVENT.model_copy(update={"observed_via": "webhook"})
    bare_user = _with(user=UserRef(external_id="9"))
    same_instant = _with(started_at=dt.datetime(2026, 11, 21, 4, 30, tzinfo=dt.UTC))
    for sighting in (webhook, bare_user, same_instant):
        assert sighting.observation_id() == EVENT.observation_id()
        assert sighting.same_version(EVENT.updated_at, EVENT.entry, EVENT.deleted)
    other_user = _with(user=UserRef(external_id="10"))
    assert other_user.observation_id() != EVENT.observation_id()


def test_a_deletion_is_its_stamp_whatever_it_last_knew() -> None:
    deleted = EVENT.model_copy(update={"deleted": True})
    gone_bare = _with(duration_seconds=0, notes="").model_copy(update={"deleted": True})
    assert deleted.observation_id() == gone_bare.observation_id() != EVENT.observation_id()
    assert deleted.same_version(STAMP, gone_bare.entry, True)
    later = EVENT.model_copy(update={"updated_at": STAMP + dt.timedelta(seconds=1)})
    assert later.observation_id() != EVENT.observation_id()
    assert EVENT.model_copy(update={"workspace_id": "o"}).observation_id() != EVENT.observation_id()
