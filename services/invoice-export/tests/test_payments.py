"""Payments of exported invoices on the in-memory store and the accounting port's fake: what
a poll of the tool's payments publishes (``PaymentRecorded``), once per change, and the
invoice's standing that follows from its payments."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from test_handlers import NOW, WS, Rig, _billable_client, _connection, rig
from timebridge_providers.kit.ports.accounting import PaymentApplication, ToolPayment, gone_payment

from timebridge_common.events import InvoiceExportRequested
from timebridge_common.events.payments import PaymentRecorded
from timebridge_invoice_export.domain.payments import overpaid, settlement, standing

__all__ = ["rig"]  # the fixture, shared with the handlers' tests

SINCE = NOW - dt.timedelta(minutes=5)
"""Every poll here reads every payment again (the fake stamps changes NOW)."""


def _payment(external_id: str, amount: str, *invoices: tuple[str, str]) -> ToolPayment:
    return ToolPayment(
        external_id=external_id,
        state="recorded",
        paid_on=dt.date(2026, 12, 1),
        currency="USD",
        amount=Decimal(amount),
        applications=tuple(PaymentApplication(i, Decimal(a)) for i, a in invoices),
    )


async def _exported_invoice(rig: Rig) -> tuple[str, str]:
    """An invoice of 240.00 exported to the tool: (Timebridge's id, the tool's id)."""
    mirrored = await _billable_client(rig)
    day = dt.date(2026, 11, 21)
    draft = await rig.invoices.create(
        WS, mirrored, day, day, issue_date=None, due_date=None, admin="u"
    )
    invoice_id = draft.invoice.invoice_id
    await rig.invoices.request_export(WS, invoice_id)
    ((request, cause),) = rig.published(InvoiceExportRequested)
    assert isinstance(request, InvoiceExportRequested)
    await rig.invoices.perform_export(cause, request)
    async with rig.store.tx() as tx:
        exported = await tx.invoice(invoice_id)
    assert exported is not None
    assert exported.provider_invoice_id is not None
    return invoice_id, exported.provider_invoice_id


def _recorded(rig: Rig) -> list[PaymentRecorded]:
    return [e for e, _ in rig.published(PaymentRecorded) if isinstance(e, PaymentRecorded)]


def _summary(event: PaymentRecorded) -> tuple[str, str, Decimal, Decimal, str, int]:
    return (
        event.provider_payment_id,
        event.state,
        event.applied_amount,
        event.invoice_balance,
        event.invoice_status,
        event.revision,
    )


async def test_two_partial_payments_then_a_void_publish_once_per_change(rig: Rig) -> None:
    invoice_id, tool_id = await _exported_invoice(rig)
    connection = await _connection(rig)

    rig.company.put_payment(_payment("pay-1", "100.00", (tool_id, "100.00")))
    await rig.sync.poll(connection, SINCE)
    await rig.sync.poll(connection, SINCE)  # seen again unchanged: nothing
    rig.company.put_payment(_payment("pay-2", "140.00", (tool_id, "140.00")))
    await rig.sync.poll(connection, SINCE)
    rig.company.set_payment_state("pay-2", "voided")
    await rig.sync.poll(connection, SINCE)
    await rig.sync.poll(connection, SINCE)
    rig.company.set_payment_state("pay-1", "deleted")
    await rig.sync.poll(connection, SINCE)

    events = _recorded(rig)
    assert [_summary(e) for e in events] == [
        ("pay-1", "recorded", Decimal("100.00"), Decimal("140.00"), "partially_paid", 1),
        ("pay-2", "recorded", Decimal("140.00"), Decimal("0.00"), "paid", 1),
        ("pay-2", "voided", Decimal(0), Decimal("140.00"), "partially_paid", 2),
        ("pay-1", "deleted", Decimal(0), Decimal("240.00"), "sent", 2),
    ]
    assert {(e.invoice_id, e.provider_invoice_id, e.payment_amount) for e in events[:2]} == {
        (invoice_id, tool_id, Decimal("100.00")),
        (invoice_id, tool_id, Decimal("140.00")),
    }
    ids = [env.event_id for _, env in rig.published(PaymentRecorded)]
    assert len(set(ids)) == 4
    async with rig.store.tx() as tx:
        held = {p.provider_payment_id: p for p in await tx.invoice_payments(invoice_id)}
    assert ids[2] == held["pay-2"].event_id()  # derived from the payment and its revision


async def test_a_payment_of_several_invoices_and_an_overpayment(rig: Rig) -> None:
    invoice_id, tool_id = await _exported_invoice(rig)
    connection = await _connection(rig)
    overpaid = _payment("pay-9", "300.00", (tool_id, "240.00"), ("not-ours", "10.00"))
    overpaid = replace(overpaid, unapplied=Decimal("50.00"))
    rig.company.put_payment(overpaid)
    await rig.sync.poll(connection, SINCE)
    (event,) = _recorded(rig)  # the invoice that is not Timebridge's is ignored
    assert (event.invoice_id, event.applied_amount, event.unapplied_amount) == (
        invoice_id,
        Decimal("240.00"),
        Decimal("50.00"),
    )
    assert (event.invoice_balance, event.invoice_status) == (Decimal("0.00"), "paid")


async def test_a_payment_moved_to_another_invoice_settles_nothing_of_the_first(rig: Rig) -> None:
    _, tool_id = await _exported_invoice(rig)
    connection = await _connection(rig)
    rig.company.put_payment(_payment("pay-3", "50.00", (tool_id, "50.00")))
    await rig.sync.poll(connection, SINCE)
    rig.company.put_payment(_payment("pay-3", "50.00", ("not-ours", "50.00")))
    await rig.sync.poll(connection, SINCE)
    assert [_summary(e) for e in _recorded(rig)] == [
        ("pay-3", "recorded", Decimal("50.00"), Decimal("190.00"), "partially_paid", 1),
        ("pay-3", "recorded", Decimal(0), Decimal("240.00"), "sent", 2),
    ]


def test_the_standing_follows_from_the_standing_payments_only() -> None:
    seen = _payment("p", "240", ("t", "240"))
    held = settlement(
        None, seen, invoice_id="i", connection_id="c", provider_invoice_id="t", currency="USD"
    )
    assert held is not None
    assert standing(Decimal(240), [held]) == (Decimal(0), "paid")
    again = settlement(
        held, seen, invoice_id="i", connection_id="c", provider_invoice_id="t", currency="USD"
    )
    assert again is None
    assert standing(Decimal(240), []) == (Decimal(240), "sent")


async def test_a_tombstone_deletes_the_payment_as_it_stood(rig: Rig) -> None:
    """A tool saying only "payment 4 deleted" (a change data capture tombstone, a webhook)."""
    invoice_id, tool_id = await _exported_invoice(rig)
    connection = await _connection(rig)
    rig.company.put_payment(_payment("pay-4", "60.00", (tool_id, "60.00")))
    await rig.sync.poll(connection, SINCE)
    rig.company.put_payment(gone_payment("pay-4"))
    rig.company.put_payment(gone_payment("pay-never-seen"))
    await rig.sync.poll(connection, SINCE)
    await rig.sync.poll(connection, SINCE)
    recorded, deleted = _recorded(rig)
    assert (deleted.state, deleted.applied_amount, deleted.invoice_status) == (
        "deleted",
        Decimal(0),
        "sent",
    )
    assert (deleted.paid_on, deleted.payment_amount, deleted.invoice_id) == (
        recorded.paid_on,
        Decimal("60.00"),
        invoice_id,
    )


async def test_the_balance_includes_the_tax_the_tool_adds(rig: Rig) -> None:
    rig.company.tax_rate = Decimal("0.10")  # 240.00 + 24.00 tax
    invoice_id, tool_id = await _exported_invoice(rig)
    connection = await _connection(rig)
    rig.company.put_payment(_payment("pay-1", "240.00", (tool_id, "240.00")))
    await rig.sync.poll(connection, SINCE)
    rig.company.put_payment(_payment("pay-2", "24.00", (tool_id, "24.00")))
    await rig.sync.poll(connection, SINCE)
    assert [_summary(e) for e in _recorded(rig)] == [
        ("pay-1", "recorded", Decimal("240.00"), Decimal("24.00"), "partially_paid", 1),
        ("pay-2", "recorded", Decimal("24.00"), Decimal("0.00"), "paid", 1),
    ]
    async with rig.store.tx() as tx:
        invoice = await tx.invoice(invoice_id)
    assert invoice is not None
    assert (invoice.tool_total, invoice.tool_gross_total) == (Decimal(240), Decimal("264.00"))


async def test_a_payment_beyond_the_total_is_paid_with_the_excess_overpaid(rig: Rig) -> None:
    """Xero and FreshBooks apply the whole payment to the invoice and keep the excess as a
    credit: the invoice is paid, its balance 0 (never negative), the excess recorded."""
    rig.company.tax_rate = Decimal("0.10")
    invoice_id, tool_id = await _exported_invoice(rig)
    connection = await _connection(rig)
    rig.company.put_payment(_payment("pay-1", "300.00", (tool_id, "300.00")))
    await rig.sync.poll(connection, SINCE)
    (event,) = _recorded(rig)
    assert (event.invoice_balance, event.invoice_status, event.invoice_overpaid) == (
        Decimal("0.00"),
        "paid",
        Decimal("36.00"),
    )
    async with rig.store.tx() as tx:
        invoice = await tx.invoice(invoice_id)
    assert invoice is not None
    assert invoice.overpaid == Decimal("36.00")
    rig.company.set_payment_state("pay-1", "deleted")
    await rig.sync.poll(connection, SINCE)
    taken_back = _recorded(rig)[-1]
    assert (taken_back.invoice_balance, taken_back.invoice_overpaid) == (
        Decimal("264.00"),
        Decimal(0),
    )


def test_overpaid_is_what_standing_payments_settle_beyond_the_total() -> None:
    seen = _payment("p", "300", ("t", "300"))
    held = settlement(
        None, seen, invoice_id="i", connection_id="c", provider_invoice_id="t", currency="USD"
    )
    assert held is not None
    assert standing(Decimal(264), [held]) == (Decimal(0), "paid")
    assert overpaid(Decimal(264), [held]) == Decimal(36)
    assert overpaid(Decimal(264), [replace(held, state="voided")]) == Decimal(0)


async def test_a_credit_left_by_a_payment_of_this_invoice_alone_is_overpaid(rig: Rig) -> None:
    """A Xero overpayment settles at most the amount due and keeps the rest as its remaining
    credit: the invoice is paid and the credit recorded as overpaid, until the credit is spent
    on another invoice (then it is no longer this invoice's alone) or the allocation is taken
    back."""
    invoice_id, tool_id = await _exported_invoice(rig)
    connection = await _connection(rig)
    credit = replace(_payment("over-1", "260.00", (tool_id, "240.00")), unapplied=Decimal(20))
    rig.company.put_payment(credit)
    await rig.sync.poll(connection, SINCE)
    rig.company.put_payment(
        replace(
            _payment("over-1", "260.00", (tool_id, "240.00"), ("not-ours", "20.00")),
            unapplied=Decimal(0),
        )
    )
    await rig.sync.poll(connection, SINCE)
    rig.company.put_payment(replace(_payment("over-1", "260.00"), unapplied=Decimal(260)))
    await rig.sync.poll(connection, SINCE)
    assert [
        (e.applied_amount, e.invoice_balance, e.invoice_status, e.invoice_overpaid)
        for e in _recorded(rig)
    ] == [
        (Decimal("240.00"), Decimal("0.00"), "paid", Decimal(20)),
        (Decimal("240.00"), Decimal("0.00"), "paid", Decimal(0)),
        (Decimal(0), Decimal("240.00"), "sent", Decimal(0)),
    ]
    async with rig.store.tx() as tx:
        invoice = await tx.invoice(invoice_id)
    assert invoice is not None
    assert invoice.overpaid == Decimal(0)


def test_a_credit_counts_while_its_payment_stands() -> None:
    seen = replace(_payment("p", "300", ("t", "264")), unapplied=Decimal(36))
    held = settlement(
        None, seen, invoice_id="i", connection_id="c", provider_invoice_id="t", currency="USD"
    )
    assert held is not None
    assert held.credit_amount == Decimal(36)
    assert overpaid(Decimal(264), [held]) == Decimal(36)
    voided = settlement(
        held,
        replace(seen, state="voided"),
        invoice_id="i",
        connection_id="c",
        provider_invoice_id="t",
        currency="USD",
    )
    assert voided is not None
    assert (voided.credit_amount, overpaid(Decimal(264), [voided])) == (Decimal(0), Decimal(0))
