"""The JSON Timebridge's QuickBooks Online client and the sandbox exchange, against the official
XSD."""

import datetime as dt
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from libs.providers.tests.quickbooks_world import (
    ITEM,
    SPECS,
    World,
    customer,
    exported,
    new_world,
)
from timebridge_common.outbound.http import (
    NotFoundError,
)


@pytest.fixture
def world() -> World:
    return new_world()


# ---- the JSON both sides exchange, against the official XSD ----------------------------------

XS = "{http://www.w3.org/2001/XMLSchema}"


@dataclass(frozen=True)
class Xsd:
    """Element and attribute names of the QuickBooks XSD's complex types, inherited ones too."""

    types: dict[str, ET.Element]
    objects: dict[str, str]
    """Elements of the ``IntuitObject`` substitution group (entities) -> their type."""

    def members(self, type_name: str) -> dict[str, str | None]:
        node = self.types[type_name]
        names: dict[str, str | None] = {}
        for extension in node.iter(f"{XS}extension"):
            if extension.get("base") in self.types:
                names |= self.members(str(extension.get("base")))
        if node.find(f"{XS}simpleContent") is not None:
            names["value"] = None
        for element in node.iter(f"{XS}element"):
            if element.get("ref") == "IntuitObject":
                names |= dict(self.objects)
            elif element.get("name"):
                names[str(element.get("name"))] = element.get("type")
        for attribute in node.iter(f"{XS}attribute"):
            names[str(attribute.get("name"))] = None
        return names

    def unknown(self, type_name: str | None, value: Any, path: str) -> list[str]:
        """The JSON keys under ``value`` that are not element or attribute names of its type."""
        if isinstance(value, list):
            return [
                u for n, v in enumerate(value) for u in self.unknown(type_name, v, f"{path}[{n}]")
            ]
        if type_name not in self.types or not isinstance(value, dict):
            return []
        members = self.members(type_name)
        found: list[str] = []
        for key, inner in value.items():
            if key not in members:
                found.append(f"{path}.{key}")
            else:
                found += self.unknown(members[key], inner, f"{path}.{key}")
        return found


@cache
def _load_xsd(folder: Path) -> Xsd:
    types: dict[str, ET.Element] = {}
    objects: dict[str, str] = {}
    for path in sorted(folder.glob("*.xsd")):
        root = ET.parse(path).getroot()  # noqa: S314 - Intuit's published schema, read-only
        types |= {str(n.get("name")): n for n in root.iter(f"{XS}complexType") if n.get("name")}
        objects |= {
            str(e.get("name")): str(e.get("type"))
            for e in root.iter(f"{XS}element")
            if e.get("substitutionGroup") == "IntuitObject"
        }
    return Xsd(types, objects)


@pytest.fixture
def xsd() -> Xsd:
    folder = SPECS / "quickbooks-v3-xsd"
    if not folder.is_dir():
        pytest.skip(f"QuickBooks XSD not found at {folder} (the shared provider-specs folder)")
    return _load_xsd(folder.resolve())


def test_the_xsd_check_catches_a_wrong_name(xsd: Xsd) -> None:
    assert xsd.unknown("Invoice", {"TotalAmt": 1, "CustomerRef": {"value": "1"}}, "Invoice") == []
    assert xsd.unknown("Invoice", {"Total": 1, "CustomerRef": {"id": "1"}}, "Invoice") == [
        "Invoice.Total",
        "Invoice.CustomerRef.id",
    ]
    assert "DisplayName" in xsd.members("Customer")
    assert "ItemRef" in xsd.members("SalesItemLineDetail")


async def test_what_the_client_sends_and_the_sandbox_answers_uses_the_xsd_names(
    world: World, xsd: Xsd
) -> None:
    client = world.client()
    world.state.add_customer(
        world.realm,
        customer(
            "Globex",
            BillAddr={"Line1": "1 Main St", "City": "Springfield"},
            PrimaryEmailAddr={"Address": "a@b.test"},
            Taxable=False,
        ),
    )
    customer_id, invoice = await exported(world, client)
    item = await client.find_item(ITEM)
    assert item is not None
    await world.edit(f"items/{item.id}", {"Active": False})
    await client.find_or_create_service_item(ITEM, income_account_id=world.account)
    await world.edit(f"invoices/{invoice.id}/payments", {"amount": "10.00"}, "POST")
    await world.edit(f"invoices/{invoice.id}/void", method="POST")
    await client.income_accounts()
    [c async for c in client.customers()]
    await client.customer(customer_id)
    await client.invoice(invoice.id)
    await client.changes(
        ["Customer", "Item", "Invoice"], world.fake.utcnow() - dt.timedelta(days=1)
    )
    await world.edit(f"invoices/{invoice.id}", method="DELETE")
    await client.changes(["Invoice"], world.fake.utcnow() - dt.timedelta(days=1))
    with pytest.raises(NotFoundError):
        await client.invoice(invoice.id)

    writes = [r for r in world.sent if r.method == "POST" and r.url.path.startswith("/v3/")]
    assert {r.url.path.rsplit("/", 1)[1] for r in writes} == {"item", "invoice"}
    for request in writes:
        entity = {"item": "Item", "invoice": "Invoice"}[request.url.path.rsplit("/", 1)[1]]
        assert xsd.unknown(entity, json.loads(request.content), entity) == []
    answers = [a for a in world.answers if a.request.url.path.startswith("/v3/")]
    assert len(answers) >= 12
    for answer in answers:
        assert xsd.unknown("IntuitResponse", answer.json(), answer.request.url.path) == []
