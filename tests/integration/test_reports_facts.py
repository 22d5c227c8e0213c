"""Reports' read models on the real database: entry facts and rollups fed by entry versions.

The rollups must always equal a GROUP BY over the live entries, whatever order, repetition or
staleness the versions arrive in.
"""

import datetime as dt
import random
from collections.abc import Awaitable, Callable

import asyncpg

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.testing import sample_client_changed, sample_invoice_exported
from timebridge_common.testing import sample_time_entry_logged as logged
from timebridge_reporting.adapters.facts import PostgresFacts
from timebridge_reporting.handlers.facts import (
    on_client_changed,
    on_invoice_amounts,
    on_time_entry_logged,
)

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
ROLLUPS = (
    "SELECT source, user_id, project_id, work_date, seconds, billable_seconds, entries"
    " FROM report_rollups WHERE entries <> 0 OR seconds <> 0 ORDER BY 1, 2, 3, 4"
)
GROUPED = (
    "SELECT source, user_id, project_id, work_date, sum(seconds) AS seconds,"
    " sum(CASE WHEN billable THEN seconds ELSE 0 END) AS billable_seconds, count(*) AS entries"
    " FROM report_entries WHERE NOT deleted AND NOT running GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
)


def version(entry_id: str, minute: int, **fields: object) -> TimeEntryLogged:
    base = logged(external_id=entry_id, updated_at=T0 + dt.timedelta(minutes=minute))
    deleted = bool(fields.pop("deleted", False))
    return base.model_copy(
        update={"entry": base.entry.model_copy(update=fields), "deleted": deleted}
    )


async def test_rollups_follow_edits_deletes_redeliveries_and_stale_versions(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("reports-facts"))
    await apply_migrations(pool, "timebridge_reporting.adapters.migrations")
    facts = PostgresFacts(pool)
    rng = random.Random(7)
    versions: list[TimeEntryLogged] = []
    for n in range(12):
        for minute in range(4):
            versions.append(
                version(
                    f"te_{n}",
                    minute,
                    duration_seconds=rng.choice([600, 1800, 3600]),
                    project_external_id=rng.choice(["p_1", "p_2"]),
                    billable=rng.choice([True, False]),
                    date=dt.date(2026, 11, rng.choice([20, 21])),
                    deleted=(minute == 3 and n % 3 == 0),
                )
            )
    envelopes = [Envelope.for_event(v, producer="test") for v in versions]
    order = list(zip(envelopes, versions, strict=True))
    rng.shuffle(order)
    for envelope, event in order + order[:10]:  # out of order, then some redelivered
        await on_time_entry_logged(facts, envelope, event)

    rollups = [dict(r) for r in await pool.fetch(ROLLUPS)]
    assert rollups == [dict(r) for r in await pool.fetch(GROUPED)]
    live = await pool.fetch("SELECT external_id, seconds FROM report_entries WHERE NOT deleted")
    latest = {v.external_id: v for v in versions if v.updated_at == T0 + dt.timedelta(minutes=3)}
    assert {r["external_id"]: r["seconds"] for r in live} == {
        i: v.entry.duration_seconds for i, v in latest.items() if not v.deleted
    }
    assert sum(r["seconds"] for r in rollups) == sum(r["seconds"] for r in live)
    assert await facts.freshness("acme") == max(e.occurred_at for e in envelopes)


async def test_clients_and_invoiced_amounts_per_project(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("reports-clients"))
    await apply_migrations(pool, "timebridge_reporting.adapters.migrations")
    facts = PostgresFacts(pool)
    invoice = sample_invoice_exported()
    lines = tuple(line.model_copy(update={"project_id": "p_1"}) for line in invoice.lines)
    invoice = invoice.model_copy(update={"lines": lines + lines})
    envelope = Envelope.for_event(invoice, producer="test")
    assert await on_invoice_amounts(facts, envelope, invoice)
    assert not await on_invoice_amounts(facts, envelope, invoice)
    for revision, name in ((2, "Globex Inc."), (1, "Globex")):
        client = sample_client_changed(client_id="cl_1", revision=revision, display_name=name)
        await on_client_changed(facts, Envelope.for_event(client, producer="test"), client)
    row = await pool.fetchrow(
        "SELECT a.amount, c.name FROM report_invoice_amounts a JOIN report_project_clients p"
        " USING (workspace_id, project_id) JOIN report_clients c"
        " ON c.workspace_id = p.workspace_id AND c.client_id = p.client_id"
    )
    assert (str(row["amount"]), row["name"]) == ("360.00", "Globex Inc.")
