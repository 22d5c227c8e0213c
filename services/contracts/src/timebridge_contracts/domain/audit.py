"""The audit trail's hash chain: each record carries the hash of the previous one.

Per workspace, records are numbered 1, 2, 3, ...; record ``n`` stores ``prev_hash`` (the hash
of record ``n - 1``, or :data:`GENESIS` for the first) and ``hash = sha256(prev_hash + body)``
where ``body`` is the record's canonical JSON (sorted keys, no spaces), which includes the
workspace, the sequence number and every column queries filter on. Changing any stored byte of
a record breaks its own hash; deleting or reordering records breaks the next ``prev_hash``.
:func:`verify` walks a workspace's records in order and reports the first broken link.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, body_text: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{body_text}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as read back: its columns, and the body text that was hashed."""

    seq: int
    body: str
    prev_hash: str
    hash: str
    columns: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Broken:
    seq: int
    reason: str


COLUMNS = (
    "workspace_id",
    "seq",
    "kind",
    "entry_ids",
    "contract_ids",
    "client_ids",
    "invoice_id",
    "recorded_at",
)
"""Columns stored next to the body for queries; each must equal the body's value."""
_ABSENT: dict[str, object] = {"client_ids": []}
"""A column added later: a body hashed before it existed does not name it (its value is [])."""


class ChainVerifier:
    """Feed records in sequence order; the first broken link is kept (and later ones ignored)."""

    def __init__(self) -> None:
        self.expected_prev = GENESIS
        self.expected_seq = 1
        self.checked = 0
        self.broken: Broken | None = None

    def feed(self, record: StoredRecord) -> Broken | None:
        if self.broken is None:
            self.checked += 1
            self.broken = self._check(record)
            self.expected_prev = record.hash
            self.expected_seq = record.seq + 1
        return self.broken

    def _check(self, record: StoredRecord) -> Broken | None:
        if record.seq != self.expected_seq:
            return Broken(record.seq, f"sequence gap: expected record {self.expected_seq}")
        if record.prev_hash != self.expected_prev:
            return Broken(record.seq, "prev_hash is not the previous record's hash")
        if chain_hash(record.prev_hash, record.body) != record.hash:
            return Broken(record.seq, "hash does not match the record's content")
        try:
            body = json.loads(record.body)
        except ValueError:
            return Broken(record.seq, "body is not JSON")
        for column in COLUMNS:
            if (
                column in record.columns
                and body.get(column, _ABSENT.get(column)) != (record.columns[column])
            ):
                return Broken(record.seq, f"column {column} differs from the hashed body")
        return None


def verify(records: Iterable[StoredRecord]) -> tuple[int, Broken | None]:
    """Check records in sequence order; return how many were checked and the first break."""
    verifier = ChainVerifier()
    for record in records:
        if verifier.feed(record) is not None:
            break
    return verifier.checked, verifier.broken
