"""The query language (``GET /query?query=...`` or ``POST /query`` with the statement as the body,
``Content-Type: application/text``, as python-quickbooks sends it):

``SELECT * | COUNT(*) [, Element ...] FROM Entity [WHERE a op v [AND ...]] [ORDERBY|ORDER BY e
[ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]``; operators ``= < > <= >= IN LIKE`` (``%``), at most
1000 a page, name lists active-only unless ``Active`` is filtered. Keywords are case-insensitive,
entity names are not. Named elements after ``*`` (python-quickbooks asks ``SELECT *, Sku FROM
Item``) add nothing: every element is answered.
"""

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from timebridge_sandboxes.quickbooks.base import (
    COMPANY_ZONE,
    DEFAULT_PAGE,
    KINDS,
    NAME_LISTS,
    PAGE_LIMIT,
    Company,
    Fault,
    Json,
    stamp,
)
from timebridge_sandboxes.quickbooks.sandbox import Sandbox

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<symbol><=|>=|=|<|>|\(|\)|,|\*)|(?P<word>[A-Za-z_][\w.]*))"
)
_OPERATORS = frozenset({"=", "<", ">", "<=", ">=", "IN", "LIKE"})


@dataclass(frozen=True)
class _Query:
    entity: str
    where: tuple[tuple[str, str, Any], ...]
    order_by: str | None
    descending: bool
    start: int
    limit: int
    count: bool = False


def _query_error(detail: str) -> Fault:
    return Fault(400, "4000", "Error parsing query", f"QueryParserError: {detail}")


class _Parser:
    """The query language's select statement, as far as the sandbox needs it."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise _query_error(f"Encountered an unexpected character at {position}")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, kind: str | None = None) -> str:
        if self.at >= len(self.tokens) or kind not in (None, self.tokens[self.at][0]):
            raise _query_error(f"Encountered unexpected end or token after {self.peek()!r}")
        self.at += 1
        return self.tokens[self.at - 1][1]

    def keyword(self, *words: str) -> bool:
        if (self.peek() or "").upper() in words:
            self.at += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            raise _query_error(f"Expected {word}, found {self.peek()!r}")

    def value(self) -> Any:
        kind, token = self.tokens[self.at] if self.at < len(self.tokens) else ("", "")
        self.at += 1
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", token[1:-1])
        if kind == "number":
            return Decimal(token)
        if token.lower() in {"true", "false"}:
            return token.lower() == "true"
        raise _query_error(f"Unexpected value {token!r}")

    def statement(self) -> _Query:
        self.expect("SELECT")
        count = self.keyword("COUNT")
        if count and [self.take(), self.take(), self.take()] != ["(", "*", ")"]:
            raise _query_error("COUNT(*) expected")
        if not count and self.take() != "*":
            raise _query_error("only SELECT * (and named elements after it) is simulated")
        while not count and self.peek() == ",":
            self.take()
            self.take("word")
        self.expect("FROM")
        entity = self.take("word")
        where: list[tuple[str, str, Any]] = []
        if self.keyword("WHERE"):
            where.append(self.condition())
            while self.keyword("AND"):
                where.append(self.condition())
        order_by, descending = None, False
        ordered = self.keyword("ORDERBY")
        if not ordered and self.keyword("ORDER"):
            self.expect("BY")
            ordered = True
        if ordered:
            order_by = self.take("word")
            descending = self.keyword("DESC")
            if not descending:
                self.keyword("ASC")
        start = int(self.take("number")) if self.keyword("STARTPOSITION") else 1
        limit = int(self.take("number")) if self.keyword("MAXRESULTS") else DEFAULT_PAGE
        if self.peek() is not None:
            raise _query_error(f"Encountered {self.peek()!r} after the statement")
        if start < 1 or not 1 <= limit <= PAGE_LIMIT:
            raise _query_error(f"STARTPOSITION from 1, MAXRESULTS 1 to {PAGE_LIMIT}")
        return _Query(entity, tuple(where), order_by, descending, start, limit, count)

    def condition(self) -> tuple[str, str, Any]:
        name = self.take("word")
        operator = self.take().upper()
        if operator not in _OPERATORS:
            raise _query_error(f"Unsupported operator {operator!r}")
        if operator != "IN":
            return name, operator, self.value()
        if self.take() != "(":
            raise _query_error("IN needs a parenthesised list")
        values = [self.value()]
        while self.peek() == ",":
            self.take()
            values.append(self.value())
        if self.take() != ")":
            raise _query_error("IN list not closed")
        return name, operator, tuple(values)


def _path(row: Json, name: str) -> Any:
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _comparable(name: str, value: Any) -> Any:
    """A value as QuickBooks compares it: timestamps as instants, numbers as numbers."""
    if isinstance(value, bool) or value is None:
        return value
    if name.endswith("Time"):
        moment = dt.datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=COMPANY_ZONE)
    if name == "Id" or isinstance(value, int | float | Decimal):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return str(value)
    return str(value)


def _as(actual: Any, name: str, wanted: Any) -> Any:
    """``wanted`` as ``actual``'s kind: ``Balance > '0'`` compares numbers, as QuickBooks does."""
    expected = _comparable(name, wanted)
    if isinstance(actual, Decimal) and isinstance(expected, str):
        with contextlib.suppress(InvalidOperation):
            return Decimal(expected)
    if isinstance(actual, bool) and isinstance(expected, str):
        return {"true": True, "false": False}.get(expected.lower(), expected)
    return expected


def _matches(row: Json, name: str, operator: str, wanted: Any) -> bool:
    actual = _comparable(name, _path(row, name))
    if actual is None:
        return False
    if operator == "IN":
        return actual in {_as(actual, name, w) for w in wanted}
    if operator == "LIKE":
        pattern = ".*".join(re.escape(part) for part in str(wanted).split("%"))
        return re.fullmatch(pattern, str(actual), re.IGNORECASE) is not None
    expected = _as(actual, name, wanted)
    try:
        return bool(
            {
                "=": actual == expected,
                "<": actual < expected,
                ">": actual > expected,
                "<=": actual <= expected,
                ">=": actual >= expected,
            }[operator]
        )
    except TypeError:
        raise _query_error(f"cannot compare {name} with {wanted!r}") from None


def run_query(sandbox: Sandbox, company: Company, text: str) -> Json:
    query = _Parser(text).statement()
    if query.entity not in KINDS.values():
        raise _query_error(f"Invalid entity {query.entity!r}")
    where = list(query.where)
    if query.entity in NAME_LISTS and not any(name == "Active" for name, _, _ in where):
        where.append(("Active", "=", True))
    try:
        rows = [
            row
            for row in sandbox.rows(company, query.entity)
            if all(_matches(row, *condition) for condition in where)
        ]
        order = query.order_by or "Id"

        def key(row: Json) -> tuple[bool, Any]:
            value = _comparable(order, _path(row, order))
            return value is None, value

        rows.sort(key=key, reverse=query.descending)
    except ValueError as exc:
        raise _query_error(str(exc)) from None
    now = stamp(sandbox.state.now())
    if query.count:
        return {"QueryResponse": {"totalCount": len(rows)}, "time": now}
    page = rows[query.start - 1 : query.start - 1 + query.limit]
    if not page:
        return {"QueryResponse": {}, "time": now}
    found = {query.entity: page, "startPosition": query.start, "maxResults": len(page)}
    return {"QueryResponse": found, "time": now}
