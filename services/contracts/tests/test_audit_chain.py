"""The hash chain finds the first broken link: a changed body, a gap, a swapped order."""

import dataclasses
import json

from timebridge_contracts.domain.audit import (
    GENESIS,
    StoredRecord,
    canonical,
    chain_hash,
    verify,
)


def chain(n: int) -> list[StoredRecord]:
    records: list[StoredRecord] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        body = {"workspace_id": "w", "seq": seq, "kind": "k", "data": {"hours": seq}}
        text = canonical(body)
        digest = chain_hash(prev, text)
        columns = {"workspace_id": "w", "seq": seq, "kind": "k"}
        records.append(StoredRecord(seq, text, prev, digest, columns))
        prev = digest
    return records


def test_an_intact_chain_verifies() -> None:
    assert verify(chain(5)) == (5, None)
    assert verify([]) == (0, None)


def test_a_changed_body_is_reported_at_that_record() -> None:
    records = chain(5)
    body = json.loads(records[2].body) | {"data": {"hours": 99}}
    records[2] = dataclasses.replace(records[2], body=canonical(body))
    checked, broken = verify(records)
    assert broken is not None
    assert (checked, broken.seq) == (3, 3)
    assert "hash" in broken.reason


def test_a_rehashed_record_breaks_the_next_link() -> None:
    records = chain(5)
    text = canonical(json.loads(records[1].body) | {"data": {"hours": 99}})
    records[1] = dataclasses.replace(
        records[1], body=text, hash=chain_hash(records[1].prev_hash, text)
    )
    _, broken = verify(records)
    assert broken is not None
    assert broken.seq == 3


def test_a_deleted_record_is_a_gap() -> None:
    records = chain(4)
    del records[1]
    _, broken = verify(records)
    assert broken is not None
    assert (broken.seq, broken.reason) == (3, "sequence gap: expected record 2")


def test_a_column_changed_next_to_an_intact_body_is_reported() -> None:
    records = chain(3)
    records[1] = dataclasses.replace(records[1], columns={**records[1].columns, "kind": "other"})
    _, broken = verify(records)
    assert broken is not None
    assert broken.seq == 2


def test_a_body_hashed_before_client_ids_existed_verifies_with_an_empty_column() -> None:
    records = chain(2)
    records = [dataclasses.replace(r, columns={**r.columns, "client_ids": []}) for r in records]
    assert verify(records) == (2, None)
    records[1] = dataclasses.replace(
        records[1], columns={**records[1].columns, "client_ids": ["x"]}
    )
    _, broken = verify(records)
    assert broken is not None
    assert (broken.seq, broken.reason) == (2, "column client_ids differs from the hashed body")
