"""CSV and XLSX renderings of report tables."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

Table = tuple[list[str], list[dict[str, Any]]]

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value


def _safe_text(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to a spreadsheet: keep text as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(table: Table) -> bytes:
    columns, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_safe_text(_cell(row.get(c))) for c in columns])
    return out.getvalue().encode("utf-8")


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
    candidate, n = base, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{base[: 31 - len(str(n)) - 1]}_{n}"
    used.add(candidate.lower())
    return candidate


def to_xlsx(tables: Mapping[str, Table], meta: Sequence[tuple[str, str]] = ()) -> bytes:
    """One sheet per table (header row bold and frozen), plus an ``about`` sheet with ``meta``."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    used: set[str] = set()
    for name, (columns, rows) in tables.items():
        sheet = book.add_worksheet(_sheet_name(name, used))
        sheet.write_row(0, 0, columns, bold)
        sheet.freeze_panes(1, 0)
        widths = [len(c) for c in columns]
        for i, row in enumerate(rows, 1):
            values = [_cell(row.get(c)) for c in columns]
            for j, value in enumerate(values):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    sheet.write_string(i, j, str(value))
                else:
                    sheet.write_number(i, j, value)
                widths[j] = min(60, max(widths[j], len(str(value))))
        for j, width in enumerate(widths):
            sheet.set_column(j, j, width + 2)
        if columns:
            sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
    if meta:
        about = book.add_worksheet(_sheet_name("about", used))
        for i, (key, value) in enumerate(meta):
            about.write_string(i, 0, key, bold)
            about.write_string(i, 1, value)
        about.set_column(0, 1, 40)
    book.close()
    return buffer.getvalue()
