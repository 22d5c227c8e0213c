"""A request body read as QuickBooks reads it: every element must be one the official XSD gives
the entity (else Fault ``2010``), of its kind; the value comes back normalised.

QuickBooks' JSON reader is lenient where the XSD's kinds allow it, and ordinary clients rely on
that: python-quickbooks sends ``"SyncToken": 0`` (a number for an ``xs:string``), decimals as
strings (``"Amount": "100.00"``) and empty strings for unset dates (``"DueDate": ""``). So here
a number is taken for a string, a numeric string for a number, ``"true"``/``"false"`` for a
boolean, and an empty string or ``null`` as "not given" (``None``, which a sparse update uses to
clear the element). Normalised values are JSON numbers, strings and
booleans, so the sandbox always answers in one shape.
"""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from timebridge_sandboxes.quickbooks.base import invalid
from timebridge_sandboxes.quickbooks.xsd import index


def _number(value: Any, where: str, *, integral: bool) -> int | float:
    if isinstance(value, bool):
        raise invalid(f"{where}: a number expected, got {value!r}", where)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(f"{where}: a number expected, got {value!r}", where) from None
    if not number.is_finite():
        raise invalid(f"{where}: a number expected, got {value!r}", where)
    if number == number.to_integral_value():
        return int(number)
    if integral:
        raise invalid(f"{where}: an integer expected, got {value!r}", where)
    return float(number)


def _text(kind: str, value: Any, where: str) -> Any:
    if kind.startswith("enum:"):
        if value not in index().enums[kind]:
            raise invalid(f"Invalid Enumeration : {value} for {where}", where)
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(f"{where}: a string expected", where)
    return value if isinstance(value, str) else str(value)


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise invalid(f"{where}: a boolean expected, got {value!r}", where)
    return value


def _moment(kind: str, value: Any, where: str) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        if kind == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            dt.date.fromisoformat(value)
        elif kind == "date":
            raise ValueError(value)
        else:
            dt.datetime.fromisoformat(value)
    except ValueError:
        raise invalid(f"{where}: not a valid {kind}: {value!r}", where) from None
    return value


def _scalar(kind: str, value: Any, where: str) -> Any:
    if value is None or value == "":
        return None
    if kind == "string" or kind.startswith("enum:"):
        return _text(kind, value, where)
    if kind == "boolean":
        return _boolean(value, where)
    if kind in {"decimal", "integer"}:
        return _number(value, where, integral=kind == "integer")
    return _moment(kind, value, where)


def conform(type_name: str, value: Any, path: str = "") -> Any:
    """``value`` (JSON) as an instance of the XSD type ``type_name``, normalised; ``None`` for
    "not given". Refuses unknown element names and values of the wrong kind (Fault ``2010``)."""
    where = path or type_name
    if value is None:
        return None
    if type_name.endswith("[]"):
        if not isinstance(value, list):
            raise invalid(f"{where}: a list expected", where)
        inner = type_name.removesuffix("[]")
        items = [conform(inner, v, f"{where}[{n}]") for n, v in enumerate(value)]
        return [i for i in items if i is not None]
    members = index().types.get(type_name)
    if members is None:
        return _scalar(type_name, value, where)
    if not isinstance(value, dict):
        raise invalid(f"{where}: an object expected", where)
    found: dict[str, Any] = {}
    for name, element in value.items():
        kind = members.get(name)
        if kind is None:
            raise invalid(
                f"Property Name:{name} specified is unsupported or invalid ({where})", name
            )
        found[name] = conform(kind, element, f"{where}.{name}")
    return found


def compact(value: Any) -> Any:
    """``value`` without the elements that are not given (``None``, empty objects and lists):
    what QuickBooks stores and answers ("only properties with values are returned")."""
    if isinstance(value, dict):
        kept = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [c for c in (compact(v) for v in value) if c not in (None, {})]
    return value
