"""Reading spreadsheet exports: encodings, separators, quoting, and refusals of the whole file."""

from __future__ import annotations

import pytest

from services.registration.entrypoints.csvfile import (
    MAX_ROWS,
    CsvFileError,
    parse_csv,
    sniff_delimiter,
    validate_row,
    write_csv,
)
from services.registration.usecases.bulk import RowProblem

HEADER = "nik,full_name,role,province_code,kabkota_code\n"
ROW = "1671010101900001,Siti Aminah,fasilitator,16,16.71\n"


def test_utf8_with_bom_semicolons_crlf_and_any_script_are_read_intact() -> None:
    data = (
        "\ufeffNIK ; Full Name;ROLE;province_code;Kabkota-Code\r\n"
        '1671010101900001;"李华; Ṣāliḥ";fasilitator;16;16.71\r\n'
        "\r\n"
        '1671010101900002;"Dédé ""Ucok"" Suryana";askot;16;16.72\r\n'
    ).encode()
    parsed = parse_csv(data)
    assert parsed.delimiter == ";"
    assert parsed.columns == ("nik", "full_name", "role", "province_code", "kabkota_code")
    assert [r.values["full_name"] for r in parsed.rows if r.values] == ["李华; Ṣāliḥ", 'Dédé "Ucok" Suryana']
    assert [(r.row, r.line) for r in parsed.rows] == [(1, 2), (2, 4)]


def test_quoted_line_breaks_keep_line_numbers_right() -> None:
    parsed = parse_csv((HEADER + '1671010101900001,"Siti\nAminah",fasilitator,16,16.71\n' + ROW).encode())
    assert [(r.row, r.line) for r in parsed.rows] == [(1, 2), (2, 4)]


def test_a_row_with_the_wrong_number_of_fields_is_that_rows_problem_only() -> None:
    parsed = parse_csv((HEADER + "1671010101900001,Siti\n" + ROW).encode())
    assert (parsed.rows[0].values, parsed.rows[0].field_count) == (None, 2)
    assert parsed.rows[1].values is not None


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        (HEADER.encode() + b'1671,"Siti,fasilitator,16,16.71\n', "malformed_csv", 2),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not_text", None),
        ((HEADER + "1,Dédé,fasilitator,16,16.71\n").encode("latin-1"), "not_utf8", 2),
        (b"", "empty_file", None),
        (b"\n\n  \n", "empty_file", None),
        (b"nik,nama,role,province_code,kabkota_code\n", "unknown_column", 1),
        (b"nik,full_name,role\n", "missing_column", 1),
        (b"nik,nik,full_name,role,province_code,kabkota_code\n", "duplicate_column", 1),
        ((HEADER + ROW * (MAX_ROWS + 1)).encode(), "too_many_rows", MAX_ROWS + 2),
    ],
)
def test_files_that_cannot_be_read_are_refused_whole(data: bytes, code: str, line: int | None) -> None:
    with pytest.raises(CsvFileError) as info:
        parse_csv(data)
    assert (info.value.code, info.value.line) == (code, line)


def test_the_separator_is_the_one_the_header_uses_more() -> None:
    assert sniff_delimiter("nik;full_name;role") == ";"
    assert sniff_delimiter("nik,full_name,role") == ","
    assert sniff_delimiter("nik") == ","


def test_written_csv_reads_back_the_same() -> None:
    rows = [["1671010101900001", 'Dédé "Ucok", S.T.', "fasilitator", "16", "16.71"]]
    parsed = parse_csv(write_csv(("nik", "full_name", "role", "province_code", "kabkota_code"), rows, ";").encode())
    assert parsed.rows[0].fields == tuple(rows[0])


def row(**changes: str) -> dict[str, str]:
    base = {
        "nik": "1671010101900001",
        "full_name": "Siti Aminah",
        "role": "fasilitator",
        "speciality": "",
        "province_code": "16",
        "kabkota_code": "16.71",
        "effective_from": "",
        "phone": "",
    }
    return {**base, **changes}


def test_row_problems_name_the_column_and_never_echo_the_value() -> None:
    assert validate_row(row(full_name="  ")) == (RowProblem("missing_value", "full_name", "full_name is required"),)
    problems = validate_row(row(nik="12ab", role="boss", full_name="Casino & Spa"))
    assert isinstance(problems, tuple)
    assert {(p.reason, p.column) for p in problems} == {
        ("invalid_value", "nik"),
        ("invalid_value", "role"),
        ("invalid_value", "full_name"),
    }
    assert all("Casino" not in p.message and "12ab" not in p.message for p in problems)
    problems = validate_row(row(kabkota_code="17.71"))
    assert isinstance(problems, tuple)
    assert problems[0].column == "kabkota_code"
    ok = validate_row(row(speciality="teknik", phone="0812 3456 7890", effective_from="2016-07-01"))
    assert not isinstance(ok, tuple)
    assert (ok.phone, str(ok.effective_from), ok.speciality) == ("+6281234567890", "2016-07-01", "teknik")
