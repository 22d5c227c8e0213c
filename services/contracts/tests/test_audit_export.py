"""The CSV export: the hashed body unchanged, formula-like cells neutralised."""

import csv
import io

from timebridge_contracts.adapters.audit_export import csv_header, csv_rows
from timebridge_contracts.domain.audit import GENESIS, canonical, chain_hash


def test_rows_carry_the_hashed_body_and_neutralise_formulas() -> None:
    body = {
        "seq": 1,
        "recorded_at": "2026-11-21T10:00:00+00:00",
        "kind": "=cmd()",
        "entry_ids": ["te_1"],
        "contract_ids": [],
        "invoice_id": None,
        "event_id": None,
        "workspace_id": "w",
        "data": {"notes": "=1+1"},
    }
    record = body | {"prev_hash": GENESIS, "hash": chain_hash(GENESIS, canonical(body))}
    text = (csv_header() + csv_rows([record])).decode()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["kind"] == "'=cmd()"
    assert row["body"] == canonical(body)
    assert chain_hash(row["prev_hash"], row["body"]) == row["hash"]
