"""The kit's write order: none, delete of the known record, update of it, else a create."""

import datetime as dt

import pytest
from timebridge_providers.kit.ports.entries import Observed, Operation, Slot, Write
from timebridge_providers.kit.writes import carry_out, deleted

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import NotFoundError, ProviderError

FIELDS = TimeEntryFields(
    user=UserRef(external_id="u"), date=dt.date(2026, 3, 9), duration_seconds=60, billable=False
)


async def _run(slot: Slot, write: Write) -> tuple[str | None, list[tuple[str, str]]]:
    calls: list[tuple[str, str]] = []

    async def delete(target: str) -> None:
        calls.append(("delete", target))

    async def update(target: str, desired: TimeEntryFields, was: Observed | None) -> None:
        assert desired is FIELDS
        calls.append(("update", f"{target}:{was.target_id if was else None}"))

    async def create(desired: TimeEntryFields) -> str:
        calls.append(("create", desired.user.external_id))
        return "new"

    result = await carry_out(slot, write, delete=delete, update=update, create=create)
    return result, calls


def _write(operation: Operation, current: str | None = None) -> Write:
    was = None if current is None else Observed(current, FIELDS)
    desired = None if operation in {"delete", "none"} else FIELDS
    return Write(operation, desired, was, "key")


@pytest.mark.parametrize(
    ("slot_id", "write", "expected"),
    [
        ("1", _write("none", "1"), (None, [])),
        ("1", _write("delete"), (None, [("delete", "1")])),
        (None, _write("delete", "2"), (None, [("delete", "2")])),  # known from the last read
        (None, _write("delete"), (None, [])),  # nothing known: nothing to delete
        ("1", _write("update", "1"), (None, [("update", "1:1")])),
        (None, _write("update"), ("new", [("create", "u")])),  # no record to update: created
        (None, _write("create"), ("new", [("create", "u")])),
    ],
)
async def test_each_operation_takes_its_step(
    slot_id: str | None, write: Write, expected: tuple[str | None, list[tuple[str, str]]]
) -> None:
    assert await _run(Slot("t", "k", slot_id), write) == expected


async def test_a_create_without_fields_is_refused() -> None:
    with pytest.raises(ValueError, match="needs desired fields"):
        await _run(Slot("t", "k"), Write("create", None, None, "key"))


async def test_a_delete_of_a_record_already_gone_is_false_other_errors_pass() -> None:
    async def ok() -> None:
        return None

    async def fails(status: int) -> None:
        error = NotFoundError if status == 404 else ProviderError
        raise error("test", "DELETE", "/entries/1", status, "")

    assert await deleted(ok()) is True
    assert await deleted(fails(404)) is False
    with pytest.raises(ProviderError):
        await deleted(fails(403))
