"""What a report request by email asks for.

Two forms are understood: the name of one of the workspace's report definitions (e.g. subject
"Weekly time"), or a plain sentence such as "time report for last week for Globex" (kind, period,
optionally a client or project). Anything else is not a request we can serve.
"""

import re
from dataclasses import dataclass
from typing import Literal

from timebridge_reporting.domain.definitions import Coverage
from timebridge_reporting.domain.report_model import ReportKind

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
