"""Report definitions as a form: the reporting API's choices, with the words the pages show.

The values are reporting's (``DefinitionBody``, ``Schedule``, ``ReportParams``); the console
only checks that a submitted choice is one of them and leaves every other rule (recipients'
addresses, cron expressions, time zones) to the API, whose refusal is shown verbatim.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from timebridge_console.domain.choices import FormError

KINDS = {
    "time": "Time",
    "utilization": "Utilization",
    "billing": "Billing",
    "performance": "Performance",
    "reconciliation": "Reconciliation",
}
GROUPS = {"project": "Project", "client": "Client", "task": "Task", "user": "User"}
INTERVALS = {"total": "Total", "day": "Day", "week": "Week", "month": "Month"}
FORMATS = {"pdf": "PDF", "csv": "CSV", "xlsx": "Excel (XLSX)", "json": "JSON"}
SCHEDULES = {
    "": "No schedule (run by hand or by triggers)",
    "end_of_day": "End of day",
    "weekly": "Weekly",
    "monthly": "Monthly",
    "cron": "Cron expression",
}
WEEKDAYS = {
    d: d.title()
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}
COVERAGES = {
    "previous_day": "The previous day",
    "previous_week": "The previous week",
    "previous_month": "The previous month",
    "month_to_date": "This month so far",
}
TRIGGERS = {
    "invoice_exported": "An invoice is exported",
    "invoice_sent": "An invoice is sent",
    "invoice_paid": "An invoice is paid",
    "milestone_reached": "A milestone is reached",
    "budget_threshold_crossed": "A budget threshold is crossed",
    "contract_signed": "A contract is signed",
}
SPLIT = re.compile(r"[\s,;]+")


def _choice(form: Mapping[str, str], name: str, choices: Mapping[str, str], what: str) -> str:
    value = form.get(name, "")
    if value not in choices:
        raise FormError(f"choose {what} from the list")
    return value


def _list(value: str) -> list[str]:
    return [item for item in SPLIT.split(value.strip()) if item]


def definition_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The ``DefinitionBody`` a submitted definition form asks for.

    Checkboxes arrive as ``format_<value>`` and ``trigger_<value>`` fields; recipients,
    projects and clients as lists separated by spaces, commas or new lines.
    """
    name = form.get("name", "").strip()
    if not name:
        raise FormError("give the report a name")
    formats = [f for f in FORMATS if form.get(f"format_{f}")]
    if not formats:
        raise FormError("choose at least one format")
    params: dict[str, Any] = {
        "kind": _choice(form, "kind", KINDS, "a report"),
        "group_by": _choice(form, "group_by", GROUPS, "a grouping"),
        "interval": _choice(form, "interval", INTERVALS, "an interval"),
        "projects": _list(form.get("projects", "")),
        "clients": _list(form.get("clients", "")),
    }
    timezone = form.get("timezone", "").strip() or "UTC"
    body: dict[str, Any] = {
        "name": name,
        "params": params,
        "formats": formats,
        "recipients": _list(form.get("recipients", "")),
        "triggers": [t for t in TRIGGERS if form.get(f"trigger_{t}")],
        "timezone": timezone,
        "default_coverage": _choice(form, "default_coverage", COVERAGES, "a period"),
        "schedule": None,
    }
    kind = _choice(form, "schedule_kind", SCHEDULES, "a schedule")
    if kind:
        schedule: dict[str, Any] = {"kind": kind, "timezone": timezone}
        if kind == "cron":
            schedule["cron"] = form.get("cron", "").strip()
        else:
            schedule["at"] = form.get("at", "").strip() or "07:00"
        if kind == "weekly":
            schedule["weekday"] = _choice(form, "weekday", WEEKDAYS, "a weekday")
        if kind == "monthly":
            day = form.get("day_of_month", "").strip() or "1"
            if not day.isdigit() or not 1 <= int(day) <= 28:
                raise FormError("the day of the month is a number from 1 to 28")
            schedule["day_of_month"] = int(day)
        body["schedule"] = schedule
    return body


def form_of(definition: Mapping[str, Any]) -> dict[str, str]:
    """A definition from the API as the values of its edit form (the inverse of the above)."""
    params = definition.get("params") or {}
    schedule = definition.get("schedule") or {}
    values = {
        "name": str(definition.get("name", "")),
        "kind": str(params.get("kind", "time")),
        "group_by": str(params.get("group_by", "project")),
        "interval": str(params.get("interval", "total")),
        "projects": "\n".join(params.get("projects") or ()),
        "clients": "\n".join(params.get("clients") or ()),
        "recipients": "\n".join(definition.get("recipients") or ()),
        "timezone": str(definition.get("timezone", "UTC")),
        "default_coverage": str(definition.get("default_coverage", "previous_week")),
        "schedule_kind": str(schedule.get("kind", "")),
        "at": str(schedule.get("at", "07:00"))[:5],
        "weekday": str(schedule.get("weekday", "monday")),
        "day_of_month": str(schedule.get("day_of_month", 1)),
        "cron": str(schedule.get("cron") or ""),
    }
    values |= {f"format_{f}": "on" for f in definition.get("formats") or ()}
    values |= {f"trigger_{t}": "on" for t in definition.get("triggers") or ()}
    return values


NEW_DEFINITION = {
    "kind": "time",
    "group_by": "project",
    "interval": "total",
    "timezone": "UTC",
    "default_coverage": "previous_week",
    "at": "07:00",
    "weekday": "monday",
    "day_of_month": "1",
    "format_pdf": "on",
    "format_csv": "on",
}


def schedule_text(schedule: Mapping[str, Any] | None) -> str:
    """A schedule in words: 'Weekly, Monday 07:00 Europe/Berlin'."""
    if not schedule:
        return "By hand"
    zone = schedule.get("timezone", "UTC")
    at = str(schedule.get("at", ""))[:5]
    kind = schedule.get("kind")
    if kind == "cron":
        return f"Cron {schedule.get('cron')} ({zone})"
    if kind == "weekly":
        return f"Weekly, {WEEKDAYS.get(schedule.get('weekday', ''), '')} {at} {zone}"
    if kind == "monthly":
        return f"Monthly, day {schedule.get('day_of_month')} at {at} {zone}"
    return f"End of day, {at} {zone}"


@dataclass(frozen=True)
class Progress:
    """A run's real progress: rendering is one step, each recipient's delivery one more."""

    done: int
    total: int
    label: str
    finished: bool


def run_progress(run: Mapping[str, Any], recipients: int = 0) -> Progress:
    deliveries = run.get("deliveries") or []
    total = 1 + max(len(deliveries), recipients)
    status = run.get("status")
    if status == "failed":
        return Progress(0, total, f"Failed: {run.get('error') or 'given up'}", True)
    if status != "done":
        return Progress(0, total, "Waiting to be generated", False)
    sent = sum(1 for d in deliveries if d.get("status") == "sent")
    failed = sum(1 for d in deliveries if d.get("status") == "failed")
    pending = len(deliveries) - sent - failed
    if not deliveries:
        return Progress(total, total, "Generated", True)
    label = f"Generated; delivered to {sent} of {len(deliveries)}"
    if failed:
        label += f", {failed} failed"
    return Progress(1 + sent + failed, total, label, pending == 0)
