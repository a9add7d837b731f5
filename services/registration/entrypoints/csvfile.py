"""Reading a facilitator spreadsheet export (CSV) into rows, before anything is written.

Accepted: UTF-8 with or without a byte-order mark, ``,`` or ``;`` as separator (whichever the
header line uses more), quoted fields per RFC 4180, CRLF or LF line ends, blank lines ignored.
The header names the columns (case and surrounding spaces do not matter; spaces become ``_``).

A problem with the file as a whole (not text, not UTF-8, unbalanced quotes, unknown or missing
columns, too many rows) refuses the whole file: :class:`CsvFileError`. A problem with one row
(wrong number of fields, a value of the wrong shape) is that row's problem only.

:func:`import_command` turns an uploaded file into the command of the bulk import use case
(usecases.bulk): every row checked for shape with the same rules as the HTTP API and the intake
(entrypoints.schemas.ImportRow), before anything is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError

from services.registration.entrypoints.commands import new_facilitator
from services.registration.entrypoints.schemas import ImportRow
from services.registration.usecases.bulk import ImportFacilitators, ImportLine, RowProblem, UnreadableFile

MAX_ROWS = 5000
COLUMNS: tuple[str, ...] = (
    "nik",
    "full_name",
    "role",
    "speciality",
    "province_code",
    "kabkota_code",
    "effective_from",
    "phone",
)
REQUIRED: tuple[str, ...] = ("nik", "full_name", "role", "province_code", "kabkota_code")


class CsvFileError(Exception):
    """The file cannot be read as a facilitator CSV; nothing of it is imported."""

    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line


@dataclass(frozen=True)
class CsvRow:
    """One data row: ``row`` counts data rows from 1, ``line`` is its first line in the file."""

    row: int
    line: int
    fields: tuple[str, ...]
    values: dict[str, str] | None  # None when the row has the wrong number of fields

    @property
    def field_count(self) -> int:
        return len(self.fields)


@dataclass(frozen=True)
class CsvFile:
    delimiter: str
    columns: tuple[str, ...]
    rows: tuple[CsvRow, ...]


def _text(data: bytes) -> str:
    if b"\x00" in data:
        raise CsvFileError("not_text", "the file contains NUL bytes: it is not a CSV text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            "not_utf8", f"the file is not UTF-8 (line {line}); export it as 'CSV UTF-8' from the spreadsheet", line
        ) from None
    if not text.strip():
        raise CsvFileError("empty_file", "the file is empty")
    return text


def sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def normalise_column(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvFileError("malformed_csv", f"line {line}: {exc} (check for an unbalanced quote)", line) from None
        yield line, fields
        line = reader.line_num + 1


def parse_csv(data: bytes, *, max_rows: int = MAX_ROWS) -> CsvFile:
    text = _text(data)
    header_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = sniff_delimiter(header_line)
    records = _records(text, delimiter)
    header: list[str] | None = None
    rows: list[CsvRow] = []
    for line, fields in records:
        if not any(f.strip() for f in fields):
            continue
        if header is None:
            header = [normalise_column(f) for f in fields]
            _check_header(header)
            continue
        if len(rows) == max_rows:
            raise CsvFileError("too_many_rows", f"a file has at most {max_rows} rows; split it", line)
        values = dict(zip(header, fields, strict=True)) if len(fields) == len(header) else None
        rows.append(CsvRow(row=len(rows) + 1, line=line, fields=tuple(fields), values=values))
    if header is None:
        raise CsvFileError("empty_file", "the file has no header line")
    return CsvFile(delimiter, tuple(header), tuple(rows))


def _check_header(header: list[str]) -> None:
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise CsvFileError("duplicate_column", f"columns named twice: {', '.join(duplicates)}", 1)
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        shown = ", ".join(repr(c[:40]) for c in unknown[:10])
        raise CsvFileError("unknown_column", f"unknown column(s) {shown}; the columns are: {', '.join(COLUMNS)}", 1)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CsvFileError("missing_column", f"required column(s) missing: {', '.join(missing)}", 1)


def write_csv(columns: tuple[str, ...], rows: list[list[str]], delimiter: str = ",") -> str:
    """CSV text with a header (used to split a file into parts and by the demo)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


# -- the facilitator file as the bulk import's command -------------------------------------------


def validate_row(values: dict[str, str]) -> ImportRow | tuple[RowProblem, ...]:
    """The row as a validated ImportRow, or every problem found in it."""
    missing = [c for c in REQUIRED if not values.get(c, "").strip()]
    if missing:
        return tuple(RowProblem("missing_value", c, f"{c} is required") for c in missing)
    present = {k: v for k, v in values.items() if v.strip()}
    try:
        return ImportRow.model_validate(present)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:20]:
            loc = error.get("loc") or ()
            column = str(loc[0]) if loc and str(loc[0]) in values else None
            if column is None and "kabkota_code" in str(error.get("msg", "")):
                column = "kabkota_code"
            problems.append(RowProblem("invalid_value", column, str(error.get("msg", "invalid value"))[:300]))
        return tuple(problems)


def import_line(row: CsvRow, columns: int, region: str, default_effective_from: date) -> ImportLine:
    if row.values is None:
        problem = RowProblem(
            "wrong_column_count", None, f"the row has {row.field_count} fields; the header has {columns}"
        )
        return ImportLine(row.row, row.line, None, (problem,))
    checked = validate_row(row.values)
    if isinstance(checked, tuple):
        return ImportLine(row.row, row.line, None, checked)
    facilitator = new_facilitator(checked, region, default_effective_from)
    return ImportLine(row.row, row.line, facilitator)


def import_command(data: bytes, region: str, default_effective_from: date) -> ImportFacilitators:
    """The bulk import of ``data`` into ``region``; a file that cannot be read is handed over as
    such (the use case refuses it once the caller's access was checked)."""
    try:
        file = parse_csv(data)
    except CsvFileError as exc:
        return ImportFacilitators(region, unreadable=UnreadableFile(exc.code, exc.message, exc.line))
    lines = tuple(import_line(row, len(file.columns), region, default_effective_from) for row in file.rows)
    return ImportFacilitators(region, lines)
