"""Tempo's changes by polling: ``updatedFrom`` for what changed, a re-listing for deletions.

Tempo Cloud sends no webhooks for worklogs and publishes no tombstones of its own (see
:mod:`.client`), so each poll (1) lists the worklogs updated since the newest ``updatedAt`` seen
so far, minus an overlap (Tempo's clock, never ours), and (2) re-lists by worklog date the window
from ``lookback`` before now to tomorrow. An id the previous poll listed in that window and this
one does not is reported deleted; a deletion older than the window is not seen. The cursor is
JSON: the next ``updatedFrom``, the window's ids (each with the author, issue and date a deletion
is reported with), and the versions (``updatedAt`` and a content digest) of the worklogs the
overlap lists again, so an unchanged worklog is not reported twice.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.kit.relisting import SincePoll, deletion, stamped
from timebridge_providers.tempo.client import TempoClient
from timebridge_providers.tempo.translate import entry_fields
from timebridge_providers.tempo.wire import Worklog


def _version(worklog: Worklog) -> str:
    """``updatedAt`` (whole seconds at Tempo) and a digest of the content, so an edit within the
    same second as the version reported is still a new version."""
    content = worklog.model_dump_json(exclude={"createdAt", "updatedAt"})
    return stamped(worklog.updatedAt, content)


class TempoObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one Tempo connection."""

    def __init__(self, client: TempoClient, zone: str) -> None:
        self._client = client
        self._zone = zone

    hooks: HookAdmin | None = None
    """Tempo Cloud has no worklog webhooks: it is polled."""

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        poll = SincePoll(
            cursor, provider="Tempo", now=now, lookback=lookback,
            key=_key, version=_version, updated_at=lambda w: w.updatedAt,
        )  # fmt: skip
        changed = [w async for w in self._client.updated_from(poll.since)]
        listed = {_key(w): _brief(w) async for w in self._client.dated(poll.start, poll.end)}
        return poll.page(
            changed,
            listed,
            change=self._change,
            deletion=lambda worklog_id, brief: _deletion(worklog_id, brief, now),
        )

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """Each named worklog as it is now; one gone is reported deleted with what the hint knew."""
        changes: list[Change] = []
        for hint in hints:
            worklog = (
                await self._client.worklog(int(hint.external_id))
                if hint.external_id.isdigit()
                else None
            )
            if worklog is None:
                brief = [hint.user_id, hint.task_id or "", hint.date.isoformat()]
                changes.append(_deletion(hint.external_id, brief, now))
            else:
                changes.append(self._change(worklog))
        return changes

    def _change(self, worklog: Worklog) -> Change:
        return Change(
            external_id=str(worklog.tempoWorklogId),
            fields=entry_fields(worklog, zone=self._zone),
            updated_at=worklog.updatedAt or worklog.createdAt or dt.datetime.now(dt.UTC),
        )


def _key(worklog: Worklog) -> str:
    return str(worklog.tempoWorklogId)


def _brief(worklog: Worklog) -> list[Any]:
    return [worklog.author.accountId, str(worklog.issue.id), worklog.startDate.isoformat()]


def _deletion(worklog_id: str, brief: list[Any], now: dt.datetime) -> Change:
    user, issue, date = brief
    return deletion(worklog_id, now, user=user, task=issue, date=date)
