"""CSV and XLSX renderings of report tables.

Given the reader's language (``lang``), the header row and the sheet names are the tables' and
columns' names in it (``labels.py``); without one they are the JSON field and table names. Cells
are values as they are: numbers stay numbers (a spreadsheet shows them in its reader's format) and
codes stay codes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from services.reporting.entrypoints.labels import column, table_name
from shared.kernel.i18n import Language

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


def _header(columns: Sequence[str], lang: Language | None) -> list[str]:
    return list(columns) if lang is None else [column(lang, c) for c in columns]


def to_csv(table: Table, lang: Language | None = None) -> bytes:
    columns, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_header(columns, lang))
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


def to_xlsx(tables: Mapping[str, Table], meta: Sequence[tuple[str, str]] = (), lang: Language | None = None) -> bytes:
    """One sheet per table (header row bold and frozen), plus an ``about`` sheet with ``meta``."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    used: set[str] = set()
    for name, (columns, rows) in tables.items():
        sheet = book.add_worksheet(_sheet_name(name if lang is None else table_name(lang, name), used))
        header = _header(columns, lang)
        sheet.write_row(0, 0, header, bold)
        sheet.freeze_panes(1, 0)
        widths = [len(c) for c in header]
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
        about = book.add_worksheet(_sheet_name("about" if lang is None else table_name(lang, "about"), used))
        for i, (key, value) in enumerate(meta):
            about.write_string(i, 0, key, bold)
            about.write_string(i, 1, value)
        about.set_column(0, 1, 40)
    book.close()
    return buffer.getvalue()
