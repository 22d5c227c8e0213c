"""What Timebridge's Xero client and the sandbox exchange, against Xero's official OpenAPI and
webhook spec (and Xero's JSON dates)."""

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator, Draft202012Validator, FormatChecker
from timebridge_providers.xero.wire import (
    Invoice,
)

from libs.providers.tests.xero_world import (
    BASE,
    HOOK_KEY,
    HOOK_URL,
    SPECS,
    World,
    draft,
    new_world,
)


@pytest.fixture
async def world() -> World:
    return await new_world()


def test_xero_json_dates_are_read_as_utc() -> None:
    invoice = Invoice.model_validate(
        {
            "Type": "ACCREC",
            "InvoiceID": "046d8a6d-1ae1-4b4d-9340-5601bdf41b87",
            "Status": "PAID",
            "Contact": {"ContactID": "a3675fc4-f8dd-4f03-ba5b-f1870566bcd7", "Name": "Barney"},
            "Date": "/Date(1539993600000+0000)/",
            "DueDate": "2018-12-30T00:00:00",
            "FullyPaidOnDate": "/Date(1543449600000)/",
            "UpdatedDateUTC": "/Date(1541176592690+0000)/",
            "Total": 46.00,
        }
    )
    assert (invoice.date, invoice.due_date, invoice.fully_paid_on_date) == (
        dt.date(2018, 10, 20),
        dt.date(2018, 12, 30),
        dt.date(2018, 11, 29),
    )
    assert invoice.updated_date_utc == dt.datetime(2018, 11, 2, 16, 36, 32, 690000, tzinfo=dt.UTC)
    assert invoice.total == Decimal("46")
    old = Invoice.model_validate(invoice.model_dump(by_alias=True) | {"Date": "/Date(-86400000)/"})
    assert old.date == dt.date(1969, 12, 31)


@pytest.fixture(scope="module")
def specs() -> dict[str, Any]:
    if not SPECS.is_dir():
        pytest.skip(f"Xero's OpenAPI files are not at {SPECS}: spec validation skipped")
    return {
        name: yaml.load((SPECS / name).read_text(), Loader=yaml.CSafeLoader)
        for name in ("xero_accounting.yaml", "xero-webhooks.yaml")
    }


def accounting(specs: dict[str, Any], schema: str) -> Draft4Validator:
    """A validator of ``schema`` whose ``$ref``s resolve against the spec's components."""
    components = specs["xero_accounting.yaml"]["components"]
    root = {"$ref": f"#/components/schemas/{schema}", "components": components}
    return Draft4Validator(root, format_checker=FormatChecker(["uuid"]))


def properties(specs: dict[str, Any], schema: str) -> dict[str, Any]:
    found: dict[str, Any] = specs["xero_accounting.yaml"]["components"]["schemas"][schema][
        "properties"
    ]
    return found


def assert_valid(validator: Draft4Validator | Draft202012Validator, body: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == []


async def test_what_the_client_sends_and_the_sandbox_answers_match_xeros_openapi(
    world: World, specs: dict[str, Any]
) -> None:
    invoices, contacts = accounting(specs, "Invoices"), accounting(specs, "Contacts")
    assert not invoices.is_valid({"Invoices": [{"Total": "180.00"}]})
    assert not contacts.is_valid({"Contacts": [{"ContactID": "not-a-uuid"}]})
    client = world.client()
    customer = world.customer(addresses=[{"AddressType": "STREET", "City": "Auckland"}])
    created = await client.create_invoice(draft(customer), idempotency_key="tb-spec")
    await client.delete_invoice(created.invoice_id)
    [c async for c in client.contacts()]
    await client.contact(customer)
    [i async for i in client.invoices()]
    await client.invoice(created.invoice_id)

    writes = [json.loads(r.content) for r in world.sent if r.method in ("PUT", "POST")]
    read_only = {k for k, v in properties(specs, "Invoice").items() if v.get("readOnly")}
    known = {name: set(properties(specs, name)) for name in ("Invoice", "LineItem", "Contact")}
    for body in writes:
        assert_valid(invoices, body)
        for sent in body["Invoices"]:
            assert set(sent) <= known["Invoice"] - read_only
            assert set(sent.get("Contact", {})) <= known["Contact"]
            for line in sent.get("LineItems", []):
                assert set(line) <= known["LineItem"]

    async with world.http() as http:
        headers = {"Authorization": f"Bearer {world.access}", "xero-tenant-id": world.tenant}
        headers["Accept"] = "application/json"
        duplicate = {"Invoices": [draft(customer, invoice_number="INV-0001").body()]}
        refused = await http.put(f"{BASE}/api.xro/2.0/Invoices", json=duplicate, headers=headers)
    assert refused.status_code == 400
    assert_valid(accounting(specs, "Error"), refused.json())

    answers = [r for r in world.sent if r.url.path.startswith("/api.xro/2.0/")]
    assert len(answers) >= 6
    async with world.http() as http:
        for request in answers:
            if request.method != "GET":
                continue
            answer = await http.get(request.url, headers=request.headers)
            validator = contacts if "/Contacts" in request.url.path else invoices
            assert_valid(validator, answer.json())


async def test_webhook_payloads_match_xeros_webhook_spec(
    world: World, specs: dict[str, Any]
) -> None:
    webhooks = specs["xero-webhooks.yaml"]
    root = {"$ref": "#/components/schemas/WebhookEvent", "components": webhooks["components"]}
    validator = Draft202012Validator(root, format_checker=FormatChecker(["uuid"]))
    async with world.admin() as admin:
        await admin.put("/webhook", json={"url": HOOK_URL, "key": HOOK_KEY})
        contact = world.customer()
        await admin.patch(f"/contacts/{contact}", json={"Name": "Renamed"})
    intent, *deliveries = [json.loads(body) for body in world.receiver.bodies]
    # Xero's guide documents the intent-to-receive sequences as 0, below the spec's minimum 1.
    assert (intent["events"], intent["firstEventSequence"], intent["lastEventSequence"]) == (
        [],
        0,
        0,
    )
    assert deliveries
    for payload in deliveries:
        assert_valid(validator, payload)
    assert not validator.is_valid({**deliveries[0], "firstEventSequence": 0})
