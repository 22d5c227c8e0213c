"""Webhook intake of invoice-export without infrastructure: form parsing, payload checks, and
the FreshBooks signature key (the receivers on Kafka/Postgres: tests/integration)."""

import datetime as dt
import json

import pytest
from fastapi import HTTPException
from timebridge_providers.freshbooks import webhooks as freshbooks
from timebridge_providers.freshbooks.webhooks import signed_message, webhook_signature
from timebridge_providers.quickbooks import webhooks as quickbooks
from timebridge_providers.xero import webhooks as xero

from timebridge_common.refusals import InvalidError
from timebridge_invoice_export.entrypoints.webhooks_http import _form
from timebridge_invoice_export.handlers.notifications import _checked

FORM = b"name=invoice.update&object_id=7&account_id=Acc1&business_id=1&identity_id=1&user_id=1"


def test_a_form_keeps_its_fields_in_the_order_sent() -> None:
    fields = _form(FORM)
    assert [k for k, _ in fields][:2] == ["name", "object_id"]
    assert signed_message(fields).startswith('{"name": "invoice.update", "object_id": "7"')


def test_an_encoded_form_signs_like_its_decoded_fields() -> None:
    """The replay key is the digest of what FreshBooks signs (the decoded fields), so encoding
    a captured form differently does not make it a new delivery."""
    plain = _form(b"name=client.update&object_id=7")
    encoded = _form(b"name=client%2Eupdate&object_id=%37")
    assert signed_message(plain) == signed_message(encoded)
    assert webhook_signature("v", plain) == webhook_signature("v", encoded)


@pytest.mark.parametrize(
    "body",
    [b"name=a&object_id=\xff", b"name=a&object_id=%ff%fe", b"name&&=", b"a=1&" * 60],
)
def test_unreadable_forms_are_400(body: bytes) -> None:
    with pytest.raises(HTTPException) as refused:
        _form(body)
    assert refused.value.status_code == 400
    assert refused.value.detail


@pytest.mark.parametrize(
    "note",
    [
        ("9\x00", "client", "1", "Update", None),
        ("9", "client", "", "Update", None),
        ("9", "client", "1" * 201, "Update", None),
        ("9", "invoice", "1", "U" * 41, None),
        ("9", "invoice", "1\n", "Update", None),
    ],
)
def test_ids_a_store_cannot_hold_are_422(note: tuple[str, str, str, str, None]) -> None:
    with pytest.raises(InvalidError):
        _checked([note])  # type: ignore[list-item]


def test_a_non_ascii_intuit_signature_does_not_verify_nor_raise() -> None:
    assert not quickbooks.verify_webhook("token", b"{}", "caf\u00e9")
    assert _checked([("9", "client", "1", "Update", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))])


def test_payment_notices_are_followed_where_the_tool_names_payments() -> None:
    """QuickBooks' Payment entity and FreshBooks' payment.* events name the payment (its own
    consumer reads it); Xero names the invoice and says its notices stand for payments too."""
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "9130",
                    "dataChangeEvent": {
                        "entities": [
                            {"name": "Payment", "id": "77", "operation": "Create",
                             "lastUpdated": "2026-12-01T10:00:00.000Z"},
                            {"name": "Vendor", "id": "5", "operation": "Create",
                             "lastUpdated": "2026-12-01T10:00:00.000Z"},
                        ]
                    },
                }
            ]
        }
    ).encode()  # fmt: skip
    (notice,) = quickbooks.notices(body)
    assert (notice.tenant_id, notice.entity, notice.external_id) == ("9130", "payment", "77")
    form = b"name=payment.create&object_id=4001&account_id=Acc1&business_id=1&identity_id=1"
    parsed = freshbooks.WEBHOOKS.parse(form)
    assert isinstance(parsed, list)
    assert [(n.entity, n.external_id, n.operation) for n in parsed] == [
        ("payment", "4001", "create")
    ]
    assert xero.WEBHOOKS.invoice_notices_cover_payments
    assert not quickbooks.WEBHOOKS.invoice_notices_cover_payments
