"""Rendering a report as JSON, CSV, XLSX or PDF (with a chart).

All four render the same ``Report`` object, so their figures agree by construction; each states
the period, the freshness and what was excluded. Amounts stay exact: JSON and CSV carry Decimals
as strings, XLSX as numbers with a fixed format, PDF as text.
"""

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any, Literal

import matplotlib as mpl
import xlsxwriter  # type: ignore[import-untyped]
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from timebridge_reporting.domain.report_model import Report, Table, Value

mpl.use("Agg")  # headless; figures are built with the object API, never pyplot's global state

Format = Literal["json", "csv", "xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("json", "csv", "xlsx", "pdf")
MEDIA_TYPES: dict[Format, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _json_value(value: Value) -> Any:
    if isinstance(value, Decimal | dt.date):
        return _text(value)
    return value


def to_json(report: Report) -> dict[str, Any]:
    return {
        "kind": report.kind,
        "title": report.title,
        "workspace_id": report.workspace_id,
        "period": {"start": report.period.start.isoformat(), "end": report.period.end.isoformat()},
        "fresh_up_to": report.fresh_up_to.isoformat() if report.fresh_up_to else None,
        "excluded": report.excluded,
        "notes": report.notes,
        "tables": {
            t.name: {
                "rows": [{k: _json_value(v) for k, v in row.items()} for row in t.as_dicts()],
                "totals": None
                if t.totals is None
                else dict(zip(t.columns, map(_json_value, t.totals), strict=True)),
            }
            for t in report.tables
        },
    }


def _about(report: Report) -> list[tuple[str, str]]:
    fresh = report.fresh_up_to.isoformat() if report.fresh_up_to else "no events seen yet"
    excluded = ", ".join(f"{k}={v}" for k, v in sorted(report.excluded.items())) or "nothing"
    return [
        ("report", report.title),
        ("workspace", report.workspace_id),
        ("period", report.period.label()),
        ("fresh up to", fresh),
        ("excluded", excluded),
        *(("note", n) for n in report.notes),
    ]


def to_csv(report: Report) -> bytes:
    """The about lines, then each table (name line, header, rows, totals), blank-line separated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(_about(report))
    for table in report.tables:
        writer.writerow([])
        writer.writerow([f"# {table.name}"])
        writer.writerow(table.columns)
        writer.writerows([_text(v) for v in row] for row in table.rows)
        if table.totals is not None:
            writer.writerow([_text(v) for v in table.totals])
    return out.getvalue().encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    """An "About" sheet, then a sheet per table with its totals row in bold."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    number = book.add_format({"num_format": "0.00##"})
    about = book.add_worksheet("About")
    for r, (key, line) in enumerate(_about(report)):
        about.write_string(r, 0, key, bold)
        about.write_string(r, 1, line)
    about.set_column(0, 0, 14)
    about.set_column(1, 1, 60)
    for table in report.tables:
        sheet = book.add_worksheet(table.name[:31])
        for c, name in enumerate(table.columns):
            sheet.write_string(0, c, name, bold)
        rows = [*table.rows, *([table.totals] if table.totals is not None else [])]
        for r, row in enumerate(rows, start=1):
            style = bold if table.totals is not None and r == len(rows) else None
            for c, value in enumerate(row):
                _cell(
                    sheet, (r, c), value, style or (number if isinstance(value, Decimal) else None)
                )
        sheet.set_column(0, len(table.columns) - 1, 16)
    book.close()
    return buffer.getvalue()


def _cell(sheet: Any, at: tuple[int, int], value: Value, style: Any) -> None:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        sheet.write_number(*at, float(value) if isinstance(value, Decimal) else value, style)
    else:
        sheet.write_string(*at, _text(value), style)


def _totals_line(table: Table) -> str:
    if table.totals is None:
        return f"{table.name}: {len(table.rows)} rows"
    pairs = zip(table.columns, table.totals, strict=True)
    parts = [f"{k}={_text(v)}" for k, v in pairs if v is not None]
    return f"{table.name}: " + ", ".join(parts[1:])


def to_pdf(report: Report) -> bytes:
    """Page 1: the about lines, totals and the chart; then the tables, 30 rows a page.

    The document's Subject carries the first table's totals, so a reader (or a test) can check
    them without text extraction.
    """
    buffer = io.BytesIO()
    subject = _totals_line(report.tables[0]) if report.tables else report.title
    with PdfPages(buffer, metadata={"Title": report.title, "Subject": subject}) as pdf:
        first = Figure(figsize=(8.27, 11.69))
        lines = [f"{k}: {v}" for k, v in _about(report)] + [_totals_line(t) for t in report.tables]
        first.text(
            0.06, 0.97, "\n".join(lines), va="top", family="monospace", fontsize=7, wrap=True
        )
        if report.chart is not None and report.chart.labels:
            axes = first.add_axes((0.12, 0.08, 0.82, 0.5))
            bottom = [0.0] * len(report.chart.labels)
            for name, values in report.chart.series.items():
                heights = [v / 3600 for v in values]
                axes.bar(report.chart.labels, heights, bottom=bottom, label=name)
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
            axes.set_title(report.chart.title)
            axes.set_ylabel("hours")
            axes.legend()
            axes.tick_params(axis="x", labelrotation=30, labelsize=7)
        pdf.savefig(first)
        for table in report.tables:
            rows = [[_text(v) for v in row] for row in table.rows]
            if table.totals is not None:
                rows.append([_text(v) for v in table.totals])
            for start in range(0, max(len(rows), 1), 30):
                page = Figure(figsize=(11.69, 8.27))
                axes = page.add_axes((0.02, 0.02, 0.96, 0.9))
                axes.axis("off")
                axes.set_title(f"{report.title}: {table.name}", fontsize=9)
                chunk = rows[start : start + 30] or [[""] * len(table.columns)]
                grid = axes.table(cellText=chunk, colLabels=list(table.columns), loc="upper left")
                grid.auto_set_font_size(False)
                grid.set_fontsize(6)
                pdf.savefig(page)
    return buffer.getvalue()


def render(report: Report, fmt: Format) -> bytes:
    if fmt == "csv":
        return to_csv(report)
    if fmt == "xlsx":
        return to_xlsx(report)
    if fmt == "pdf":
        return to_pdf(report)
    return json.dumps(to_json(report)).encode("utf-8")
