"""Decoding the one row of ``sync_sql.KNOWN``: its rows come as ``jsonb``, where timestamps,
dates and ids are text."""

import datetime as dt
import uuid
from typing import Any

import asyncpg

from timebridge_common.events import TimeEntryFields
from timebridge_conflict_resolver.domain.matching import Observation
from timebridge_conflict_resolver.domain.state import Lease, Link, TargetRecord
from timebridge_conflict_resolver.handlers.ports import Known


def _at(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _fields(value: Any) -> TimeEntryFields | None:
    return None if value is None else TimeEntryFields.model_validate(value)


def _link(row: dict[str, Any]) -> Link:
    written = _fields(row["written"])
    assert written is not None
    updated = _at(row["source_updated_at"])
    assert updated is not None
    return Link(
        **{
            **row,
            "written": written,
            "source_updated_at": updated,
            "source_entry": _fields(row["source_entry"]),
        }
    )


def _target(row: dict[str, Any]) -> TargetRecord:
    return TargetRecord(
        **{**row, "confirmed": _fields(row["confirmed"]), "confirmed_at": _at(row["confirmed_at"])}
    )


def _lease(row: dict[str, Any]) -> Lease:
    planned = _fields(row["planned"])
    return Lease(row["key"], uuid.UUID(row["owner"]), row["operation"], planned, row["target_id"])


def _observation(row: dict[str, Any]) -> Observation:
    return Observation(
        **{
            **row,
            "date": dt.date.fromisoformat(row["date"]),
            "started_at": _at(row["started_at"]),
            "updated_at": _at(row["updated_at"]),
        }
    )


def known_of(row: asyncpg.Record, target: str) -> Known:
    """The row of ``sync_sql.KNOWN`` for a change landing in ``target``."""
    link = _link(row["link"]) if row["link"] else None
    copy = _target(row["copy"]) if row["copy"] else None
    targets: dict[str, TargetRecord | None] = dict.fromkeys(row["keys"])
    for t in row["targets"]:
        targets[t["key"]] = _target(t)
    parts: dict[str, list[Link]] = {key: [] for key in targets}
    copy_origins: list[Link] = []
    for c in map(_link, row["contributions"]):
        if copy is not None and (c.target, c.target_key) == (copy.system, copy.key):
            copy_origins.append(c)
        if c.target == target and c.target_key in parts:
            parts[c.target_key].append(c)
    same_day = row["same_day"]
    return Known(
        link=link,
        copy=copy,
        copy_origins=copy_origins,
        leases=[_lease(r) for r in row["leases"]],
        targets=targets,
        contributions=parts,
        same_day=None if same_day is None else [_observation(o) for o in same_day],
    )
