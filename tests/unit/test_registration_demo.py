"""The South Sumatra demo as a spreadsheet export."""

from __future__ import annotations

from collections import Counter

from demo import south_sumatra
from demo.registration import demo_csv
from services.registration.domain.facilitators import check_speciality
from services.registration.entrypoints.csvfile import parse_csv, validate_row
from shared.kernel.contracts import Role, Speciality


def test_the_demo_file_has_the_242_people_of_the_scenario_every_row_valid() -> None:
    text = demo_csv()
    assert text == demo_csv()  # deterministic
    parsed = parse_csv(text.encode())
    assert len(parsed.rows) == 242
    people = south_sumatra.facilitators()
    for row, person in zip(parsed.rows, people, strict=True):
        assert row.values is not None
        checked = validate_row(row.values)
        assert not isinstance(checked, tuple), (row.row, checked)
        assert (checked.nik, checked.full_name, checked.role.value) == (person.nik, person.full_name, person.role)
        check_speciality(checked.role, checked.speciality)
    roles = Counter((r.values or {})["role"] for r in parsed.rows)
    assert roles["askot"] == 14
    specialities = Counter(
        (r.values or {})["speciality"] for r in parsed.rows if (r.values or {})["role"] == "fasilitator"
    )
    assert set(specialities) == {Speciality.TEKNIK, Speciality.SOSIAL, Speciality.EKONOMI}
    assert all(
        (r.values or {})["speciality"] == "" for r in parsed.rows if (r.values or {})["role"] == Role.SENIOR_FASILITATOR
    )
