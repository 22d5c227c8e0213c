"""Intuit's official QuickBooks Online XSD, read as JSON sees it: each complex type's elements and
attributes with their kind (a scalar, an enumeration, another complex type; ``[]`` repeated).

Two uses. The sandbox accepts exactly the elements of the entities it serves, with their kinds;
that index, ``elements.json``, is generated from the XSD by ``python -m
timebridge_sandboxes.quickbooks.xsd <xsd folder>`` (the schema itself stays in
``shared/provider-specs``; a test regenerates the index and compares). And tests check every body
a client sends and the sandbox answers against the whole schema (:meth:`Schema.mistakes`).
"""

import datetime as dt
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

XS = "{http://www.w3.org/2001/XMLSchema}"
ROOTS = ("Customer", "Item", "Invoice", "Payment", "Account")
"""The entities the sandbox serves; the index holds the types they reach."""
INDEX = Path(__file__).with_name("elements.json")
SCALARS = {
    "xs:string": "string",
    "xs:anyURI": "string",
    "xs:boolean": "boolean",
    "xs:decimal": "decimal",
    "xs:int": "integer",
    "xs:long": "integer",
    "xs:integer": "integer",
    "xs:positiveInteger": "integer",
    "xs:date": "date",
    "xs:dateTime": "dateTime",
}


@dataclass(frozen=True)
class Schema:
    types: dict[str, dict[str, str]]
    """Complex type -> element or attribute name -> kind (``value`` for simple content)."""
    enums: dict[str, list[str]]
    """``enum:<name>`` kinds -> their values."""

    def closure(self, roots: tuple[str, ...] = ROOTS) -> "Schema":
        """The types ``roots`` reach, and the enumerations those use."""
        types: dict[str, dict[str, str]] = {}
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name not in types:
                types[name] = self.types[name]
                todo += [k.removesuffix("[]") for k in types[name].values()]
                todo = [t for t in todo if t in self.types]
        kinds = {k.removesuffix("[]") for members in types.values() for k in members.values()}
        enums = {k: v for k, v in self.enums.items() if k in kinds}
        return Schema(dict(sorted(types.items())), dict(sorted(enums.items())))

    def dumps(self) -> str:
        """One line per type: a reviewable diff when Intuit's schema changes."""
        lines = [f"  {json.dumps(n)}: {json.dumps(m)}" for n, m in self.types.items()]
        enums = [f"  {json.dumps(n)}: {json.dumps(v)}" for n, v in self.enums.items()]
        types_text = ",\n".join(lines)
        enums_text = ",\n".join(enums)
        return f'{{"types": {{\n{types_text}\n}},\n"enums": {{\n{enums_text}\n}}}}\n'

    def mistakes(self, type_name: str, value: Any, path: str | None = None) -> list[str]:
        """Where JSON ``value`` strays from ``type_name``: unknown names, wrong kinds (numbers
        may come as numeric strings and strings as numbers, as QuickBooks' reader takes them)."""
        where = path or type_name
        if type_name.endswith("[]"):
            if not isinstance(value, list):
                return [f"{where}: a list expected"]
            inner = type_name.removesuffix("[]")
            return [
                m for n, v in enumerate(value) for m in self.mistakes(inner, v, f"{where}[{n}]")
            ]
        members = self.types.get(type_name)
        if members is None:
            return [] if value is None or _scalar_ok(type_name, value, self.enums) else [where]
        if not isinstance(value, dict):
            return [f"{where}: an object expected"]
        found: list[str] = []
        for key, inner in value.items():
            if key not in members:
                found.append(f"{where}.{key}")
            else:
                found += self.mistakes(members[key], inner, f"{where}.{key}")
        return found


def _scalar_ok(kind: str, value: Any, enums: dict[str, list[str]]) -> bool:
    """Is ``value`` one of ``kind``? An empty string stands for "not given", as QuickBooks
    reads it."""
    if kind.startswith("enum:"):
        return value in enums.get(kind, []) or value == ""
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in {"date", "dateTime"}:
        return isinstance(value, str) and (value == "" or _is_moment(kind, value))
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    return kind not in {"decimal", "integer"} or value == "" or _is_number(kind, value)


def _is_number(kind: str, value: str | int | float) -> bool:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return kind == "decimal" or number == number.to_integral_value()


def _is_moment(kind: str, value: str) -> bool:
    try:
        if kind == "date":
            dt.date.fromisoformat(value)
        else:
            dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return kind != "date" or len(value) == 10


class _Reader:
    def __init__(self, folder: Path) -> None:
        self.complex: dict[str, ET.Element] = {}
        self.simple: dict[str, ET.Element] = {}
        self.objects: dict[str, str] = {}
        for path in sorted(folder.glob("*.xsd")):
            root = ET.parse(path).getroot()  # noqa: S314 - Intuit's published schema, read-only
            for node in root:
                table = {f"{XS}complexType": self.complex, f"{XS}simpleType": self.simple}
                if node.tag in table and node.get("name"):
                    table[node.tag][str(node.get("name"))] = node
            for element in root.iter(f"{XS}element"):
                if element.get("substitutionGroup") == "IntuitObject":
                    self.objects[str(element.get("name"))] = str(element.get("type"))
        self.enums: dict[str, list[str]] = {}

    def kind(self, type_name: str | None) -> str:
        if type_name is None or type_name in SCALARS:
            return SCALARS.get(type_name or "", "string")
        if type_name in self.complex:
            return type_name
        restriction = self.simple[type_name].find(f"{XS}restriction")
        if restriction is None:
            return "string"
        values = [str(e.get("value")) for e in restriction.findall(f"{XS}enumeration")]
        if values:
            self.enums[f"enum:{type_name}"] = values
            return f"enum:{type_name}"
        return self.kind(restriction.get("base"))

    def members(self, type_name: str) -> dict[str, str]:
        node = self.complex[type_name]
        found: dict[str, str] = {}
        for extension in node.iter(f"{XS}extension"):
            base = str(extension.get("base"))
            if base in self.complex:
                found |= self.members(base)
            elif node.find(f"{XS}simpleContent") is not None:
                found["value"] = self.kind(base)
        for element in node.iter(f"{XS}element"):
            if element.get("ref") == "IntuitObject":
                many = element.get("maxOccurs") not in {None, "1"}
                found |= {n: f"{t}[]" if many else t for n, t in self.objects.items()}
            elif element.get("name"):
                kind = self.kind(element.get("type"))
                many = element.get("maxOccurs") not in {None, "1"}
                found[str(element.get("name"))] = f"{kind}[]" if many else kind
        for attribute in node.iter(f"{XS}attribute"):
            found[str(attribute.get("name"))] = self.kind(attribute.get("type"))
        return found


@cache
def load(folder: Path) -> Schema:
    """The whole schema in ``folder`` (the ``quickbooks-v3-xsd`` directory)."""
    reader = _Reader(folder)
    types = {name: reader.members(name) for name in sorted(reader.complex)}
    return Schema(types, dict(sorted(reader.enums.items())))


@cache
def index() -> Schema:
    """The sandbox's generated index (``elements.json``)."""
    data = json.loads(INDEX.read_text())
    return Schema(data["types"], data["enums"])


def main(argv: list[str] | None = None) -> None:
    folder = Path((argv or sys.argv[1:])[0])
    INDEX.write_text(load(folder.resolve()).closure().dumps())


if __name__ == "__main__":
    main()
