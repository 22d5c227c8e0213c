"""The PDF export: a well-formed file whose text is every record, hash and body, paged."""

import datetime as dt
import json
import re
from typing import Any

from timebridge_contracts.adapters.audit_pdf import BODY_PREFIX, LINE_CHARS, audit_pdf
from timebridge_contracts.domain.audit import GENESIS, canonical, chain_hash

AT = dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)


def records(n: int, notes: str = "fixed (a) \\ b") -> list[dict[str, Any]]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        body = {
            "seq": seq,
            "recorded_at": "2026-11-21T10:00:00+00:00",
            "kind": "time_entry.logged",
            "entry_ids": [f"te_{seq}"],
            "contract_ids": ["c_1"],
            "client_ids": [],
            "invoice_id": None,
            "event_id": f"ev_{seq}",
            "workspace_id": "w",
            "data": {"notes": notes, "padding": "x" * 300},
        }
        digest = chain_hash(prev, canonical(body))
        out.append(body | {"prev_hash": prev, "hash": digest})
        prev = digest
    return out


def unescape(literal: bytes) -> str:
    return re.sub(rb"\\(.)", rb"\1", literal).decode("ascii")


def parse(pdf: bytes) -> tuple[list[list[str]], dict[str, str]]:
    """Check the file's structure (header, xref offsets, trailer) and read each page's text."""
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    xref = int(re.findall(rb"startxref\n(\d+)\n", pdf)[-1])
    assert pdf[xref:].startswith(b"xref\n0 ")
    size = int(re.search(rb"/Size (\d+)", pdf).group(1))  # type: ignore[union-attr]
    table = pdf[xref:].split(b"\n")[2 : 2 + size]
    for number, row in enumerate(table[1:], start=1):
        offset = int(row[:10])
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number), number
    info = {
        key: unescape(m.group(1))
        for key in ("Title", "Subject")
        if (m := re.search(rb"/" + key.encode() + rb" \(((?:\\.|[^\\)])*)\)", pdf))
    }
    pages = []
    for stream in re.findall(rb"stream\n(.*?)\nendstream", pdf, re.S):
        length = int(re.findall(rb"/Length (\d+)", pdf[: pdf.index(stream)])[-1])
        assert len(stream) == length
        pages.append([unescape(t) for t in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", stream)])
    assert len(pages) == int(re.search(rb"/Count (\d+)", pdf).group(1))  # type: ignore[union-attr]
    return pages, info


def test_every_record_hash_and_body_is_in_the_text_across_pages() -> None:
    trail = records(40, notes="Zoë (naïve) \\ café ☕")
    pdf = audit_pdf("w", {"contract_id": "c_1"}, "w: 40 records, chain intact", trail, AT)
    pages, info = parse(pdf)
    assert info == {"Title": "Timebridge audit trail - workspace w", "Subject": "contract_id=c_1"}
    assert len(pages) > 1
    assert all(p[-1].endswith(f"page {i} of {len(pages)}") for i, p in enumerate(pages, 1))
    lines = [line for page in pages for line in page[:-1]]
    assert "Chain verification: w: 40 records, chain intact" in lines
    assert all(len(line) <= LINE_CHARS and line.isascii() for line in lines)
    for record in trail:
        at = lines.index(f"#{record['seq']}  {record['recorded_at']}  time_entry.logged")
        assert lines[at + 2 : at + 4] == [
            f"  prev_hash: {record['prev_hash']}",
            f"  hash:      {record['hash']}",
        ]
        body_lines = []
        for line in lines[at + 4 :]:
            if not line.startswith(BODY_PREFIX):
                break
            body_lines.append(line.removeprefix(BODY_PREFIX))
        shown = json.loads("".join(body_lines))  # the wrapped body joins back, unaltered
        assert shown["data"]["notes"] == "Zoë (naïve) \\ café ☕"
        body = {k: v for k, v in record.items() if k not in {"prev_hash", "hash"}}
        assert (
            chain_hash(record["prev_hash"], canonical(shown))
            == record["hash"]
            == chain_hash(record["prev_hash"], canonical(body))
        )
    assert lines[-1] == "40 records."


def test_a_broken_chain_and_no_records_still_make_a_document() -> None:
    verdict = "w: broken at record 3 (hash does not match the record's content); 3 checked"
    pages, info = parse(audit_pdf("w", {}, verdict, [], AT))
    assert len(pages) == 1
    assert info["Subject"] == "none (every record)"
    assert f"Chain verification: {verdict}" in pages[0]
    assert "0 records." in pages[0]
