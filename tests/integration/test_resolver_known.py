"""What a change reads before it decides, in one statement (``sync_sql.KNOWN``, issue 12): it
must answer exactly what the single look-ups it replaces answer (link, copy and its origins,
other owners' live leases, target records and contributions of the keys asked and of the
link's key, the day's observations only for an entry neither linked nor a copy), on Postgres.
"""

import datetime as dt
import uuid

import asyncpg
import pytest

from timebridge_common.events import Envelope
from timebridge_common.testing import sample_entry_mapped, sample_time_entry_logged
from timebridge_conflict_resolver.adapters.postgres import PostgresObservations, PostgresSync
from timebridge_conflict_resolver.domain.matching import observe
from timebridge_conflict_resolver.domain.records import Slot, Write
from timebridge_conflict_resolver.domain.state import Completion, Link, TargetRecord
from timebridge_conflict_resolver.handlers.ports import Ask, Known

pytestmark = pytest.mark.integration

INTEGRATION = "int_everhour"
EVENT = sample_entry_mapped(integration_id=INTEGRATION)
FIELDS = EVENT.entry
DAY = FIELDS.date
AT = dt.datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture
def pool(resolver_pool: asyncpg.Pool) -> asyncpg.Pool:
    return resolver_pool


def _link(source: str, source_id: str, target: str, key: str, *, active: bool = True) -> Link:
    return Link(source, source_id, target, key, FIELDS, AT, active, FIELDS)


async def _world(store: PostgresSync, observations: PostgresObservations) -> uuid.UUID:
    """Two Core entries in one Everhour record (te_1 moved there from an older one), a Core
    record Timebridge manages (te_9, the copy of ev_9) with another owner writing it, a key of
    the same name in another system, and two observations of the day; the writer's id."""
    records = [
        TargetRecord("everhour", "day|a", "r1", FIELDS, AT, "written"),
        TargetRecord("everhour", "day|b", "r2", None, None, "written"),
        TargetRecord("core", "day|a", "c1", FIELDS, AT, "written"),  # same key, other system
        TargetRecord("core", "core|te_9", "te_9", FIELDS, AT, "written"),
    ]
    links = [
        _link("core", "te_1", "everhour", "day|a"),
        _link("core", "te_2", "everhour", "day|a"),
        _link("core", "te_3", "everhour", "day|a", active=False),
        _link("everhour", "ev_5", "core", "day|a"),  # lands in the other system's "day|a"
        _link("everhour", "ev_9", "core", "core|te_9"),
    ]
    for n, link in enumerate(links):
        done = Completion(
            owner=uuid.uuid4(),
            event=EVENT,
            link=link,
            targets=tuple(records) if n == 0 else (),
        )
        assert await store.complete(done)
    writer = uuid.uuid4()
    slot = Slot("core", "core|te_9", "te_9")
    await store.take_leases(writer, INTEGRATION, [slot], 60)
    await store.plan_write(writer, INTEGRATION, slot, Write("update", FIELDS, None, "k"))
    for n in (1, 2):
        logged = sample_time_entry_logged(external_id=f"ev_{n}", workspace_id=EVENT.workspace_id)
        envelope = Envelope.for_event(logged, producer="ingest")
        await observations.record("test", envelope, observe(logged))
    return writer


async def _one_by_one(
    store: PostgresSync, observations: PostgresObservations, ask: Ask, *, day_wanted: bool
) -> Known:
    """The same answers from the single look-ups ``KNOWN`` replaces."""
    i, target = ask.integration_id, ask.target
    link = await store.link(i, ask.source, ask.source_id)
    copy = await store.counterpart(i, ask.source, ask.source_id)
    keys = list(dict.fromkeys([*ask.keys, *([link.target_key] if link and link.active else [])]))
    leases = []
    if ask.owner is not None:
        leases = await store.writing(i, ask.source, ask.source_id, ask.owner, ask.lease_s)
    same_day = None
    if day_wanted and ask.day is not None:
        same_day = await observations.for_person_day(*ask.day)
    return Known(
        link=link,
        copy=copy,
        copy_origins=await store.contributions(i, copy.system, copy.key) if copy else [],
        leases=leases,
        targets={k: await store.target(i, target, k) for k in keys},
        contributions={k: await store.contributions(i, target, k) for k in keys},
        same_day=same_day,
    )


def _ask(source: str, source_id: str, target: str, *keys: str, day: bool = True) -> Ask:
    person = FIELDS.user.email
    assert person is not None
    return Ask(
        INTEGRATION,
        source,
        source_id,
        target,
        keys,
        owner=uuid.uuid4(),
        lease_s=60,
        day=(EVENT.workspace_id, person.lower(), DAY) if day else None,
    )


async def test_known_answers_what_the_single_look_ups_answer(pool: asyncpg.Pool) -> None:
    store, observations = PostgresSync(pool), PostgresObservations(pool)
    writer = await _world(store, observations)

    moved = _ask("core", "te_1", "everhour", "day|b")  # linked into day|a, now lands in day|b
    known = await store.known(moved)
    assert known == await _one_by_one(store, observations, moved, day_wanted=False)
    assert known.link is not None
    assert known.same_day is None
    assert set(known.targets) == {"day|a", "day|b"}
    assert [c.source_id for c in known.contributions["day|a"]] == ["te_1", "te_2"]

    copy = _ask("core", "te_9", "everhour", "day|c")  # a record Timebridge manages in Core
    known = await store.known(copy)
    assert known == await _one_by_one(store, observations, copy, day_wanted=False)
    assert known.copy is not None
    assert [o.source_id for o in known.copy_origins] == ["ev_9"]
    assert [lease.owner for lease in known.leases] == [writer]
    assert known.targets == {"day|c": None}
    assert known.contributions == {"day|c": []}

    new = _ask("core", "te_new", "everhour", "day|a")  # neither linked nor a copy
    known = await store.known(new)
    assert known == await _one_by_one(store, observations, new, day_wanted=True)
    assert known.same_day is not None
    assert len(known.same_day) == 2

    own = Ask(INTEGRATION, "core", "te_9", "everhour", (), writer, 60, None)  # its own lease
    assert (await store.known(own)).leases == []
    unasked = Ask(INTEGRATION, "core", "te_9", "everhour", (), None, 60, None)
    assert (await store.known(unasked)).leases == []
    new_no_day = _ask("core", "te_new", "everhour", day=False)
    assert (await store.known(new_no_day)).same_day is None
