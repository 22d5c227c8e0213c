"""The pure rules of billing: rounding, which rate applies, lines and totals, the tool's view."""

import datetime as dt
from decimal import Decimal

import pytest

from timebridge_common.testing import sample_time_entry_logged
from timebridge_invoice_export.domain.accounting import Address, TaxDetails, ToolClient, ToolInvoice
from timebridge_invoice_export.domain.clients import archived, client_id, mirror
from timebridge_invoice_export.domain.invoices import (
    Expense,
    ToolView,
    compute,
    deletion_refusal,
    tool_update,
)
from timebridge_invoice_export.domain.ledger import Held, LedgerEntry, decide, ledger_entry
from timebridge_invoice_export.domain.money import hours, line_amount, minor_unit
from timebridge_invoice_export.domain.rates import Rate, applicable_rate

DAY = dt.date(2026, 11, 20)
T0 = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def entry(
    entry_id: str,
    seconds: int,
    *,
    user: str = "u_ann",
    project: str | None = "p_web",
    **overrides: object,
) -> LedgerEntry:
    values: dict[str, object] = {
        "workspace_id": "acme",
        "entry_id": entry_id,
        "user_id": user,
        "user_email": f"{user}@acme.test",
        "user_name": {"u_ann": "Ann", "u_max": "Max"}.get(user),
        "project_id": project,
        "ticket_id": None,
        "date": DAY,
        "duration_seconds": seconds,
        "notes": "",
        "billable": True,
        "deleted": False,
        "source_updated_at": T0,
    }
    return LedgerEntry(**(values | overrides))  # type: ignore[arg-type]


def rate(
    rate_id: str,
    amount: str,
    *,
    project: str | None = None,
    user: str | None = None,
    currency: str = "USD",
) -> Rate:
    return Rate(rate_id, project, user, Decimal(amount), currency)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(5400, "1.50"), (60, "0.02"), (17, "0.00"), (18, "0.01"), (3599, "1.00"), (0, "0.00")],
)
def test_hours_are_rounded_half_up_to_hundredths(seconds: int, expected: str) -> None:
    assert hours(seconds) == Decimal(expected)


def test_amounts_round_to_the_currency_minor_unit() -> None:
    assert line_amount(Decimal("1.33"), Decimal("99.99"), "USD") == Decimal("132.99")
    assert line_amount(Decimal("1.33"), Decimal("12345"), "JPY") == Decimal("16419")
    assert line_amount(Decimal("0.01"), Decimal("12.345"), "KWD") == Decimal("0.123")
    assert minor_unit("eur") == Decimal("0.01")


def test_the_most_specific_rate_applies() -> None:
    rates = [
        rate("r_user", "100", user="u_ann"),
        rate("r_project", "150", project="p_web"),
        rate("r_both", "180", project="p_web", user="u_ann"),
    ]
    assert applicable_rate(rates, "p_web", "u_ann") == rates[2]
    assert applicable_rate(rates, "p_web", "u_max") == rates[1]
    assert applicable_rate(rates, "p_other", "u_ann") == rates[0]
    assert applicable_rate(rates, None, "u_ann") == rates[0]
    assert applicable_rate(rates, "p_other", "u_max") is None


def test_lines_group_hours_per_project_person_and_rate_and_sum_before_rounding() -> None:
    entries = [entry("te_1", 1000), entry("te_2", 1000), entry("te_3", 1000, user="u_max")]
    rates = [rate("r_web", "120.00", project="p_web")]
    expenses = [
        Expense("ex_1", "acme", "p_web", DAY, "Train ticket", Decimal("48.505"), "USD", True)
    ]
    computed = compute(
        entries, expenses, rates, client_currency="USD", project_names={"p_web": "Website"}
    )
    assert computed.problems == ()
    assert [
        (line.description, line.quantity, line.amount, line.entry_ids) for line in computed.lines
    ] == [
        ("Website - Ann", Decimal("0.56"), Decimal("67.20"), ("te_1", "te_2")),
        ("Website - Max", Decimal("0.28"), Decimal("33.60"), ("te_3",)),
        ("Train ticket", Decimal(1), Decimal("48.51"), ()),
    ]
    assert computed.total == Decimal("149.31")
    assert computed.currency == "USD"


def test_unpriced_entries_and_foreign_currencies_are_problems_not_zeroes() -> None:
    entries = [entry("te_1", 3600), entry("te_2", 3600, user="u_max")]
    rates = [rate("r_ann", "100", user="u_ann", currency="EUR")]
    computed = compute(entries, [], rates, client_currency="USD", project_names={})
    codes = {p.code: p for p in computed.problems}
    assert set(codes) == {"no_rate", "currency_mismatch"}
    assert codes["no_rate"].entry_ids == ("te_2",)
    assert codes["currency_mismatch"].entry_ids == ("te_1",)
    assert computed.lines == ()
    assert computed.total == 0


def test_a_client_without_currency_takes_the_one_of_its_rates() -> None:
    computed = compute(
        [entry("te_1", 3600)],
        [],
        [rate("r", "90", project="p_web", currency="NZD")],
        client_currency=None,
        project_names={},
    )
    assert (computed.currency, computed.total, computed.problems) == ("NZD", Decimal("90.00"), ())


def test_nothing_billable_is_a_problem() -> None:
    computed = compute([], [], [], client_currency="USD", project_names={})
    assert [p.code for p in computed.problems] == ["empty"]


def test_ledger_takes_core_entries_newest_first_and_locks_exported_ones() -> None:
    logged = sample_time_entry_logged()
    new = ledger_entry(logged)
    assert new is not None
    assert (new.entry_id, new.user_id, new.duration_seconds, new.billable) == (
        "te_1",
        "u_1",
        3600,
        True,
    )
    assert ledger_entry(sample_time_entry_logged(source="everhour")) is None
    older = Held(logged.updated_at + dt.timedelta(seconds=1), None, False)
    assert decide(older, new) == "stale"
    assert decide(Held(logged.updated_at, None, False), new) == "stale"
    before = logged.updated_at - dt.timedelta(seconds=1)
    assert decide(Held(before, "inv_1", False), new) == "apply"
    assert decide(Held(before, "inv_1", True), new) == "locked"
    assert decide(None, new) == "apply"


def test_an_exported_invoice_is_deleted_only_once_the_tool_no_longer_has_it() -> None:
    assert deletion_refusal("draft", None, "Xero") is None
    assert deletion_refusal("export_failed", None, "Xero") is None
    assert "being copied" in (deletion_refusal("exporting", None, "Xero") or "")
    assert "delete or void it in Xero first" in (deletion_refusal("exported", "sent", "Xero") or "")
    assert deletion_refusal("exported", "deleted", "Xero") is None
    assert deletion_refusal("exported", "voided", "Xero") is None


def seen(
    status: str = "sent", total: str = "180.00", at: int = 0, number: str = "INV-7"
) -> ToolInvoice:
    return ToolInvoice(
        external_id="x1",
        client_external_id="c1",
        number=number,
        issue_date=DAY,
        due_date=None,
        status=status,  # type: ignore[arg-type]
        total=Decimal(total),
        currency="USD",
        updated_at=T0 + dt.timedelta(minutes=at),
    )


VIEW = ToolView("draft", "INV-7", DAY, Decimal("180.00"), Decimal("180.00"), T0)


def test_status_number_date_and_amount_changes_are_recorded_once() -> None:
    assert tool_update(VIEW, seen("draft", at=1)) is None
    sent = tool_update(VIEW, seen("sent", at=1))
    assert sent is not None
    assert (sent.tool_status, sent.amount_changed) == ("sent", False)
    renumbered = tool_update(VIEW, seen("draft", at=1, number="INV-8"))
    assert renumbered is not None
    assert renumbered.number == "INV-8"


def test_an_amount_changed_in_the_tool_is_flagged_with_both_amounts() -> None:
    update = tool_update(VIEW, seen("draft", total="200.00", at=1))
    assert update is not None
    assert (update.tool_total, update.amount_changed) == (Decimal("200.00"), True)


def test_voiding_or_deleting_keeps_the_last_amount_and_raises_no_amount_warning() -> None:
    for status in ("voided", "deleted"):
        update = tool_update(VIEW, seen(status, total="0", at=1))
        assert update is not None
        assert (update.tool_status, update.tool_total, update.amount_changed) == (
            status,
            Decimal("180.00"),
            False,
        )


def test_an_older_version_than_the_one_seen_changes_nothing() -> None:
    assert tool_update(VIEW, seen("paid", at=-5)) is None


def tool_client(name: str = "Globex", *, active: bool = True, at: int = 0) -> ToolClient:
    return ToolClient(
        external_id="58",
        name=name,
        email="ap@globex.test",
        address=Address(line1="1 Main St", city="Springfield"),
        tax=TaxDetails(tax_number="EIN-1"),
        currency="USD",
        active=active,
        updated_at=T0 + dt.timedelta(minutes=at),
    )


def test_the_mirror_follows_the_tool_and_never_goes_back() -> None:
    first = mirror(None, tool_client(), workspace_id="acme", connection_id="acc_1", provider="xero")
    assert first is not None
    assert (first.client_id, first.revision, first.status) == (
        client_id("acc_1", "58"),
        1,
        "active",
    )
    assert (
        mirror(first, tool_client(), workspace_id="acme", connection_id="acc_1", provider="xero")
        is None
    )
    renamed = mirror(
        first,
        tool_client("Globex Corp", at=5),
        workspace_id="acme",
        connection_id="acc_1",
        provider="xero",
    )
    assert renamed is not None
    assert (renamed.name, renamed.revision) == ("Globex Corp", 2)
    stale = mirror(
        renamed,
        tool_client("Old name", at=1),
        workspace_id="acme",
        connection_id="acc_1",
        provider="xero",
    )
    assert stale is None
    gone = mirror(
        renamed,
        tool_client("Globex Corp", active=False, at=6),
        workspace_id="acme",
        connection_id="acc_1",
        provider="xero",
    )
    assert gone is not None
    assert (gone.status, gone.archived_by) == ("archived", "tool")


def test_an_archive_in_timebridge_survives_changes_from_the_tool() -> None:
    first = mirror(None, tool_client(), workspace_id="acme", connection_id="acc_1", provider="xero")
    assert first is not None
    shelved = archived(first, True)
    assert shelved is not None
    assert (shelved.status, shelved.archived_by) == ("archived", "timebridge")
    assert archived(shelved, True) is None
    renamed = mirror(
        shelved,
        tool_client("Globex Corp", at=5),
        workspace_id="acme",
        connection_id="acc_1",
        provider="xero",
    )
    assert renamed is not None
    assert (renamed.name, renamed.status) == ("Globex Corp", "archived")
