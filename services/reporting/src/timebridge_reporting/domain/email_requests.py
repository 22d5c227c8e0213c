"""What a report request by email asks for.

Two forms are understood: the name of one of the workspace's report definitions (e.g. subject
"Weekly time"), or a plain sentence such as "time report for last week for Globex" (kind, period,
optionally a client or project). Anything else is not a request we can serve.

What a sender may get is what the portal would show them (``domain.portal``): their client scope
is the union of the client filters of the definitions that deliver to them, unlimited if any of
those is workspace-wide. A request is limited to that scope, or refused if it cannot be.
"""

import re
from dataclasses import dataclass
from typing import Literal

from timebridge_reporting.domain.definitions import Coverage
from timebridge_reporting.domain.portal import CLIENT_FILTERED_KINDS
from timebridge_reporting.domain.report_model import ReportKind, ReportParams

_PLAIN = re.compile(
    r"\b(?P<kind>time|utili[sz]ation|billing|performance|reconciliation)\s+report\s+"
    r"(?:for\s+)?(?P<when>last\s+week|previous\s+week|last\s+month|previous\s+month"
    r"|this\s+month|yesterday)(?:\s+for\s+(?P<target>[^\r\n.!?]{1,120}))?",
    re.IGNORECASE,
)
_WHEN: dict[str, Coverage] = {
    "last week": "previous_week",
    "previous week": "previous_week",
    "last month": "previous_month",
    "previous month": "previous_month",
    "this month": "month_to_date",
    "yesterday": "previous_day",
}


@dataclass(frozen=True, slots=True)
class NamedRequest:
    definition_id: str


@dataclass(frozen=True, slots=True)
class PlainRequest:
    kind: ReportKind
    coverage: Coverage
    target: str | None


Request = NamedRequest | PlainRequest


def parse_request(subject: str, body: str, definitions: dict[str, str]) -> Request | None:
    """``definitions``: lower-cased name -> definition id. The subject wins over the body."""
    for text in (subject, body):
        named = definitions.get(" ".join(text.split()).lower().removeprefix("re: "))
        if named is not None:
            return NamedRequest(named)
    for text in (subject, body[:2000]):
        match = _PLAIN.search(text)
        if match is not None:
            kind = match["kind"].lower().replace("utilisation", "utilization")
            when = " ".join(match["when"].lower().split())
            target = (match["target"] or "").strip().strip("\"'") or None
            return PlainRequest(_kind(kind), _WHEN[when], target)
    return None


def _kind(word: str) -> ReportKind:
    kinds: dict[str, ReportKind] = {
        "time": "time",
        "utilization": "utilization",
        "billing": "billing",
        "performance": "performance",
        "reconciliation": "reconciliation",
    }
    return kinds[word]


MAX_CLIENTS = 100
"""As many clients as one report's filter holds (``ReportParams.clients``)."""


def limited_to(params: ReportParams, scope: frozenset[str] | None) -> ReportParams | None:
    """``params`` narrowed to the sender's client ``scope`` (``None``: unlimited), or ``None`` if
    the report cannot be limited to it (a kind that ignores client filters, or no client left)."""
    if scope is None:
        return params
    if params.kind not in CLIENT_FILTERED_KINDS:
        return None
    clients = scope.intersection(params.clients) if params.clients else scope
    if not clients or len(clients) > MAX_CLIENTS:
        return None
    return params.model_copy(update={"clients": tuple(sorted(clients))})


Outcome = Literal["run", "refused", "ignored_unknown_sender", "duplicate"]

REFUSAL = """Hello,

Thank you for your message. We could not tell which report you would like, so nothing is
attached this time.

You can ask for a report by its name ({names}), or with a sentence such as
"time report for last week for <client or project>" (also: last month, this month, yesterday;
utilization, billing, performance or reconciliation reports).

Kind regards,
Timebridge reports
"""
