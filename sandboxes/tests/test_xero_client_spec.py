"""Timebridge's own Xero client against the sandbox, every exchange checked against Xero's OpenAPI.

The SDK tests (``test_xero_sdk.py``) show the sandbox takes what Xero takes; this shows the
requests our client sends are ones Xero documents, and the answers it reads are Xero's shapes.
"""

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from timebridge_providers.xero.client import XeroClient
from timebridge_providers.xero.wire import DraftInvoice, LineItem

from timebridge_sandboxes.testing import provider_specs
from timebridge_sandboxes.xero import XeroState, create_xero_sandbox
from timebridge_sandboxes.xero.spec import ACCOUNTING_SPEC, SpecChecked
from timebridge_sandboxes.xero.state import _Access, _Connection

SPECS = provider_specs()
pytestmark = pytest.mark.skipif(
    not (SPECS / ACCOUNTING_SPEC).exists(), reason=f"Xero's OpenAPI files are not in {SPECS}"
)
BASE = "http://xero.test"
SCOPES = ["offline_access", "accounting.transactions", "accounting.contacts"]


async def test_our_clients_exchanges_are_in_xeros_spec() -> None:
    """Including ``If-Modified-Since``, an RFC 3339 date-time with its zone (a zone-less one, as
    the client once sent, is refused by the spec)."""
    checked = await _exchanges()
    assert len(checked.checked) >= 6
    assert checked.problems == []


async def _exchanges() -> SpecChecked:
    state = XeroState()
    state.add_app("c", "s", ["http://cb"])
    tenant = state.add_tenant("Demo Company (NZ)")
    customer = state.add_contact(tenant, "Acme Corp", email="ap@acme.example")
    checked = SpecChecked(create_xero_sandbox(state), SPECS)
    access = _access(state, tenant)

    async def bearer() -> str:
        return access

    async with httpx.AsyncClient(transport=httpx.ASGITransport(checked)) as http:
        client = XeroClient(BASE, tenant, bearer, http=http)
        assert [c.contact_id for c in [c async for c in client.contacts()]] == [customer]
        assert (await client.contact(customer)).name == "Acme Corp"
        line = LineItem(
            description="T-42: 1.5 h",
            quantity=Decimal("1.5"),
            unit_amount=Decimal("120.00"),
            account_code="200",
        )
        draft = DraftInvoice(
            contact_id=customer,
            line_items=(line,),
            date=dt.date(2026, 11, 21),
            due_date=dt.date(2026, 12, 5),
            reference="TB-7",
            currency_code="EUR",
        )
        created = await client.create_invoice(draft, idempotency_key="tb-7")
        assert (await client.invoice(created.invoice_id)).reference == "TB-7"
        since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        found = [i async for i in client.invoices(modified_since=since, reference="TB-7")]
        assert [i.invoice_id for i in found] == [created.invoice_id]
        assert (await client.delete_invoice(created.invoice_id)).status == "DELETED"
    return checked


def _access(state: XeroState, tenant: str) -> str:
    """A token as the code flow would leave it (the flow itself is the SDK test's)."""
    now = dt.datetime.now(dt.UTC)
    state.connections[("c", tenant)] = _Connection("conn-1", "c", tenant, "ev-1", now, now)
    state.access_tokens["token-1"] = _Access("c", SCOPES, "ev-1", now + dt.timedelta(hours=1))
    return "token-1"
