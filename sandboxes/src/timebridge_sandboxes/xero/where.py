"""Xero's ``where`` and ``order`` query parameters, evaluated on the records as Xero renders them.

``where`` is the .NET-style filter Xero documents: ``Status=="AUTHORISED"``,
``Contact.ContactID==guid("...")``, ``AmountDue>=100.5``, ``Date>=DateTime(2026, 11, 1)``,
``IsCustomer==true``, ``EmailAddress!=null``, ``Name.Contains("Ltd")`` / ``StartsWith`` /
``EndsWith``, combined with ``AND``/``&&``, ``OR``/``||``, ``!`` and parentheses. String
comparisons ignore case (Xero's database collation does). ``order`` is ``Field [ASC|DESC]``,
several separated by commas. Anything else is a ``400`` naming the part not understood.
"""

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero.state import Json

Predicate = Callable[[Json], bool]

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*")
    |(?P<op>==|!=|>=|<=|&&|\|\||[<>()!,])
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_METHODS: dict[str, Callable[[str, str], bool]] = {
    "Contains": lambda have, want: want in have,
    "StartsWith": lambda have, want: have.startswith(want),
    "EndsWith": lambda have, want: have.endswith(want),
}


def _refuse(expression: str, why: str) -> ApiError:
    return ApiError(400, f"The where clause {expression!r} is not understood: {why}")


def _tokens(expression: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _refuse(expression, f"at {text[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match[kind]))
        position = match.end()
    return found


def _moment(value: Any) -> dt.datetime | None:
    """A record's ``/Date(ms+0000)/`` as a UTC date-time (None for anything else)."""
    match = _MS_DATE.match(value) if isinstance(value, str) else None
    return dt.datetime.fromtimestamp(int(match[1]) / 1000, dt.UTC) if match else None


def _field(record: Json, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _compare(have: Any, op: str, want: Any) -> bool:
    """``have op want`` with Xero's conversions: dates, numbers, case-insensitive strings."""
    if want is None or have is None:
        equal = have is want
        return equal if op == "==" else not equal if op == "!=" else False
    if isinstance(want, dt.datetime):
        have = _moment(have)
        if have is None:
            return False
    elif isinstance(want, Decimal):
        try:
            have = Decimal(str(have))
        except InvalidOperation:
            return False
    elif isinstance(want, str):
        have, want = str(have).casefold(), want.casefold()
    results = {
        "==": lambda: have == want,
        "!=": lambda: have != want,
        ">": lambda: have > want,
        "<": lambda: have < want,
        ">=": lambda: have >= want,
        "<=": lambda: have <= want,
    }
    return bool(results[op]())


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, kind: str | None = None, text: str | None = None) -> str:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (text and token[1] != text):
            raise _refuse(self.expression, f"expected {text or kind}")
        self.at += 1
        return token[1]

    def joined(self, words: tuple[str, ...], inner: Callable[[], Predicate]) -> Predicate:
        parts = [inner()]
        while (token := self.peek()) is not None and token[1] in words:
            self.at += 1
            parts.append(inner())
        if len(parts) == 1:
            return parts[0]
        if words[0] == "AND":
            return lambda record: all(part(record) for part in parts)
        return lambda record: any(part(record) for part in parts)

    def expression_(self) -> Predicate:
        return self.joined(("OR", "||", "or"), self.term)

    def term(self) -> Predicate:
        return self.joined(("AND", "&&", "and"), self.factor)

    def factor(self) -> Predicate:
        token = self.peek()
        if token == ("op", "!"):
            self.at += 1
            inner = self.factor()
            return lambda record: not inner(record)
        if token == ("op", "("):
            self.at += 1
            inner = self.expression_()
            self.take("op", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        path = self.take("name")
        head, _, method = path.rpartition(".")
        if method in _METHODS and self.peek() == ("op", "("):
            self.at += 1
            want = self.literal()
            self.take("op", ")")
            if not isinstance(want, str):
                raise _refuse(self.expression, f"{method} takes a string")
            test = _METHODS[method]
            return lambda record: (
                isinstance(_field(record, head), str)
                and test(_field(record, head).casefold(), want.casefold())
            )
        token = self.peek()
        if token is None or token[0] != "op" or token[1] not in ("==", "!=", ">", "<", ">=", "<="):
            raise _refuse(self.expression, f"no comparison after {path}")
        self.at += 1
        want = self.literal()
        return lambda record: _compare(_field(record, path), token[1], want)

    def literal(self) -> Any:
        kind, text = self.peek() or ("", "")
        self.at += 1
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "number":
            return Decimal(text)
        lowered = text.lower()
        if kind == "name" and lowered in ("true", "false"):
            return lowered == "true"
        if kind == "name" and lowered == "null":
            return None
        if kind == "name" and lowered == "guid":
            self.take("op", "(")
            value = self.literal()
            self.take("op", ")")
            return value
        if kind == "name" and lowered == "datetime":
            self.take("op", "(")
            numbers = [int(self.take("number"))]
            while self.peek() == ("op", ","):
                self.at += 1
                numbers.append(int(self.take("number")))
            self.take("op", ")")
            try:
                year, month, day, *clock = numbers
                hour, minute, second = [*clock, 0, 0, 0][:3]
                return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
            except ValueError:
                raise _refuse(self.expression, f"DateTime{tuple(numbers)}") from None
        raise _refuse(self.expression, f"{text!r} is not a value")


def where(expression: str | None) -> Predicate:
    """The records ``expression`` keeps (all when there is none)."""
    if not expression or not expression.strip():
        return lambda _: True
    parser = _Parser(expression)
    predicate = parser.expression_()
    if parser.peek() is not None:
        raise _refuse(expression, f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return predicate


def _sortable(value: Any) -> tuple[int, Any]:
    moment = _moment(value)
    if moment is not None:
        return (1, moment)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, 0) if value is None else (1, str(value).casefold())


def order(records: list[Json], given: str | None) -> list[Json]:
    """``records`` sorted by ``given`` (``Field [ASC|DESC]``, comma-separated), stable."""
    ordered = list(records)
    for part in reversed([p.strip() for p in (given or "").split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        direction = direction.strip().upper()
        if direction not in ("", "ASC", "DESC"):
            raise ApiError(400, f"The order {given!r} is not understood")
        ordered.sort(key=lambda r: _sortable(_field(r, name)), reverse=direction == "DESC")
    return ordered
