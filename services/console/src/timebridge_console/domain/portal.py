"""The portal's forms and words: what a recipient typed, checked before anything is sent.

The reporting service checks everything again; these checks only turn a typing slip into a
sentence on the same page instead of a round trip.
"""

import datetime as dt
import re
from dataclasses import dataclass

from timebridge_common.api import WORKSPACE_ID_PATTERN

EMAIL = re.compile(r"^[^@\s<>,;:\"\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
KINDS = {
    "time": "Time",
    "utilization": "Utilization",
    "billing": "Billing",
    "performance": "Performance",
    "reconciliation": "Reconciliation",
}
STATES = {
    "pending": "Being generated",
    "done": "Ready",
    "failed": "Could not be generated",
    "cancelled": "Cancelled",
}


class PortalFormError(ValueError):
    """A field the recipient can correct; the message says how."""


def link_request(fields: dict[str, str]) -> tuple[str, str]:
    """(workspace, email) from the sign-in form."""
    workspace = fields.get("workspace_id", "").strip()
    email = fields.get("email", "").strip()
    if re.fullmatch(WORKSPACE_ID_PATTERN, workspace) is None:
        raise PortalFormError(
            "Enter the workspace id from your report emails: letters, digits, '-' or '_'."
        )
    if EMAIL.fullmatch(email) is None:
        raise PortalFormError("Enter the email address your reports are sent to.")
    return workspace, email


@dataclass(frozen=True)
class ReportAsk:
    definition_id: str
    start: str
    end: str


def report_request(fields: dict[str, str], offered: set[str]) -> ReportAsk:
    """The "request a report" form: one of the offered reports and a period of at most a year."""
    definition_id = fields.get("definition_id", "")
    if definition_id not in offered:
        raise PortalFormError("Choose one of your reports.")
    try:
        start = dt.date.fromisoformat(fields.get("start", ""))
        end = dt.date.fromisoformat(fields.get("end", ""))
    except ValueError:
        raise PortalFormError("Enter the period's first and last day as dates.") from None
    if end < start:
        raise PortalFormError("The period's last day is before its first day.")
    if (end - start).days > 366:
        raise PortalFormError("A report covers at most one year: shorten the period.")
    return ReportAsk(definition_id, start.isoformat(), end.isoformat())


def last_month(today: dt.date) -> tuple[str, str]:
    """The form's default period: the month before ``today``'s."""
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1).isoformat(), end.isoformat()


def scope_text(clients: list[dict[str, str]] | None) -> str:
    if clients is None:
        return "all clients"
    return ", ".join(c["name"] for c in clients) or "no client"
