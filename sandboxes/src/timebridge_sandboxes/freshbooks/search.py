"""FreshBooks' list parameters beyond paging: ``search[...]`` filters and ``sort`` (api/parameters).

``search[<field>]=v`` keeps records whose field equals ``v``; ``search[<field>_like]=v`` whose
field contains it (ignoring case); ``search[<field>_min]``/``_max`` bound numbers, money amounts
and ``YYYY-MM-DD`` dates (inclusive); ``search[<ids>][]=1&search[<ids>][]=2`` (``invoiceids``,
``clientids``, ``userids``, ``customerids``, ``paymentids``, ...) keeps the ids listed
(``date_min``/``date_max`` bound an invoice's ``create_date``);
``sort=<field>_asc|_desc`` (or ``<field>``/``-<field>``) orders. The ``vis_state`` and
``updated_min``/``updated_max`` filters are the listing's own (``deps._Listing``). Assumed where
FreshBooks is silent: a filter on a field the record does not have is ignored.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from timebridge_sandboxes.freshbooks.state import INVALID_VALUE, Json, Refused

_KEY = re.compile(r"^search\[(\w+)\](\[\])?$")
_OWN = frozenset({"vis_state", "updated_min", "updated_max"})
_ALIASES = {"date": "create_date"}
"""``search[date_min]``/``[date_max]`` bound an invoice's ``create_date`` (api/invoices)."""
_ID_LISTS = {"clientids": "id", "invoiceids": "id", "paymentids": "id", "userids": "userid"}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, dict) and "amount" in value:
        value = value["amount"]
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _bound(have: Any, want: str) -> tuple[Any, Any] | None:
    """``(have, want)`` as comparable values: numbers, or the date strings themselves."""
    number, wanted = _number(have), _number(want)
    if number is not None and wanted is not None:
        return number, wanted
    if isinstance(have, str) and re.match(r"^\d{4}-\d{2}-\d{2}", want):
        return have[:10], want[:10]
    return None


def _matches(record: Json, name: str, values: list[str], many: bool) -> bool:
    if many:
        field = _ID_LISTS.get(name, name.removesuffix("s"))
        return field not in record or str(record[field]) in values
    value = values[-1]
    for suffix in ("_like", "_min", "_max"):
        field = name.removesuffix(suffix)
        if field not in record:
            field = _ALIASES.get(field, field)
        if name.endswith(suffix) and field in record:
            have = record[field]
            if suffix == "_like":
                return value.casefold() in str(have or "").casefold()
            pair = _bound(have, value)
            if pair is None:
                raise Refused(400, INVALID_VALUE, f"{name} is not comparable", field=name)
            return bool(pair[0] >= pair[1] if suffix == "_min" else pair[0] <= pair[1])
    if name not in record:
        return True
    have = record[name]
    if isinstance(have, bool):
        return str(have).lower() == value.lower()
    return str(have) == value


def search(query: list[tuple[str, str]], records: list[Json]) -> list[Json]:
    """``records`` filtered by the request's ``search[...]`` parameters and sorted by ``sort``."""
    filters: dict[tuple[str, bool], list[str]] = {}
    for key, value in query:
        match = _KEY.match(key)
        if match and match[1] not in _OWN:
            filters.setdefault((match[1], bool(match[2])), []).append(value)
    kept = [
        r
        for r in records
        if all(_matches(r, name, values, many) for (name, many), values in filters.items())
    ]
    order = next((value for key, value in query if key == "sort"), None)
    if order:
        descending = order.startswith("-") or order.endswith("_desc")
        field = order.removeprefix("-").removesuffix("_desc").removesuffix("_asc")
        kept.sort(key=lambda r: (r.get(field) is None, _sortable(r.get(field))), reverse=descending)
    return kept


def _sortable(value: Any) -> Any:
    number = _number(value) if not isinstance(value, str) or value[:1].isdigit() else None
    return (0, number) if number is not None else (1, str(value).casefold())
