"""Polling a provider that keeps no tombstones: a deletion is an id gone from a re-listed window.

Most trackers delete a time record without a trace, so an observer finds deletions by listing
the records dated in a window (``lookback`` before now up to tomorrow) and comparing the ids with
the previous poll's listing, which its cursor carries as a *brief* per id: what a deletion is
reported with, its **last element the record's ISO date** (so a record that left the window by
age is not taken for deleted). A deletion older than the window is not seen. Two shapes:

- :class:`SincePoll`: the provider also lists what changed since a time (Harvest's
  ``updated_since``, Tempo's ``updatedFrom``, Wrike's ``updatedDate``). Changes come from that
  listing, from the newest change time seen minus :data:`OVERLAP` (the provider's clock, never
  ours; the overlap catches a record committed late); the versions of what the overlap lists
  again are kept, so an unchanged record is not reported twice. Cursor:
  ``{"since", "ids": {id: brief}, "reported": {id: version}}``.
  Without a window (``listed`` empty: Hubstaff keeps a zero record for deleted time) it is
  the changed-since half alone.
- :class:`WindowPoll`: the window listing is all there is (Clockify, Xero Projects, Zoho).
  A brief's **first element is the record's version** (a content digest): an id not listed
  before, or listed with another version, is a change. Cursor: ``{"seen": {id: brief}}``.

Written once here because six observers had copied it; each keeps its own listing calls,
version digest and translation.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.kit.ports.observe import Change, ChangePage

OVERLAP = dt.timedelta(minutes=1)
AHEAD = dt.timedelta(days=1)
"""The window reaches a day past now: an entry dated tomorrow in a zone east of UTC."""

Brief = list[Any]
"""What a deletion of one record is reported with; the last element is its ISO date."""

R = TypeVar("R")

_CURSOR_ERRORS = (ValueError, KeyError, TypeError, AttributeError)


def digest(content: str) -> str:
    """A record's version from its content (a JSON dump of the fields that sync)."""
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def stamped(updated_at: dt.datetime | None, content: str) -> str:
    """A :class:`SincePoll` version: the provider's change time (whole seconds at most) and a
    digest of the content, so an edit within the same second is still a new version."""
    return f"{updated_at.isoformat() if updated_at else ''}#{digest(content)}"


def _dump(state: Mapping[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"))


def _gone(
    known: Mapping[str, Brief], listed: Mapping[str, object], start: dt.date, also: Iterable[str]
) -> list[tuple[str, Brief]]:
    """The ids listed last time, in neither ``listed`` nor ``also`` now, still inside the
    window (one dated before ``start`` left it by age and is not deleted)."""
    present = set(also)
    return [
        (record, brief)
        for record, brief in known.items()
        if record not in listed
        and record not in present
        and dt.date.fromisoformat(brief[-1]) >= start
    ]


def _ref(value: object) -> str | None:
    """An id as the event carries it: ``None`` for none (or an empty one)."""
    return None if value is None or str(value) == "" else str(value)


def deletion(
    external_id: str,
    now: dt.datetime,
    *,
    user: object,
    date: dt.date | str,
    project: object = None,
    task: object = None,
) -> Change:
    """A record found gone, reported with the user, project, task and date it was known under
    (no time left, not billable), dated by the poll that noticed it."""
    fields = TimeEntryFields(
        user=UserRef(external_id=str(user)),
        project_external_id=_ref(project),
        task_external_id=_ref(task),
        date=date if isinstance(date, dt.date) else dt.date.fromisoformat(date),
        duration_seconds=0,
        billable=False,
    )
    return Change(external_id=external_id, fields=fields, updated_at=now, deleted=True)


class SincePoll(Generic[R]):
    """One poll of a provider that lists records changed since a time and, by date, a window.

    Open it on the cursor, list ``changed`` since :attr:`since` and the window from
    :attr:`start` to :attr:`end` (as briefs by id), then :meth:`page` them.
    """

    def __init__(
        self,
        cursor: str | None,
        *,
        provider: str,
        now: dt.datetime,
        lookback: dt.timedelta,
        key: Callable[[R], str],
        version: Callable[[R], str],
        updated_at: Callable[[R], dt.datetime | None],
    ) -> None:
        self._known: dict[str, Brief] = {}
        self._reported: dict[str, str] = {}
        since: dt.datetime | None = None
        if cursor:
            try:
                data = json.loads(cursor)
                since = dt.datetime.fromisoformat(data["since"])
                self._known = dict(data.get("ids", {}))  # none: a poll with no window
                self._reported = dict(data.get("reported", {}))
            except _CURSOR_ERRORS as exc:
                raise InvalidMessageError(f"not a {provider} poll cursor: {exc}") from exc
        self.since: dt.datetime = since or now - lookback
        """List the records changed since this."""
        self.start: dt.date = (now - lookback).date()
        self.end: dt.date = (now + AHEAD).date()
        self._key, self._version, self._updated_at = key, version, updated_at

    def page(
        self,
        changed: Sequence[R],
        listed: Mapping[str, Brief],
        *,
        change: Callable[[R], Change],
        deletion: Callable[[str, Brief], Change] | None = None,
    ) -> ChangePage:
        """The changes not reported yet, then the window's deletions, and the next cursor.
        Without ``deletion`` no window is compared (the provider keeps a record of a deletion)."""
        key, version = self._key, self._version
        changes = [change(r) for r in changed if self._reported.get(key(r)) != version(r)]
        if deletion is not None:
            gone = _gone(self._known, listed, self.start, (key(r) for r in changed))
            changes.extend(deletion(record, brief) for record, brief in gone)
        times = [t for t in map(self._updated_at, changed) if t is not None]
        following = max(times) - OVERLAP if times else self.since
        again = {
            key(r): version(r)
            for r in changed
            if (t := self._updated_at(r)) is not None and t >= following
        }
        state = {"since": following.isoformat(), "ids": dict(listed), "reported": again}
        return ChangePage(changes=changes, cursor=_dump(state))


class WindowPoll:
    """One poll of a provider whose window listing is all there is: briefs are
    ``[version, ..., date]`` by id."""

    def __init__(self, cursor: str | None, *, provider: str) -> None:
        self._known: dict[str, Brief] = {}
        if cursor:
            try:
                self._known = {str(k): list(v) for k, v in json.loads(cursor)["seen"].items()}
            except _CURSOR_ERRORS as exc:
                raise InvalidMessageError(f"not a {provider} poll cursor: {exc}") from exc

    def is_change(self, record: str, version: str) -> bool:
        """Not listed last time, or listed with another version."""
        return record not in self._known or self._known[record][0] != version

    def gone(self, seen: Mapping[str, Brief], start: dt.date) -> list[tuple[str, Brief]]:
        """The ids listed last time, not now, still dated in the window from ``start``."""
        return _gone(self._known, seen, start, ())

    @staticmethod
    def cursor(seen: Mapping[str, Brief]) -> str:
        """The next cursor: this poll's listing."""
        return _dump({"seen": dict(seen)})
