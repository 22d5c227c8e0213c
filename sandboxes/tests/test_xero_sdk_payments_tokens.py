"""The Xero sandbox driven by xero-python: payments, token refresh (credentials in the body or
in basic auth) and revocation (see ``test_xero_sdk``)."""

import datetime as dt
from decimal import Decimal

import pytest
from xero_python.accounting import (  # type: ignore[import-untyped]
    Account,
    Invoice,
    Invoices,
    Payment,
    PaymentDelete,
    Payments,
)
from xero_python.api_client.oauth2 import TokenApi  # type: ignore[import-untyped]
from xero_python.exceptions import (  # type: ignore[import-untyped]
    BadRequestException,
    NotFoundException,
)

from sandboxes.tests.xero_sdk_world import (
    CLIENT_ID,
    CLIENT_SECRET,
    NEEDS_SPECS,
    World,
    error_body,
    make_world,
    new_customer,
    new_invoice,
    world,
)

pytestmark = NEEDS_SPECS
__all__ = ["make_world", "world"]  # the fixtures (from xero_sdk_world)


def test_payments_create_list_delete(world: World) -> None:
    contact = new_customer(world, "Umbrella")
    invoice = new_invoice(world, contact.contact_id, status="AUTHORISED", amount=100)
    first = world.accounting.create_payment(
        world.tenant,
        Payment(
            invoice=Invoice(invoice_id=invoice.invoice_id),
            account=Account(code="090"),
            amount=40.0,
            date=dt.date(2026, 11, 21),
        ),
    ).payments[0]
    assert world.exchanges("/api.xro/2.0/Payments")[0].method == "POST"
    second = world.accounting.create_payments(
        world.tenant,
        Payments(
            payments=[
                Payment(
                    invoice=Invoice(invoice_number=invoice.invoice_number),
                    account=Account(code="090"),
                    amount=60.0,
                )
            ]
        ),
    ).payments[0]
    paid = world.accounting.get_invoice(world.tenant, invoice.invoice_id).invoices[0]
    assert paid.status == "PAID"
    assert paid.amount_due == Decimal(0)
    assert first.date == dt.date(2026, 11, 21)

    where = f'Invoice.InvoiceID==guid("{invoice.invoice_id}")'
    listed = world.accounting.get_payments(world.tenant, where=where, order="Amount")
    assert [p.amount for p in listed.payments] == [40.0, 60.0]

    with pytest.raises(BadRequestException) as refused:
        world.accounting.create_payment(
            world.tenant,
            Payment(
                invoice=Invoice(invoice_id=invoice.invoice_id),
                account=Account(code="999"),
                amount=1.0,
            ),
        )
    assert "999" in error_body(refused.value)["Elements"][0]["ValidationErrors"][0]["Message"]

    world.accounting.delete_payment(
        world.tenant, second.payment_id, PaymentDelete(status="DELETED")
    )
    reopened = world.accounting.get_invoice(world.tenant, invoice.invoice_id).invoices[0]
    assert reopened.status == "AUTHORISED"
    assert reopened.amount_due == Decimal(60)
    gone = world.accounting.get_payment(world.tenant, second.payment_id).payments[0]
    assert gone.status == "DELETED"
    with pytest.raises(BadRequestException):
        world.accounting.update_invoice(
            world.tenant, invoice.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
        )
    with pytest.raises(NotFoundException):
        world.accounting.get_payment(world.tenant, "00000000-0000-0000-0000-000000000000")


def test_refresh_with_credentials_in_the_body_and_in_basic_auth(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TokenApi, "refresh_token_url", f"{world.base}/connect/token")
    first = dict(world.tokens)
    refreshed = world.client.refresh_oauth2_token()
    assert refreshed["access_token"] != first["access_token"]
    exchange = world.exchanges("/connect/token")[-1]
    assert exchange.status == 200
    assert "authorization" not in exchange.headers
    assert f"client_secret={CLIENT_SECRET}".encode() in exchange.body
    assert world.accounting.get_contacts(world.tenant).contacts == []  # the new token works

    with world.http() as http:
        basic = http.post(
            "/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        disagreeing = http.post(
            "/connect/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": basic.json()["refresh_token"],
                "client_id": CLIENT_ID,
                "client_secret": "not-the-secret",
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert basic.status_code == 200
    assert basic.json()["refresh_token"]
    assert (disagreeing.status_code, disagreeing.json()) == (401, {"error": "invalid_client"})


def test_revoking_the_refresh_token_disconnects(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TokenApi, "revoke_token_url", f"{world.base}/connect/revocation")
    before = world.bearer()
    with world.http() as http:
        assert http.get("/connections", headers=before).status_code == 200
    world.client.revoke_oauth2_token()
    exchange = world.exchanges("/connect/revocation")[-1]
    assert exchange.status == 200
    assert f"client_id={CLIENT_ID}".encode() in exchange.body
    assert world.state.connections == {}
    with world.http() as http:
        gone = http.get("/connections", headers=before)
    assert gone.status_code == 401
