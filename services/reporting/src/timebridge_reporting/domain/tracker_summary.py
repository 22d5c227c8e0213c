"""The tracker's own summary report vs ours: one row per tracker, user (and project), and why.

"Ours" is what Timebridge observed in the tracker for the period: the tracker's entries held by
reporting (``TimeEntryLogged`` from that integration, deletions and running timers left out).
The tracker's summary (``TrackerSummaryReported``) counts the same time by the tracker's own
arithmetic; a difference is time Timebridge has not seen yet or still holds after the tracker
dropped it. Trackers whose report is per user only (no project split) are compared per user.
"""

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

from timebridge_common.events.tracker_reports import TrackerSummaryLine, TrackerSummaryRequested
from timebridge_reporting.domain.report_model import Period, Table, Value

_REQUEST_NAMESPACE = uuid.UUID("5d1f0b8c-9a7e-4b2a-8f3c-2e6a1d4c7b90")

COLUMNS = (
    "integration",
    "tracker",
    "user",
    "project",
    "tracker_seconds",
    "our_seconds",
    "difference_seconds",
    "why",
)


@dataclass(frozen=True, slots=True)
class HeldSummary:
    """The latest summary reporting holds for one integration and exactly this period."""

    integration_id: str
    provider: str
    lines: tuple[TrackerSummaryLine, ...]
    unavailable: str | None
    fetched_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OurTotal:
    """The tracker's live entries Timebridge holds, summed per user and project."""

    integration_id: str
    user_id: str
    project_id: str | None
    seconds: int
    billable_seconds: int


@dataclass(frozen=True, slots=True)
class Tracker:
    integration_id: str
    provider: str


def _why(tracker: int | None, ours: int, billable: tuple[int | None, int]) -> str:
    if tracker is None:
        return (
            "held by Timebridge, not in the tracker's report: deleted in the tracker and not"
            " seen yet, or time the report leaves out"
        )
    if ours == 0 and tracker > 0:
        return "in the tracker's report, no entry observed by Timebridge: not polled yet, or missed"
    if tracker > ours:
        return f"the tracker reports {tracker - ours} s more: entries not observed yet"
    if ours > tracker:
        return (
            f"Timebridge holds {ours - tracker} s more: an entry deleted or shortened in the"
            " tracker not seen yet"
        )
    theirs, mine = billable
    if theirs is not None and theirs != mine:
        return f"same time; billable differs: {theirs} s in the tracker, {mine} s here"
    return "same"


def compare(
    trackers: list[Tracker], summaries: list[HeldSummary], ours: list[OurTotal]
) -> tuple[Table, list[str]]:
    """The comparison table and a note per summary (when it was fetched)."""
    held = {s.integration_id: s for s in summaries}
    rows: list[tuple[Value, ...]] = []
    notes: list[str] = []
    for tracker in sorted(trackers, key=lambda t: t.integration_id):
        summary = held.get(tracker.integration_id)
        mine = [o for o in ours if o.integration_id == tracker.integration_id]
        if summary is None:
            why = "no tracker summary for this period yet (each reconciliation run requests one)"
            rows.append(
                (tracker.integration_id, tracker.provider, None, None, None, None, None, why)
            )
            continue
        notes.append(
            f"{tracker.provider} summary of {tracker.integration_id}: fetched at"
            f" {summary.fetched_at.isoformat()}"
        )
        if summary.unavailable is not None:
            why = f"no tracker summary: {summary.unavailable}"
            rows.append(
                (tracker.integration_id, tracker.provider, None, None, None, None, None, why)
            )
            continue
        rows.extend(_rows(tracker, summary, mine))
    return Table("tracker_summary", COLUMNS, rows), notes


def _rows(tracker: Tracker, summary: HeldSummary, mine: list[OurTotal]) -> list[tuple[Value, ...]]:
    per_project = bool(summary.lines) and all(
        line.project_external_id is not None for line in summary.lines
    )
    theirs: dict[tuple[str, str | None], list[int | None]] = defaultdict(lambda: [0, None])
    for line in summary.lines:
        slot = theirs[(line.user_external_id, line.project_external_id if per_project else None)]
        slot[0] = (slot[0] or 0) + line.seconds
        if line.billable_seconds is not None:
            slot[1] = (slot[1] or 0) + line.billable_seconds
    held: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    for total in mine:
        sums = held[(total.user_id, total.project_id if per_project else None)]
        sums[0] += total.seconds
        sums[1] += total.billable_seconds
    rows: list[tuple[Value, ...]] = []
    for key in sorted(theirs.keys() | held.keys(), key=lambda k: (k[0], k[1] or "")):
        tracker_seconds = theirs[key][0] if key in theirs else None
        our_seconds, our_billable = held.get(key, [0, 0])
        billable = (theirs[key][1] if key in theirs else None, our_billable)
        rows.append(
            (tracker.integration_id, tracker.provider, key[0], key[1], tracker_seconds,
             our_seconds, (tracker_seconds or 0) - our_seconds,
             _why(tracker_seconds, our_seconds, billable))
        )  # fmt: skip
    return rows


SUMMARY_WAIT = dt.timedelta(seconds=30)
"""How long a new reconciliation run waits before it is built: the trackers' summaries it asked
for arrive meanwhile (a tracker that is slower is reported with the summary held before)."""


def summary_wait(kind: str) -> dt.timedelta:
    """The delay before a new run of ``kind`` is built."""
    return SUMMARY_WAIT if kind == "reconciliation" else dt.timedelta()


def summary_request(
    workspace_id: str, run_id: str, period: Period, now: dt.datetime
) -> tuple[TrackerSummaryRequested, uuid.UUID]:
    """What a reconciliation run asks of the trackers, with an event id fixed by the run."""
    event = TrackerSummaryRequested(
        workspace_id=workspace_id,
        period_start=period.start,
        period_end=period.end,
        cause=f"report-run:{run_id}",
        requested_at=now,
    )
    return event, uuid.uuid5(_REQUEST_NAMESPACE, run_id)
