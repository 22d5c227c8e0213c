"""The accounting port: every accounting provider offers it whole, its webhooks read as notices,
and the in-memory fake keeps the port's promises (the tools against their sandboxes:
``services/invoice-export/tests/test_tools.py`` and the ``test_*_client.py`` here)."""

import base64
import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from timebridge_providers.freshbooks.webhooks import webhook_signature
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import OAuthApp, oauth_of
from timebridge_providers.kit.fakes.accounting import FakeAccountingTool
from timebridge_providers.kit.ports.accounting import (
    ExportDraft,
    ExportLine,
    Notice,
    RegistrationCheck,
    TaxDetails,
    ToolClient,
    accounting_of,
)

from timebridge_common.errors import InvalidMessageError

ACCOUNTING = sorted(registry().names("accounting"))
AT = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def _signed(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def test_three_accounting_tools_are_installed() -> None:
    assert ACCOUNTING == ["freshbooks", "quickbooks", "xero"]


@pytest.mark.parametrize("name", ACCOUNTING)
async def test_an_accounting_provider_offers_the_whole_port(name: str) -> None:
    provider = registry().get(name)
    assert (provider.profile.kind, provider.profile.auth) == ("accounting", "oauth2")
    assert provider.offers("accounting")
    assert not provider.offers("entries")
    capability = accounting_of(provider)
    assert capability is not None
    assert capability.webhooks is not None
    description = oauth_of(provider)
    assert description is not None
    assert description.token_url.startswith("https://")
    async with httpx.AsyncClient() as http:
        app = OAuthApp("id", SecretStr("secret"), redirect_uri="https://tb.test/cb")
        endpoint = description.open(name, app, http)
        assert callable(endpoint.refresh)


def test_per_app_webhooks_name_the_company_and_the_time_of_each_followed_change() -> None:
    quickbooks = accounting_of(registry().get("quickbooks"))
    assert quickbooks is not None
    assert quickbooks.webhooks is not None
    spec = quickbooks.webhooks
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "9130",
                    "dataChangeEvent": {
                        "entities": [
                            {"name": "Invoice", "id": "42", "operation": "Update",
                             "lastUpdated": "2026-11-20T09:30:00Z"},
                            {"name": "Item", "id": "7", "operation": "Create"},
                        ]
                    },
                }
            ]
        }
    ).encode()  # fmt: skip
    assert spec.scope == "app"
    assert spec.verify("verifier", body, _signed("verifier", body))
    assert not spec.verify("verifier", body, _signed("other", body))
    assert spec.parse(body) == [Notice("9130", "invoice", "42", "Update", AT)]
    with pytest.raises(InvalidMessageError):
        spec.parse(b'{"not": "a webhook"}')


def test_an_intent_to_receive_check_is_signed_and_names_nothing() -> None:
    xero = accounting_of(registry().get("xero"))
    assert xero is not None
    assert xero.webhooks is not None
    body = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"X"}'
    assert xero.webhooks.bare_answers
    assert xero.webhooks.verify("key", body, _signed("key", body))
    assert xero.webhooks.parse(body) == []


def test_per_connection_webhooks_are_a_verification_or_a_signed_form() -> None:
    freshbooks = accounting_of(registry().get("freshbooks"))
    assert freshbooks is not None
    spec = freshbooks.webhooks
    assert spec is not None
    assert (spec.scope, spec.form) == ("connection", True)
    check = b"name=callback.verify&object_id=5&verifier=v-123&account_id=Acc1"
    assert spec.parse(check) == RegistrationCheck("5", "v-123", "Acc1")
    event = b"name=invoice.update&object_id=7&account_id=Acc1"
    fields = [("name", "invoice.update"), ("object_id", "7"), ("account_id", "Acc1")]
    assert spec.verify("v-123", event, webhook_signature("v-123", fields))
    assert not spec.verify("v-other", event, webhook_signature("v-123", fields))
    assert spec.parse(event) == [Notice(None, "invoice", "7", "update")]
    assert spec.parse(b"name=expense.create&object_id=8") == []
    assert spec.signed(event) != spec.signed(b"name=invoice.update&object_id=8&account_id=Acc1")


def _draft(invoice_id: str) -> ExportDraft:
    line = ExportLine("T-42 (Ann)", Decimal("1.50"), Decimal(100), Decimal("150.00"), "time")
    return ExportDraft(invoice_id, "c-1", AT.date(), None, "USD", (line,), Decimal(150), "")


async def test_the_fake_tool_keeps_the_ports_promises() -> None:
    tool = FakeAccountingTool(clock=lambda: AT)
    tool.put_client(ToolClient("c-1", "Globex", None, None, TaxDetails(), "USD", True, None))
    first = await tool.export(_draft("inv_1"))
    assert await tool.export(_draft("inv_1")) == first  # a repeat returns the first copy
    assert (first.status, first.total, len(tool.drafts)) == ("draft", Decimal("150.00"), 1)
    tool.set_status(first.external_id, "paid")
    changes = await tool.changes(AT)
    assert [i.status for i in changes.invoices] == ["paid"]
    assert [c.name for c in changes.clients] == ["Globex"]
    tool.delete_invoice(first.external_id)
    assert (await tool.invoice(first.external_id)).status == "deleted"
    awaiting = await tool.ensure_webhooks("https://tb.test/hook")
    await tool.verify_webhook_registration(awaiting[0], "v")
    assert await tool.ensure_webhooks("https://tb.test/hook") == []
    tool.fail(InvalidMessageError("refused"))
    with pytest.raises(InvalidMessageError):
        await tool.active_clients()
    assert [c.name for c in await tool.active_clients()] == ["Globex"]
