"""Readers of rendered reports, for tests that compare attachments with the API's JSON.

Deliberately independent of the writers: CSV through ``csv``, XLSX by reading the OOXML parts
(no spreadsheet library), PDF by its document information dictionary and page count.
"""

import csv
import datetime as dt
import io
import re
import zipfile
from xml.etree import ElementTree as ET

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
}


def csv_tables(data: bytes) -> dict[str, list[list[str]]]:
    """Each ``# name`` section of the CSV as rows (header first); ``about`` holds the preamble."""
    tables: dict[str, list[list[str]]] = {"about": []}
    current = "about"
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        if not row:
            continue
        if len(row) == 1 and row[0].startswith("# "):
            current = row[0][2:]
            tables[current] = []
            continue
        tables[current].append(row)
    return tables


def xlsx_sheets(data: bytes) -> dict[str, list[list[str]]]:
    """Every sheet's cells as text rows (numbers as written, strings resolved)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in z.namelist():
            root = ET.fromstring(z.read("xl/sharedStrings.xml"))  # noqa: S314 - our own output
            shared = ["".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")) for si in root]
        book = ET.fromstring(z.read("xl/workbook.xml"))  # noqa: S314
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
        targets = {r.get("Id"): r.get("Target") for r in rels}
        sheets: dict[str, list[list[str]]] = {}
        for sheet in book.iter(f"{{{_NS['m']}}}sheet"):
            rid = sheet.get(f"{{{_NS['r']}}}id")
            xml = ET.fromstring(z.read(f"xl/{targets[rid]}"))  # noqa: S314
            rows: list[list[str]] = []
            for row in xml.iter(f"{{{_NS['m']}}}row"):
                cells: dict[int, str] = {}
                for cell in row.iter(f"{{{_NS['m']}}}c"):
                    column = _column(cell.get("r", "A1"))
                    value = cell.find("m:v", _NS)
                    text = "" if value is None else value.text or ""
                    cells[column] = shared[int(text)] if cell.get("t") == "s" else text
                rows.append([cells.get(i, "") for i in range(max(cells, default=-1) + 1)])
            sheets[sheet.get("name", "")] = rows
        return sheets


def _column(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref)
    n = 0
    for ch in letters.group(0) if letters else "A":
        n = n * 26 + ord(ch) - 64
    return n - 1


def pdf_info(data: bytes) -> dict[str, str | int]:
    """The PDF's Title, Subject and page count."""
    if not data.startswith(b"%PDF-"):
        raise ValueError("not a PDF")
    info: dict[str, str | int] = {"pages": len(re.findall(rb"/Type\s*/Page\b", data))}
    for key in ("Title", "Subject"):
        found = re.search(rb"/" + key.encode() + rb"\s*\(((?:\\.|[^\\)])*)\)", data)
        if found:
            info[key] = re.sub(rb"\\(.)", rb"\1", found.group(1)).decode("latin-1")
    return info


class FakeClock:
    """Injected time: tests move it instead of waiting."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, now: dt.datetime) -> None:
        self.now = now
