"""Rates as a choosable source: Timebridge's own or a tracker integration's, per workspace or
per client, and each invoice line records where its rate came from (on the in-memory store)."""

import datetime as dt
from decimal import Decimal

import pytest

from timebridge_common.refusals import InvalidError, NotFoundError
from timebridge_invoice_export.adapters.memory import MemoryStore
from timebridge_invoice_export.adapters.pg.rows import _line, _line_json
from timebridge_invoice_export.domain.accounting import TaxDetails
from timebridge_invoice_export.domain.clients import MirroredClient
from timebridge_invoice_export.domain.invoices import compute
from timebridge_invoice_export.domain.ledger import LedgerEntry
from timebridge_invoice_export.domain.rates import Rate
from timebridge_invoice_export.handlers.billing import Billing, TrackerRate, rates_for

WS = "acme"
NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)


class NoCore:
    async def projects(self, workspace_id: str) -> list[object]:
        return []


def entry(entry_id: str, seconds: int, user: str = "u_ann") -> LedgerEntry:
    return LedgerEntry(
        workspace_id=WS, entry_id=entry_id, user_id=user, user_email=f"{user}@acme.test",
        user_name=None, project_id="p_web", ticket_id=None, date=dt.date(2026, 11, 20),
        duration_seconds=seconds, notes="", billable=True, deleted=False, source_updated_at=NOW,
    )  # fmt: skip


def client(client_id: str) -> MirroredClient:
    return MirroredClient(
        client_id, WS, "conn_1", "tool", client_id, client_id.title(), None, None, TaxDetails(),
        "USD", True, False, None, 1,
    )  # fmt: skip


@pytest.fixture
async def billing() -> tuple[Billing, MemoryStore]:
    store = MemoryStore()
    async with store.tx() as tx:
        await tx.save_client(client("globex"))
        await tx.save_client(client("initech"))
        await tx.put_rate(WS, Rate("r_1", "p_web", None, Decimal("120"), "USD"))
    return Billing(store, NoCore(), lambda: NOW), store  # type: ignore[arg-type]


async def priced_by(store: MemoryStore, client_id: str) -> list[tuple[Decimal, str | None]]:
    async with store.tx() as tx:
        rates = await rates_for(tx, WS, client_id)
    computed = compute(
        [entry("te_1", 3600), entry("te_2", 1800, user="u_max")],
        [],
        rates,
        client_currency="USD",
        project_names={"p_web": "Website"},
    )
    return [(line.unit_price, line.rate_source) for line in computed.lines]


async def test_timebridges_own_rates_by_default_and_each_line_says_so(
    billing: tuple[Billing, MemoryStore],
) -> None:
    found, store = billing
    assert await found.rate_source(WS, None) is None
    assert await priced_by(store, "globex") == [
        (Decimal("120"), "timebridge"),
        (Decimal("120"), "timebridge"),
    ]


async def test_a_trackers_rates_bill_the_workspace_and_a_client_can_choose_otherwise(
    billing: tuple[Billing, MemoryStore],
) -> None:
    found, store = billing
    await found.put_tracker_rates(
        WS,
        "int_1",
        [("p_web", None, Decimal("100"), "USD"), ("p_web", "u_max", Decimal("150"), "USD")],
    )
    await found.choose_rate_source(WS, None, "int_1")  # the workspace takes the tracker's
    await found.choose_rate_source(WS, "initech", None)  # but Initech keeps Timebridge's
    assert await priced_by(store, "globex") == [
        (Decimal("100"), "tracker:int_1"),
        (Decimal("150"), "tracker:int_1"),  # the tracker's member-on-project override
    ]
    assert await priced_by(store, "initech") == [
        (Decimal("120"), "timebridge"),
        (Decimal("120"), "timebridge"),
    ]
    assert await found.rate_source(WS, "globex") == "int_1"
    assert await found.rate_source(WS, "initech") is None


async def test_a_new_reading_of_the_trackers_rates_replaces_the_old_one(
    billing: tuple[Billing, MemoryStore],
) -> None:
    found, _ = billing
    await found.put_tracker_rates(WS, "int_1", [("p_web", None, Decimal("100"), "USD")])
    await found.put_tracker_rates(WS, "int_1", [(None, "u_ann", Decimal("90"), "USD")])
    await found.choose_rate_source(WS, "globex", "int_1")
    computed = compute(
        [entry("te_1", 3600), entry("te_2", 1800, user="u_max")],
        [],
        await found.tracker_rates(WS, "int_1"),
        client_currency="USD",
        project_names={},
    )
    assert [(line.unit_price, line.rate_source) for line in computed.lines] == [
        (Decimal("90"), "tracker:int_1")
    ]
    assert [p.code for p in computed.problems] == ["no_rate"]  # Max has none in the tracker


async def test_bad_tracker_rates_and_unknown_clients_are_refused(
    billing: tuple[Billing, MemoryStore],
) -> None:
    found, _ = billing
    with pytest.raises(InvalidError):
        await found.put_tracker_rates(WS, "int_1", [(None, None, Decimal("1"), "USD")])
    twice: list[TrackerRate] = [
        ("p_web", None, Decimal("1"), "USD"),
        ("p_web", None, Decimal("2"), "USD"),
    ]
    with pytest.raises(InvalidError):
        await found.put_tracker_rates(WS, "int_1", twice)
    with pytest.raises(NotFoundError):
        await found.choose_rate_source(WS, "nobody", "int_1")


def test_the_rate_source_is_stored_with_the_line_and_old_lines_read_without_one() -> None:
    computed = compute(
        [entry("te_1", 3600)],
        [],
        [Rate("tr_1", "p_web", None, Decimal("100"), "USD", "tracker:int_1")],
        client_currency="USD",
        project_names={},
    )
    (line,) = computed.lines
    assert _line(_line_json(line)).rate_source == "tracker:int_1"
    old = {k: v for k, v in _line_json(line).items() if k != "rate_source"}
    assert _line(old).rate_source is None
