"""Payments by webhook, on the in-memory store and the accounting port's fake: a notice naming a
payment (QuickBooks Online, FreshBooks) is read and recorded like a poll would record it, and a
tool whose webhooks name only the invoice (Xero) has the invoice's payments re-read; poll and
webhook seeing the same payment publish it once."""

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

import pytest
from test_handlers import NOW, WS, FakeTools, Rig, _connection, make_rig
from test_payments import SINCE, _exported_invoice, _payment, _recorded
from timebridge_providers.kit.ports.accounting import WebhookSpec

from timebridge_common.events import AccountingChangeNotified, Envelope
from timebridge_common.events.payments import AccountingPaymentNotified
from timebridge_invoice_export.adapters.memory_verifications import MemoryVerifications
from timebridge_invoice_export.handlers.notifications import Notifications
from timebridge_invoice_export.handlers.verifications import CallbackVerifications

TOOL = "fakebooks"


@dataclass
class InvoiceNoticesOnly(FakeTools):
    """The fake tool, with webhooks that name invoices only (as Xero's do)."""

    def webhooks(self, provider: str) -> WebhookSpec | None:
        return WebhookSpec(
            scope="app",
            signature_header="x-signature",
            verify=lambda secret, body, signature: False,
            parse=lambda body: [],
            invoice_notices_cover_payments=True,
        )


@pytest.fixture
async def rig() -> Rig:
    return await make_rig()


def _notifications(rig: Rig, tools: FakeTools) -> Notifications:
    return Notifications(
        rig.store,
        rig.connections,
        rig.sync,
        cast(Any, None),  # the consumers publish nothing through the webhook publisher
        tools=tools,
        publish_timeout_s=1,
        window=cast(Any, None),
        verifications=CallbackVerifications(
            rig.store, MemoryVerifications(rig.store), rig.connections, lambda: NOW
        ),
        connection_window_s=60,
        clock=lambda: NOW,
    )


def _payment_notice(payment_id: str, operation: str = "Create") -> AccountingPaymentNotified:
    connection_id = "acc_1"
    return AccountingPaymentNotified(
        workspace_id=WS,
        connection_id=connection_id,
        provider=TOOL,
        external_id=payment_id,
        operation=operation,
        occurred_at=NOW,
    )


def _envelope(event: AccountingPaymentNotified | AccountingChangeNotified) -> Envelope:
    return Envelope.for_event(event, producer="test", event_id=event.notification_id())


async def test_a_payment_notice_is_read_and_recorded_once_with_the_poll(rig: Rig) -> None:
    _, tool_id = await _exported_invoice(rig)
    notifications = _notifications(rig, rig.tools)
    rig.company.put_payment(_payment("pay-1", "100.00", (tool_id, "100.00")))
    notice = _payment_notice("pay-1")
    await notifications.handle_payment(_envelope(notice), notice)
    (first,) = _recorded(rig)
    assert (first.provider_payment_id, first.invoice_status) == ("pay-1", "partially_paid")

    await rig.sync.poll(await _connection(rig), SINCE)  # the poll sees it too: nothing new
    await notifications.handle_payment(_envelope(notice), notice)  # a redelivery: nothing
    assert len(_recorded(rig)) == 1

    rig.company.set_payment_state("pay-1", "deleted")
    gone = _payment_notice("pay-1", "Delete")
    await notifications.handle_payment(_envelope(gone), gone)
    assert [(e.state, e.invoice_status) for e in _recorded(rig)] == [
        ("recorded", "partially_paid"),
        ("deleted", "sent"),
    ]


async def test_an_invoice_notice_re_reads_its_payments_where_none_are_announced(
    rig: Rig,
) -> None:
    _, tool_id = await _exported_invoice(rig)
    rig.company.put_payment(_payment("pay-1", "240.00", (tool_id, "240.00")))
    notice = AccountingChangeNotified(
        workspace_id=WS,
        connection_id="acc_1",
        provider=TOOL,
        entity="invoice",
        external_id=tool_id,
        operation="UPDATE",
        occurred_at=NOW + dt.timedelta(seconds=1),
    )
    # A tool that announces payments itself: the invoice notice reads the invoice only.
    await _notifications(rig, rig.tools).handle(_envelope(notice), notice)
    assert _recorded(rig) == []
    # Xero's kind: the invoice's payments are read with it.
    only_invoices = InvoiceNoticesOnly(companies=rig.tools.companies)
    await _notifications(rig, only_invoices).handle(_envelope(notice), notice)
    (event,) = _recorded(rig)
    assert (event.provider_payment_id, event.invoice_status) == ("pay-1", "paid")


async def test_syncing_an_invoice_on_demand_reads_its_payments_too(rig: Rig) -> None:
    invoice_id, tool_id = await _exported_invoice(rig)
    rig.company.put_payment(_payment("pay-1", "100.00", (tool_id, "100.00")))
    await rig.invoices.sync_status(WS, invoice_id)
    await rig.invoices.sync_status(WS, invoice_id)  # again: nothing new
    (event,) = _recorded(rig)
    assert (event.provider_payment_id, event.invoice_status) == ("pay-1", "partially_paid")
