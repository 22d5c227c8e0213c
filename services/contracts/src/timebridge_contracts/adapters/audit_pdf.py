"""The audit trail as a PDF, for a contract audit: the records a person reads and signs off.

A plain PDF 1.4 written here (no library: one standard font, text only), so every character
on a page is in the file as text and an auditor's tools can search and copy it. Each record
shows its sequence number, time, kind, what it is found by, both hashes and its canonical
body; the first page says whether the workspace's chain verified when the file was made (or
the first broken record). Non-ASCII characters of a body are shown as JSON ``\\uXXXX``
escapes (the standard fonts have no glyphs for them): the JSON is the same, the CSV export
carries the hashed text byte for byte.
"""

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from timebridge_contracts.domain.audit import canonical

PAGE_WIDTH, PAGE_HEIGHT = 842, 595  # A4 landscape, in points
MARGIN = 36
FONT_SIZE, LEADING = 7, 9
LINE_CHARS = int((PAGE_WIDTH - 2 * MARGIN) / (FONT_SIZE * 0.6))  # Courier is 0.6 em wide
LINES_PER_PAGE = (PAGE_HEIGHT - 2 * MARGIN) // LEADING - 2  # two lines kept for the footer
BODY_PREFIX = "  | "


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _wrap(text: str, prefix: str) -> list[str]:
    width = LINE_CHARS - len(prefix)
    return [prefix + text[i : i + width] for i in range(0, len(text), width)] or [prefix]


def record_lines(record: Mapping[str, Any]) -> list[str]:
    """One record as printed: its head, links, hashes and body (wrapped, never altered)."""
    body = {k: v for k, v in record.items() if k not in {"prev_hash", "hash"}}
    shown = json.dumps(json.loads(canonical(body)), sort_keys=True, separators=(",", ":"))
    links = (
        f"  entries: {' '.join(record['entry_ids']) or '-'}"
        f"  contracts: {' '.join(record['contract_ids']) or '-'}"
        f"  clients: {' '.join(record.get('client_ids', [])) or '-'}"
        f"  invoice: {record['invoice_id'] or '-'}  event: {record['event_id'] or '-'}"
    )
    head = [
        f"#{record['seq']}  {record['recorded_at']}  {record['kind']}",
        *_wrap(_ascii(links), ""),
        f"  prev_hash: {record['prev_hash']}",
        f"  hash:      {record['hash']}",
    ]
    return [_ascii(line) for line in head] + _wrap(shown, BODY_PREFIX) + [""]


def audit_pdf(
    workspace_id: str,
    filters: Mapping[str, str],
    chain: str,
    records: Iterable[Mapping[str, Any]],
    exported_at: dt.datetime,
) -> bytes:
    """The records as a PDF; ``chain`` is the verdict of verifying the workspace's chain."""
    title = f"Timebridge audit trail - workspace {workspace_id}"
    chosen = ", ".join(f"{k}={v}" for k, v in sorted(filters.items())) or "none (every record)"
    lines = [
        title,
        f"Filters: {chosen}",
        f"Exported at: {exported_at.astimezone(dt.UTC).isoformat()}",
        f"Chain verification: {chain}",
        "Each record's hash = sha256(prev_hash + newline + body), body = the record's canonical"
        " JSON (here with non-ASCII as \\uXXXX; the CSV export has the hashed text verbatim).",
        "",
    ]
    count = 0
    for record in records:
        lines.extend(record_lines(record))
        count += 1
    lines.append(f"{count} records.")
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    return _document(_ascii(title), _ascii(chosen), [[_ascii(x) for x in p] for p in pages])


def _text(value: str) -> bytes:
    escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("ascii") + b")"


def _document(title: str, subject: str, pages: list[list[str]]) -> bytes:
    count = len(pages)
    first_page = 5  # 1 catalog, 2 pages, 3 font, 4 info; then a page and its content each
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _text(title) + b" /Subject " + _text(subject)
        + b" /Producer (Timebridge contracts) >>",
    ]  # fmt: skip
    for number, lines in enumerate(pages, start=1):
        top = PAGE_HEIGHT - MARGIN - FONT_SIZE
        ops = [b"BT /F1 %d Tf %d TL %d %d Td" % (FONT_SIZE, LEADING, MARGIN, top)]
        ops += [_text(line) + b" Tj T*" for line in lines]
        ops.append(b"ET BT /F1 %d Tf %d %d Td" % (FONT_SIZE, MARGIN, MARGIN - FONT_SIZE))
        ops.append(_text(f"{title} - page {number} of {count}") + b" Tj ET")
        stream = b"\n".join(ops)
        content = first_page + 2 * (number - 1) + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d]" % (PAGE_WIDTH, PAGE_HEIGHT)
            + b" /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
