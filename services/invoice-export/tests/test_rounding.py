"""Rounding as a versioned policy: the rule, the versions, and the version each line keeps."""

import datetime as dt
from decimal import Decimal

import pytest
from test_handlers import NOW, WS, Rig, _billable_client, make_rig

from timebridge_common.events import InvoiceExported, InvoiceExportRequested
from timebridge_common.testing import sample_time_entry_logged
from timebridge_invoice_export.domain.rounding import (
    RoundingUsed,
    billed_seconds,
    next_version,
    round_up,
)
from timebridge_invoice_export.handlers.ledger import on_time_entry_logged
from timebridge_invoice_export.handlers.rounding import Rounding
from timebridge_invoice_export.handlers.sync import envelope

DAY = dt.date(2026, 11, 21)


@pytest.fixture
async def rig() -> Rig:
    return await make_rig()


def _used(minutes: int, applies_to: str) -> RoundingUsed:
    return RoundingUsed("workspace", 1, minutes, applies_to)  # type: ignore[arg-type]


def test_time_is_rounded_up_per_entry_or_per_line() -> None:
    calls = [420, 1200]  # 7 and 20 minutes
    assert round_up(420, 15) == 900
    assert round_up(900, 15) == 900
    assert round_up(0, 15) == 0
    assert billed_seconds(calls, None) == 1620
    assert billed_seconds(calls, _used(15, "per_entry")) == 45 * 60
    assert billed_seconds(calls, _used(15, "per_line")) == 30 * 60
    assert billed_seconds(calls, _used(6, "per_entry")) == 36 * 60
    assert billed_seconds(calls, _used(0, "per_entry")) == 1620


def test_each_change_of_the_rule_is_a_new_version_and_a_repeat_is_none() -> None:
    first = next_version(
        None,
        workspace_id=WS,
        client_id="cl_1",
        increment_minutes=15,
        applies_to="per_entry",
        now=NOW,
        admin="u",
    )
    assert first is not None
    assert (first.version, first.policy_id) == (1, "client:cl_1")
    same = dict(workspace_id=WS, client_id="cl_1", now=NOW, admin="u")
    assert next_version(first, increment_minutes=15, applies_to="per_entry", **same) is None  # type: ignore[arg-type]
    second = next_version(first, increment_minutes=15, applies_to="per_line", **same)  # type: ignore[arg-type]
    assert second is not None
    assert second.version == 2


async def _log(rig: Rig, entry_id: str, seconds: int) -> None:
    logged = sample_time_entry_logged(external_id=entry_id)
    logged = logged.model_copy(
        update={
            "entry": logged.entry.model_copy(update={"duration_seconds": seconds}),
            "updated_at": logged.updated_at + dt.timedelta(minutes=1),
        }
    )
    await on_time_entry_logged(rig.store, envelope(logged), logged)


async def _export(rig: Rig, client: str) -> tuple[str, InvoiceExported]:
    draft = await rig.invoices.create(
        WS, client, DAY, DAY, issue_date=None, due_date=None, admin="u"
    )
    invoice_id = draft.invoice.invoice_id
    await rig.invoices.request_export(WS, invoice_id)
    request, cause = next(
        (e, env)
        for e, env in rig.store.state.published
        if isinstance(e, InvoiceExportRequested) and e.invoice_id == invoice_id
    )
    assert isinstance(request, InvoiceExportRequested)
    await rig.invoices.perform_export(cause, request)
    exported = next(
        e
        for e, _ in rig.store.state.published
        if isinstance(e, InvoiceExported) and e.invoice_id == invoice_id
    )
    assert isinstance(exported, InvoiceExported)
    return invoice_id, exported


async def test_an_invoice_keeps_the_version_that_rounded_it_and_the_entries_their_time(
    rig: Rig,
) -> None:
    client = await _billable_client(rig)  # te_1, te_2: one hour each, 120.00 an hour
    await _log(rig, "te_1", 420)
    await _log(rig, "te_2", 1200)
    rounding = Rounding(rig.store, lambda: NOW)
    await rounding.change(WS, None, increment_minutes=6, applies_to="per_line", admin="u")
    await rounding.change(WS, client, increment_minutes=15, applies_to="per_entry", admin="u")
    effective = await rounding.effective(WS, client)
    assert effective is not None
    assert (effective.policy_id, effective.version) == (f"client:{client}", 1)

    first_id, first = await _export(rig, client)
    (line,) = first.lines
    assert (line.quantity_hours, line.amount, first.total) == (
        Decimal("0.75"),
        Decimal("90.00"),
        Decimal("90.00"),
    )
    assert line.rounding is not None
    assert (line.rounding.policy_id, line.rounding.version, line.rounding.applies_to) == (
        f"client:{client}",
        1,
        "per_entry",
    )
    assert line.entry_ids == ("te_1", "te_2")
    async with rig.store.tx() as tx:
        kept = {e.entry_id: e.duration_seconds for e in await tx.entries(WS, uninvoiced=False)}
    assert kept == {"te_1": 420, "te_2": 1200}  # rounding never touches the entries

    changed = await rounding.change(
        WS, client, increment_minutes=15, applies_to="per_line", admin="u"
    )
    again = await rounding.change(
        WS, client, increment_minutes=15, applies_to="per_line", admin="u"
    )
    assert (changed.version, again.version) == (2, 2)
    assert [p.version for p in await rounding.versions(WS, client)] == [1, 2]

    await _log(rig, "te_3", 420)
    await _log(rig, "te_4", 1200)
    _, second = await _export(rig, client)
    (line,) = second.lines
    assert line.quantity_hours == Decimal("0.50")
    assert line.rounding is not None
    assert line.rounding.version == 2
    old = await rig.invoices.view(WS, first_id)
    (old_line,) = old.computed.lines
    assert old_line.rounding is not None
    assert (old_line.rounding.version, old_line.quantity) == (1, Decimal("0.75"))


async def test_without_a_policy_lines_bill_exact_time_and_name_no_version(rig: Rig) -> None:
    client = await _billable_client(rig)
    await _log(rig, "te_1", 420)
    await _log(rig, "te_2", 1200)
    _, exported = await _export(rig, client)
    (line,) = exported.lines
    assert (line.quantity_hours, line.rounding) == (Decimal("0.45"), None)
