"""The audit trail as CSV, for a contract audit: one row per record, verifiable offline.

Each row carries the record's canonical body and both hashes, so an auditor can recompute
``sha256(prev_hash + "\\n" + body)`` and the links without Timebridge. Cells a spreadsheet
would run as a formula are prefixed with ``'`` (ids and kinds never start that way; the JSON
body starts with ``{``, so the hashed text is exported unchanged).
"""

import csv
import io
from collections.abc import Iterable
from typing import Any

from timebridge_contracts.domain.audit import canonical

HEADER = (
    "seq",
    "recorded_at",
    "kind",
    "entry_ids",
    "contract_ids",
    "client_ids",
    "invoice_id",
    "event_id",
    "prev_hash",
    "hash",
    "body",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_header() -> bytes:
    return _rows([HEADER])


def csv_rows(records: Iterable[dict[str, Any]]) -> bytes:
    rows = []
    for record in records:
        body = {k: v for k, v in record.items() if k not in {"prev_hash", "hash"}}
        rows.append(
            (
                record["seq"],
                record["recorded_at"],
                record["kind"],
                " ".join(record["entry_ids"]),
                " ".join(record["contract_ids"]),
                " ".join(record.get("client_ids", [])),
                record["invoice_id"],
                record["event_id"],
                record["prev_hash"],
                record["hash"],
                canonical(body),
            )
        )
    return _rows(rows)


def _rows(rows: Iterable[Iterable[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")
